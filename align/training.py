"""Shared glue for every TRL trainer: CPU-safe defaults, checkpoint resume, metric forwarding.

TRL's configs default to bf16 and gradient checkpointing, which fail or crawl on CPU; every training
stage builds its config here so those choices are made once.
"""
from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import Callable


import torch
from transformers import TrainerCallback

with contextlib.redirect_stdout(io.StringIO()):  # it prints "[INFO] Running in WANDB offline mode" on import
    import transformers.integrations.integration_utils  # noqa: F401

from align.checkpoints import last_checkpoint
from align.distributed import is_node_main, nodes, rank
from align.errors import AlignError
from align.progress import track


# We pass gradient_checkpointing=False deliberately (TRL defaults it on); the rename warning is noise.
warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)


def configure_threads() -> None:
    """Torch on a small box: one thread per core, shared among the processes of a torchrun stage, and passive
    waiting (oversubscription costs ~80x)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cores = int(os.environ.get("ALIGN_NUM_THREADS", os.cpu_count() or 1))
    wanted = max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


# Fields align sets from its own config keys: a `trainer:` mapping may not set them (name the align key instead).
OWNED = {"output_dir": None, "seed": "seed", "data_seed": "seed", "learning_rate": "learning_rate",
         "num_train_epochs": "epochs", "max_steps": "max_steps", "per_device_train_batch_size": "batch_size",
         "gradient_accumulation_steps": "grad_accum", "warmup_steps": "warmup", "lr_scheduler_type": "lr_scheduler",
         "weight_decay": "weight_decay", "logging_steps": "logging_steps", "save_steps": "save_steps",
         "deepspeed": "deepspeed", "report_to": None, "disable_tqdm": None, "save_strategy": None}


def trainer_config(config_cls, output_dir: Path, *, seed: int, learning_rate: float, epochs: float,
                   batch_size: int, max_steps: int = -1, grad_accum: int = 1, save_steps: int = 50,
                   warmup_ratio: float = 0.0, lr_scheduler: str = "cosine", weight_decay: float = 0.0,
                   logging_steps: int = 10, deepspeed: str | None = None, extra: dict | None = None,
                   **method_args):
    """A TRL `*Config` with the defaults this toolkit wants on any hardware, plus the user's `trainer:` fields.

    `extra` may override the hardware defaults below (bf16, gradient_checkpointing, save_total_limit, ...) but
    not what align sets from its own keys; an unknown field is an AlignError naming it."""
    cuda = torch.cuda.is_available()
    kwargs = dict(
        output_dir=str(output_dir), seed=seed, data_seed=seed, learning_rate=learning_rate,
        num_train_epochs=epochs, max_steps=max_steps, per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum, warmup_steps=warmup_ratio, lr_scheduler_type=lr_scheduler,
        weight_decay=weight_decay, logging_steps=logging_steps, save_strategy="steps", save_steps=save_steps,
        save_total_limit=1, report_to="none", disable_tqdm=True,
        bf16=cuda and torch.cuda.is_bf16_supported(), use_cpu=not cuda, gradient_checkpointing=False,
        ddp_find_unused_parameters=False, dataloader_num_workers=0, deepspeed=deepspeed, **method_args)
    for key, value in (extra or {}).items():
        if key in OWNED or key in method_args:
            owner = OWNED.get(key) or (key if key in method_args else None)
            hint = f"set `{owner}` in the stage instead" if owner else "align sets it"
            raise AlignError(f"trainer.{key}: {hint}")
        kwargs[key] = value
    try:
        return config_cls(**kwargs)
    except TypeError as exc:  # an unknown field
        unknown = sorted(set(extra or {}) - set(config_cls.__dataclass_fields__))
        raise AlignError(f"trainer: {config_cls.__name__} has no field(s) {unknown}" if unknown else
                         f"{config_cls.__name__}: {exc}") from None
    except ValueError as exc:  # a field of the right name with a bad value
        raise AlignError(f"{config_cls.__name__}: {exc}") from None


# Log fields that are no training metric: bookkeeping, and the session's clock (token counting adds it to every log).
NOT_METRICS = ("epoch", "step", "total_flos", "train_runtime")


def is_summary(logs: dict) -> bool:
    """The trainer's end-of-training summary (`train_loss`: the run's mean) or an evaluate() call. Not a step's
    log, even when token counting adds the session's `train_runtime` and tokens/s to every step's log."""
    return "train_loss" in logs or "eval_runtime" in logs


class MetricsCallback(TrainerCallback):
    """Forwards the trainer's logs (loss, lr, ...) to the run's metric log as `train/<name>`, all metrics of
    one optimizer step in one call, at that step."""

    def __init__(self, log: Callable[[dict, int | None], None]):
        self.log = log

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or (logs and is_summary(logs)):
            return  # end-of-training summary (averages) or an evaluate() call: the stage reports those itself
        step_metrics = {}
        for name, value in (logs or {}).items():
            if isinstance(value, (int, float)) and name not in NOT_METRICS:
                key = name if name.startswith(("train/", "eval/")) else f"train/{name.removeprefix('train_')}"
                step_metrics[key] = float(value)
        if step_metrics:
            self.log(step_metrics, state.global_step)


class ProgressCallback(TrainerCallback):
    """A rich bar over optimizer steps (the trainer's own tqdm bar is turned off)."""

    def __init__(self, description: str):
        self.description = description
        self._context = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self._context = track(self.description, state.max_steps)
        self._advance = self._context.__enter__()
        self._advance(state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self._context is not None:
            self._advance(1)

    def on_train_end(self, args, state, control, **kwargs):
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None


def weights_digest(model, full_limit: int = 50_000_000) -> str:
    """A short fingerprint of a model's weights (all of them when small, first/last tensors when big).

    Recorded by training stages at step 0, so a run can show which weights training started from."""
    import hashlib

    params = list(model.state_dict().items())
    if sum(t.numel() for _, t in params) > full_limit:
        params = params[:3] + params[-3:]
    h = hashlib.sha256()
    for name, tensor in params:
        h.update(name.encode())
        h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


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
            if (isinstance(value, (int, float)) and name not in NOT_METRICS
                    and not name.endswith("_per_second")):  # a session's speed would differ after a resume
                last[f"train/{name.removeprefix('train_')}"] = float(value)
    last["train/steps"] = trainer.state.global_step
    if trainer.is_deepspeed_enabled:  # what actually ran, for the record (and for the tests to check)
        last["train/zero_stage"] = float(trainer.accelerator.state.deepspeed_plugin.zero_stage)
    if trainer.state.num_input_tokens_seen:  # kept in trainer_state.json, so a resumed run counts it all
        last["train/tokens_seen"] = float(trainer.state.num_input_tokens_seen)
    return last


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


def callbacks(log: Callable[[dict, int | None], None], description: str) -> list:
    """What every training stage attaches: metrics to the run log, and a rich progress bar."""
    return [MetricsCallback(log), ProgressCallback(description)]
