"""Running a trainer: resume from the newest checkpoint a killed attempt left, report what the run reached, save
the model so any later stage can load it."""

from __future__ import annotations

from pathlib import Path

from align.errors import AlignError
from align.runtime.distributed import is_node_main, nodes, rank
from align.training.callbacks import NOT_METRICS, is_summary
from align.training.checkpoints import last_checkpoint


def run_trainer(trainer, work_dir: Path) -> dict:
    """Train, resuming from the newest checkpoint a killed attempt left.

    Returns summary metrics that are the same whether or not the run was interrupted: the last
    logged value of each training metric (HF's own `train_loss` averages only the resumed part)."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our rich bar and metric log replace its dict prints
    # Several nodes start over: only node 0 holds checkpoints, and every node must resume from the same step.
    trainer.train(resume_from_checkpoint=last_checkpoint(Path(work_dir)) if nodes() == 1 else None)
    last = {}
    for entry in trainer.state.log_history:
        if is_summary(entry):  # the end-of-training summary, not a step's log
            if "train/loss" not in last and "train_loss" in entry:
                last["train/loss"] = float(entry["train_loss"])  # no step was logged: the run's mean
            continue
        for name, value in entry.items():
            if (
                isinstance(value, (int, float)) and name not in NOT_METRICS and not name.endswith("_per_second")
            ):  # a session's speed would differ after a resume
                last[f"train/{name.removeprefix('train_')}"] = float(value)
    last["train/steps"] = trainer.state.global_step
    if trainer.is_deepspeed_enabled:  # what actually ran, for the record (and for the tests to check)
        last["train/zero_stage"] = float(trainer.accelerator.state.deepspeed_plugin.zero_stage)
    if trainer.state.num_input_tokens_seen:  # kept in trainer_state.json, so a resumed run counts it all
        last["train/tokens_seen"] = float(trainer.state.num_input_tokens_seen)
    return last


def save_policy(model, tokenizer, path: Path) -> None:
    """Save a full HF model dir (safetensors); LoRA adapters are merged so any stage can load it.
    Under torchrun only each node's local rank 0 writes (its copy, into that node's run dir)."""
    if not is_node_main():
        return
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if rank() != 0:  # transformers writes only on global rank 0 once a process group exists; this node needs its copy
        model.should_save_on_this_rank = lambda is_main_process: is_main_process
    model.save_pretrained(str(path), safe_serialization=True)
    tokenizer.save_pretrained(str(path))


def shared_dataset(records: list[dict], folder: Path, args):
    """A datasets.Dataset saved in `folder` and opened from there by every rank of this node. TRL caches derived
    columns (DPO's precomputed reference log-probs) beside a dataset's files; a Dataset built in memory keeps
    them in a per-process temp dir, where the other ranks cannot find rank 0's file."""
    from datasets import Dataset, load_from_disk

    with args.main_process_first(desc="align dataset"):
        if not (folder / "dataset_info.json").exists():
            Dataset.from_list(records).save_to_disk(str(folder))
        return load_from_disk(str(folder))


def steps_for_tokens(lengths: list[int], tokens: int, batch: int) -> int:
    """Optimizer steps that feed about `tokens` input tokens when each step draws `batch` rows of these lengths:
    a token budget (the same for students trained on rows of different lengths) as a step count, so each run
    still gets a whole learning-rate schedule."""
    if not lengths:
        raise AlignError("a token budget needs at least one training row")
    per_step = batch * sum(lengths) / len(lengths)
    return max(1, round(tokens / per_step))
