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
from align.runtime.distributed import is_node_main
from align.loading.models import load_tokenizer, locate_model, pick_dtype
from align.stages.base import StageContext, StageResult, TrainingConfig, dataset_field
from align.runtime.threads import configure_threads
from align.training.args import trainer_config
from align.training.callbacks import callbacks
from align.training.run import run_trainer, save_policy


class Config(TrainingConfig):
    data: str = dataset_field("preference", "preference pairs: prompt/chosen/rejected")
    eval_fraction: float = Field(0.1, gt=0, lt=1, description="pairs held out for rm/pair_accuracy")
    center_rewards_coefficient: float | None = Field(None, description="TRL's reward-centering penalty")
    learning_rate: float = Field(1e-4, gt=0)


def trainer_args(config: Config, output_dir: Path, seed: int):
    from trl import RewardConfig

    return trainer_config(RewardConfig, output_dir, seed=seed, max_length=config.max_length,
                          center_rewards_coefficient=config.center_rewards_coefficient,
                          per_device_eval_batch_size=config.batch_size, **config.trainer_kwargs())


def check(config: Config) -> None:
    """The `trainer:` fields make a valid RewardConfig."""
    trainer_args(config, Path("checks"), 0)


def split(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    cut = max(1, int(round(len(rows) * fraction)))
    if cut >= len(rows):
        raise ValueError(f"{len(rows)} preference pairs are too few to hold out {fraction:.0%} for evaluation")
    return [rows[i] for i in order[cut:]], [rows[i] for i in order[:cut]]


def run(config: Config, ctx: StageContext) -> StageResult:
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardTrainer

    configure_threads()
    rows = load_dataset(config.data, "preference", config.limit)
    train_rows, held_out = split(rows, config.eval_fraction, ctx.seed)
    tokenizer = load_tokenizer(config.model, padding_side="right")
    model = AutoModelForSequenceClassification.from_pretrained(locate_model(config.model), num_labels=1,
                                                               dtype=pick_dtype(config.dtype))
    model.config.pad_token_id = tokenizer.pad_token_id
    columns = ["prompt", "chosen", "rejected"] + (["margin"] if all("margin" in r for r in rows) else [])
    as_dataset = lambda part: Dataset.from_list([{c: r[c] for c in columns} for r in part])  # noqa: E731
    trainer = RewardTrainer(model=model, args=trainer_args(config, ctx.work_dir / "checkpoints", ctx.seed),
                            processing_class=tokenizer, train_dataset=as_dataset(train_rows),
                            eval_dataset=as_dataset(held_out), peft_config=config.peft(),
                            callbacks=callbacks(ctx.log, "reward model"))
    final = run_trainer(trainer, ctx.work_dir / "checkpoints")
    held = trainer.evaluate()  # every rank takes part; TRL gathers the accuracy across them
    save_policy(trainer.model, tokenizer, ctx.out_dir / "model")
    if not is_node_main():
        return StageResult()
    metrics = {**final, "rm/pair_accuracy": held["eval_accuracy"], "rm/held_out_margin": held["eval_margin"],
               "rm/held_out_pairs": len(held_out)}
    return StageResult(outputs={"model": "model"}, metrics=metrics, key_metrics=["train/loss", "rm/pair_accuracy"])
