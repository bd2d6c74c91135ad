"""`reward`: a Bradley-Terry reward model trained with TRL's RewardTrainer on preference pairs.

L = -log sigmoid(r(x, y_chosen) - r(x, y_rejected) [- margin]); a `margin` column, when present, is used
by TRL. A seeded `eval_fraction` of the pairs is held out and `rm/pair_accuracy` (chosen scored above
rejected) is measured on it. The model is the policy's backbone with a fresh one-logit head.
"""
from __future__ import annotations

import random

from pydantic import Field

from align.data import completion_text, load_dataset
from align.engine import StageContext, StageResult
from align.launch import is_main_process
from align.metrics import mean
from align.models import load_tokenizer, locate_model, pick_dtype
from align.stages.base import TrainingConfig
from align.training import callbacks, configure_threads, run_trainer, save_policy, trainer_config
from rewards.reward_model import RewardModelScorer


class Config(TrainingConfig):
    data: str = Field(description="preference pairs: prompt/chosen/rejected")
    eval_fraction: float = Field(0.1, gt=0, lt=1, description="pairs held out for rm/pair_accuracy")
    center_rewards_coefficient: float | None = Field(None, description="TRL's reward-centering penalty")
    learning_rate: float = Field(1e-4, gt=0)


def check(config: Config) -> None:
    load_dataset(config.data, "preference", config.limit)
    locate_model(config.model)


def split(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    cut = max(1, int(round(len(rows) * fraction)))
    if cut >= len(rows):
        raise ValueError(f"{len(rows)} preference pairs are too few to hold out {fraction:.0%} for evaluation")
    return [rows[i] for i in order[cut:]], [rows[i] for i in order[:cut]]


def pair_accuracy(scorer, rows: list[dict]) -> float:
    prompts = [r["prompt"] for r in rows]
    chosen = scorer(prompts, [completion_text(r["chosen"]) for r in rows])
    rejected = scorer(prompts, [completion_text(r["rejected"]) for r in rows])
    return mean(c > r for c, r in zip(chosen, rejected))


def run(config: Config, ctx: StageContext) -> StageResult:
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    configure_threads()
    rows = load_dataset(config.data, "preference", config.limit)
    train_rows, held_out = split(rows, config.eval_fraction, ctx.seed)
    tokenizer = load_tokenizer(config.model, padding_side="right")
    model = AutoModelForSequenceClassification.from_pretrained(locate_model(config.model), num_labels=1,
                                                               dtype=pick_dtype(config.dtype))
    model.config.pad_token_id = tokenizer.pad_token_id
    columns = ["prompt", "chosen", "rejected"] + (["margin"] if all("margin" in r for r in rows) else [])
    args = trainer_config(RewardConfig, ctx.work_dir / "checkpoints", seed=ctx.seed, max_length=config.max_length,
                          center_rewards_coefficient=config.center_rewards_coefficient, **config.trainer_kwargs())
    trainer = RewardTrainer(model=model, args=args, processing_class=tokenizer,
                            train_dataset=Dataset.from_list([{c: r[c] for c in columns} for r in train_rows]),
                            peft_config=config.peft(), callbacks=callbacks(ctx.log, "reward model"))
    final = run_trainer(trainer, ctx.work_dir / "checkpoints")
    save_policy(trainer.model, tokenizer, ctx.out_dir / "model")
    if not is_main_process():
        return StageResult()  # rank 0 evaluates and reports
    accuracy = pair_accuracy(RewardModelScorer(str(ctx.out_dir / "model")), held_out)
    return StageResult(outputs={"model": "model"},
                       metrics={**final, "rm/pair_accuracy": accuracy, "rm/held_out_pairs": len(held_out)})
