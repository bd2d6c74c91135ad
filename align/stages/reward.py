"""`reward`: a Bradley-Terry reward model trained with TRL's RewardTrainer on preference pairs.

L = -log sigmoid(r(x, y_chosen) - r(x, y_rejected) [- margin]); a `margin` column, when present, is used
by TRL. A seeded `eval_fraction` of the pairs is held out; `rm/pair_accuracy` (chosen scored above rejected)
is the trainer's own evaluation on it, so it reads the pairs exactly as training did (TRL drops pairs
longer than `max_length` there too). The model is the policy's backbone with a fresh one-logit head.
"""

from __future__ import annotations

import random
from pathlib import Path

from pydantic import Field

from align.loading.datasets import load_dataset
from align.loading.models import load_tokenizer, locate_model, pick_dtype
from align.stages import trainer
from align.stages.base import StageContext, StageResult
from align.stages.config import TrainingConfig, dataset_field
from align.training.args import trainer_config
from align.training.callbacks import callbacks


class Config(TrainingConfig):
    data: str = dataset_field("preference", "preference pairs: prompt/chosen/rejected", read_by=("model",))
    eval_fraction: float = Field(0.1, gt=0, lt=1, description="pairs held out for rm/pair_accuracy")
    center_rewards_coefficient: float | None = Field(None, description="TRL's reward-centering penalty")
    learning_rate: float = Field(1e-4, gt=0, description="peak learning rate")

    def trainer_args(self, output_dir: Path, seed: int):
        from trl import RewardConfig

        method = {"max_length": self.max_length, "center_rewards_coefficient": self.center_rewards_coefficient}
        return trainer_config(
            RewardConfig, output_dir, seed, self, per_device_eval_batch_size=self.batch_size, **method
        )


check = trainer.check


def split(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    cut = max(1, round(len(rows) * fraction))
    if cut >= len(rows):
        raise ValueError(f"{len(rows)} preference pairs are too few to hold out {fraction:.0%} for evaluation")
    return [rows[i] for i in order[cut:]], [rows[i] for i in order[:cut]]


def load_reward_model(config: Config, ctx: StageContext):
    """The policy's backbone with a fresh one-logit head (seeded by the stage seed), and its tokenizer."""
    from transformers import AutoModelForSequenceClassification

    tokenizer = load_tokenizer(config.model, padding_side="right")
    model = AutoModelForSequenceClassification.from_pretrained(
        locate_model(config.model), num_labels=1, dtype=pick_dtype(config.dtype)
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def held_out_accuracy(trainer, pairs: int) -> dict:
    """The trainer's own evaluation on the held-out pairs (every rank takes part; TRL gathers the accuracy)."""
    held = trainer.evaluate()
    return {
        "rm/pair_accuracy": held["eval_accuracy"],
        "rm/held_out_margin": held["eval_margin"],
        "rm/held_out_pairs": pairs,
    }


def run(config: Config, ctx: StageContext) -> StageResult:
    from datasets import Dataset
    from trl import RewardTrainer

    rows = load_dataset(config.data, "preference", config.limit)
    columns = ["prompt", "chosen", "rejected"] + (["margin"] if all("margin" in r for r in rows) else [])
    parts: dict[str, list[dict]] = {}

    def as_dataset(part: list[dict]):
        return Dataset.from_list([{c: r[c] for c in columns} for r in part])

    def build(model, tokenizer, fit: list[dict]):
        parts["train"], parts["held_out"] = split(fit, config.eval_fraction, ctx.seed)
        return RewardTrainer(
            model=model,
            args=config.trainer_args(ctx.work_dir / "checkpoints", ctx.seed),
            processing_class=tokenizer,
            train_dataset=as_dataset(parts["train"]),
            eval_dataset=as_dataset(parts["held_out"]),
            peft_config=config.peft(),
            callbacks=callbacks(ctx.log, "reward model"),
        )

    return trainer.train(
        config,
        ctx,
        rows,
        build,
        load=load_reward_model,
        count=None,
        after=lambda t: held_out_accuracy(t, len(parts["held_out"])),
        key_metrics=("train/loss", "rm/pair_accuracy"),
    )


outputs = trainer.outputs
