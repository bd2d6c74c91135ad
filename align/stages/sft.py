"""`sft`: supervised fine-tuning with TRL's SFTTrainer; loss on completion/assistant tokens only.

Data: TRL's `messages` or `prompt`/`completion` (see `align.data.formats`). Multi-turn `messages` use
`assistant_only_loss` when the chat template marks assistant turns with `{% generation %}`; otherwise
each conversation is split into prompt (everything before the last assistant turn) and completion.
Assumes the data fits in memory. Checkpoints every `save_steps`; a killed run resumes from the last one.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from align.loading.datasets import load_dataset
from align.stages import trainer
from align.stages.base import StageContext, StageResult
from align.stages.config import TrainingConfig, dataset_field
from align.training.args import trainer_config
from align.training.callbacks import callbacks
from align.training.sft import sft_trainer, training_rows


class Config(TrainingConfig):
    data: str = dataset_field("sft", "SFT dataset: JSONL, HF dataset dir, hub id or world:<name>", read_by=("model",))
    learning_rate: float = Field(2e-4, gt=0, description="peak learning rate")

    def trainer_args(self, output_dir: Path, seed: int, assistant_only: bool = False):
        return sft_args(self, output_dir, seed, assistant_only)


def sft_args(config: TrainingConfig, output_dir: Path, seed: int, assistant_only: bool = False):
    """TRL's SFTConfig from any training config (`pretrain` and the world's builders train through it too)."""
    from trl import SFTConfig

    method = {"max_length": config.max_length, "assistant_only_loss": assistant_only}
    return trainer_config(SFTConfig, output_dir, seed, config, include_num_input_tokens_seen="non_padding", **method)


def build_trainer(
    config: TrainingConfig,
    ctx: StageContext,
    rows: list[dict],
    model,
    tokenizer,
    description: str = "sft",
    max_tokens: int | None = None,
):
    """SFTTrainer on `rows` for `model`, checkpointing into the stage's work dir."""
    records, assistant_only = training_rows(rows, tokenizer)
    args = sft_args(config, ctx.work_dir / "checkpoints", ctx.seed, assistant_only)
    return sft_trainer(model, tokenizer, records, args, config.peft(), callbacks(ctx.log, description), max_tokens)


def fine_tune(rows: list[dict], config: TrainingConfig, ctx: StageContext, description: str = "sft") -> StageResult:
    """`config.model` fine-tuned on `rows` through the training skeleton; the model lands in `ctx.out_dir/model`."""
    return trainer.train(
        config, ctx, rows, lambda model, tokenizer, fit: build_trainer(config, ctx, fit, model, tokenizer, description)
    )


check = trainer.check


def run(config: Config, ctx: StageContext) -> StageResult:
    return fine_tune(load_dataset(config.data, "sft", limit=config.limit), config, ctx)


outputs = trainer.outputs
