"""`grpo`: online RL with TRL's `GRPOTrainer`, rewarded by align's scorers (verifiers, reward models, judges).

Each step samples `num_generations` completions of each prompt from the current policy, scores them with the
`rewards` (label -> scorer spec, weighted by `reward_weights`; see `align.training.online_rl`), and moves the policy
toward the completions that beat their group's mean (GRPO, arXiv 2402.03300; `loss_type` picks TRL's aggregation:
`dapo` is TRL's default, `grpo` the paper's, `dr_grpo` Dr. GRPO's). `beta` > 0 adds a KL penalty to the initial
policy (TRL's default 0, as DAPO and Dr. GRPO). `batch_size` counts completions per device and step, so a step sees
batch_size x processes x grad_accum / num_generations prompts. Other GRPOConfig fields go in `trainer:`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from align.loading.datasets import load_dataset
from align.refs import deferred
from align.stages import trainer
from align.stages.base import StageContext, StageResult
from align.stages.config import ScorerSpec, TrainingConfig, dataset_field, scorer_field
from align.training.args import trainer_config
from align.training.callbacks import callbacks
from align.training.online_rl import probe_rewards, reward_functions
from align.training.run import shared_dataset

GRPO_LOSSES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")  # TRL 1.16's GRPOConfig


class Config(TrainingConfig):
    data: str = dataset_field(
        "prompts", "prompts, with the columns the rewards read (`answer`, `tests`, ...)", read_by=("model",)
    )
    rewards: dict[str, ScorerSpec] = scorer_field(
        "reward scorers: label -> spec (logged as rewards/<label>/mean)", {"correct": "math"}, many=True
    )
    reward_weights: dict[str, float] | None = Field(None, description="label -> weight (default: 1 each)")
    num_generations: int = Field(8, ge=2, description="completions per prompt: the group GRPO compares within")
    max_completion_length: int = Field(64, ge=1, description="tokens per sampled completion at most")
    temperature: float = Field(1.0, gt=0, description="sampling temperature of the completions")
    beta: float = Field(0.0, ge=0, description="KL penalty to the initial policy (0: none, no reference model)")
    loss_type: Literal[GRPO_LOSSES] = Field("dapo", description="TRL's loss aggregation (see the module)")
    epsilon: float = Field(0.2, gt=0, description="clip range of the importance ratio")
    epsilon_high: float | None = Field(None, gt=0, description="upper clip range (DAPO's clip-higher: 0.28)")
    num_iterations: int = Field(1, ge=1, description="optimisation passes per generated batch (mu)")
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="divide advantages by the group's std, the batch's, or not at all (Dr. GRPO: none)"
    )
    mask_truncated_completions: bool = Field(False, description="no loss on completions cut at the length limit")
    learning_rate: float = Field(1e-6, gt=0, description="peak learning rate (TRL's default)")
    batch_size: int = Field(64, ge=1, description="completions per device and step (a multiple of num_generations)")
    save_steps: int = Field(25, ge=1, description="checkpoint interval: a killed stage resumes from here")

    @model_validator(mode="after")
    def weights_name_rewards(self):
        unknown = sorted(set(self.reward_weights or {}) - set(self.rewards))
        if unknown:
            raise ValueError(f"reward_weights names no reward {unknown} (rewards: {sorted(self.rewards)})")
        if (self.batch_size * self.grad_accum * self.processes) % self.num_generations:
            raise ValueError(
                f"num_generations={self.num_generations} does not divide the completions of a step "
                f"(batch_size {self.batch_size} x grad_accum {self.grad_accum} x processes {self.processes})"
            )
        return self

    def trainer_args(self, output_dir: Path, seed: int):
        from trl import GRPOConfig

        weights = [(self.reward_weights or {}).get(label, 1.0) for label in self.rewards]
        online = {
            "num_generations": self.num_generations,
            "max_completion_length": self.max_completion_length,
            "temperature": self.temperature,
            "beta": self.beta,
            "loss_type": self.loss_type,
            "epsilon": self.epsilon,
            "epsilon_high": self.epsilon_high,
            "num_iterations": self.num_iterations,
            "scale_rewards": self.scale_rewards,
            "mask_truncated_completions": self.mask_truncated_completions,
            "reward_weights": weights,
        }
        return trainer_config(GRPOConfig, output_dir, seed, self, **online)


def check(config: Config) -> None:
    """The GRPOConfig builds; every reward reads the data and returns numbers (called on a few rows first)."""
    trainer.check(config)
    if not deferred(config.data) and not any(deferred(spec) for spec in config.rewards.values()):
        probe_rewards(config.rewards, load_dataset(config.data, "prompts", config.limit))


def build_trainer(config: Config, ctx: StageContext, model, tokenizer, rows: list[dict]):
    from trl import GRPOTrainer

    args = config.trainer_args(ctx.work_dir / "checkpoints", ctx.seed)
    return GRPOTrainer(
        model=model,
        reward_funcs=reward_functions(config.rewards),
        args=args,
        train_dataset=shared_dataset(rows, ctx.work_dir / "dataset", args),
        processing_class=tokenizer,
        callbacks=callbacks(ctx.log, f"grpo ({config.loss_type})"),
        peft_config=config.peft(),
    )


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = load_dataset(config.data, "prompts", config.limit)
    return trainer.train(
        config, ctx, rows, partial(build_trainer, config, ctx), count="train/prompts", key_metrics=("train/reward",)
    )


outputs = trainer.outputs
