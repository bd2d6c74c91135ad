"""`sft`: supervised fine-tuning with TRL's SFTTrainer; loss on completion/assistant tokens only.

Data: TRL's `messages` or `prompt`/`completion` (see align.data). Multi-turn `messages` use
`assistant_only_loss` when the chat template marks assistant turns with `{% generation %}`; otherwise
each conversation is split into prompt (everything before the last assistant turn) and completion.
Assumes the data fits in memory. Checkpoints every `save_steps`; a killed run resumes from the last one.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field

from align.data.rows import prompt_completion
from align.loading.datasets import load_dataset
from align.loading.models import load_causal_lm, load_tokenizer
from align.stages.base import StageContext, StageResult, TrainingConfig, dataset_field
from align.loading.digests import weights_digest
from align.runtime.threads import configure_threads
from align.training.args import trainer_config
from align.training.callbacks import callbacks
from align.training.run import run_trainer, save_policy, steps_for_tokens


class Config(TrainingConfig):
    data: str = dataset_field("sft", "SFT dataset: JSONL, HF dataset dir, hub id or world:<name>")
    learning_rate: float = Field(2e-4, gt=0)


def training_rows(rows: list[dict], tokenizer) -> tuple[list[dict], bool]:
    """Rows in one TRL format, and whether to use assistant-only loss (messages + generation tags); `text` rows
    (language modelling: loss on every token) pass through as they are."""
    if all("text" in r for r in rows):
        return [{"text": r["text"]} for r in rows], False
    template = tokenizer.chat_template or ""
    if all("messages" in r for r in rows) and "generation" in template:
        return [{"messages": r["messages"]} for r in rows], True
    return [prompt_completion(r) for r in rows], False


def fine_tune(model, tokenizer, rows: list[dict], config: TrainingConfig, ctx: StageContext,
              description: str = "sft", max_tokens: int | None = None):
    """Run SFTTrainer on rows; shared by `sft`, `pretrain` and `align world build`. `max_tokens`: train on about
    that many input tokens, the step count derived from the prepared (tokenised, truncated, packed) rows."""
    from datasets import Dataset
    from trl import SFTTrainer

    configure_threads()
    records, assistant_only = training_rows(rows, tokenizer)
    args = trainer_args(config, ctx.work_dir / "checkpoints", ctx.seed, assistant_only)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(records),
                         processing_class=tokenizer, peft_config=config.peft(),
                         callbacks=callbacks(ctx.log, description))
    if max_tokens:
        batch = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        lengths = [len(ids) for ids in trainer.train_dataset["input_ids"]]
        trainer.args.max_steps = steps_for_tokens(lengths, max_tokens, batch)
    final = run_trainer(trainer, ctx.work_dir / "checkpoints")
    return trainer, final


def trainer_args(config: TrainingConfig, output_dir: Path, seed: int, assistant_only: bool = False):
    from trl import SFTConfig

    return trainer_config(SFTConfig, output_dir, seed=seed, max_length=config.max_length,
                          assistant_only_loss=assistant_only, include_num_input_tokens_seen="non_padding",
                          **config.trainer_kwargs())


def check(config: Config) -> None:
    """The `trainer:` fields make a valid SFTConfig."""
    trainer_args(config, Path("checks"), 0)


def train_and_save(rows: list[dict], config: TrainingConfig, ctx: StageContext,
                   description: str = "sft") -> StageResult:
    """Load `config.model`, fine-tune it on rows, save it to `ctx.out_dir/model`."""
    tokenizer = load_tokenizer(config.model, padding_side="right")
    model = load_causal_lm(config.model, dtype=config.dtype)
    start_weights = weights_digest(model)  # lets a run prove where training started (ReST-EM: the base)
    trainer, final = fine_tune(model, tokenizer, rows, config, ctx, description)
    save_policy(trainer.model, tokenizer, ctx.out_dir / "model")
    return StageResult(outputs={"model": "model"}, values={"start_weights": start_weights},
                       metrics={**final, "train/examples": len(rows)}, key_metrics=["train/loss"])


def run(config: Config, ctx: StageContext) -> StageResult:
    return train_and_save(load_dataset(config.data, "sft", limit=config.limit), config, ctx)
