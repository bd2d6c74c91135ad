"""What the online-RL stages (`grpo`, `rloo`) share: the config every one of them takes, the pre-run check (the
rewards are called on a few rows of the data), and the trainer they build from TRL's classes.

Each step samples `num_generations` completions of each prompt from the current policy, scores them with the
`rewards` (label -> scorer spec, weighted by `reward_weights`; see `align.training.online_rl`), and moves the policy
toward the completions that beat the others of their prompt. `batch_size` counts completions per device and step, so
a step sees batch_size x processes x grad_accum / num_generations prompts. Other fields of the TRL config go in
`trainer:`.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from pydantic import Field, model_validator

from align.generation import generators
from align.loading.datasets import load_dataset
from align.refs import deferred
from align.stages import trainer
from align.stages.base import StageContext, StageResult
from align.stages.config import ScorerSpec, TrainingConfig, dataset_field, scorer_field
from align.training.args import trainer_config
from align.training.callbacks import callbacks
from align.training.online_rl import probe_rewards, reward_functions
from align.training.run import shared_dataset


class OnlineRLConfig(TrainingConfig):
    data: str = dataset_field(
        "prompts", "prompts, with the columns the rewards read (`answer`, `tests`, ...)", read_by=("model",)
    )
    rewards: dict[str, ScorerSpec] = scorer_field(
        "reward scorers: label -> spec (logged as rewards/<label>/mean)", {"correct": "math"}, many=True
    )
    reward_weights: dict[str, float] | None = Field(None, description="label -> weight (default: 1 each)")
    num_generations: int = Field(8, ge=2, description="completions per prompt: the group each is compared within")
    max_completion_length: int = Field(64, ge=1, description="tokens per sampled completion at most")
    temperature: float = Field(1.0, gt=0, description="sampling temperature of the completions")
    epsilon: float = Field(0.2, gt=0, description="clip range of the importance ratio")
    epsilon_high: float | None = Field(None, gt=0, description="upper clip range (DAPO's clip-higher: 0.28)")
    num_iterations: int = Field(1, ge=1, description="optimisation passes per generated batch (mu)")
    mask_truncated_completions: bool = Field(False, description="no loss on completions cut at the length limit")
    learning_rate: float = Field(1e-6, gt=0, description="peak learning rate (TRL's default)")
    batch_size: int = Field(64, ge=1, description="completions per device and step (a multiple of num_generations)")
    save_steps: int = Field(25, ge=1, description="checkpoint interval: a killed stage resumes from here")
    backend: Literal["auto", "hf", "vllm"] = Field(
        "auto", description="generation: auto = TRL's vLLM when CUDA and vllm are there, else transformers"
    )
    vllm_mode: Literal["colocate", "server"] = Field(
        "colocate",
        description="vLLM in the training processes, or a `trl vllm-serve` (its URL: trainer.vllm_server_base_url)",
    )
    vllm_gpu_memory_utilization: float = Field(
        0.3, gt=0, le=1, description="colocate: the GPU memory share vLLM takes beside training"
    )

    @model_validator(mode="after")
    def weights_and_groups(self):
        unknown = sorted(set(self.reward_weights or {}) - set(self.rewards))
        if unknown:
            raise ValueError(f"reward_weights names no reward {unknown} (rewards: {sorted(self.rewards)})")
        if (self.batch_size * self.grad_accum * self.processes) % self.num_generations:
            raise ValueError(
                f"num_generations={self.num_generations} does not divide the completions of a step "
                f"(batch_size {self.batch_size} x grad_accum {self.grad_accum} x processes {self.processes})"
            )
        return self

    def online_args(self, config_cls, output_dir, seed: int, **method):
        """The TRL config with the fields every online-RL trainer shares, and the method's own."""
        shared = {
            "num_generations": self.num_generations,
            "max_completion_length": self.max_completion_length,
            "temperature": self.temperature,
            "epsilon": self.epsilon,
            "epsilon_high": self.epsilon_high,
            "num_iterations": self.num_iterations,
            "mask_truncated_completions": self.mask_truncated_completions,
            "reward_weights": [(self.reward_weights or {}).get(label, 1.0) for label in self.rewards],
            **self.vllm_args(),
        }
        return trainer_config(config_cls, output_dir, seed, self, **shared, **method)

    def vllm_args(self) -> dict:
        """TRL generates with vLLM (`use_vllm`) where the backend says so; its vllm fields are then the stage's."""
        if self.backend == "hf" or (self.backend == "auto" and not generators.vllm_available()):
            return {"use_vllm": False}
        return {
            "use_vllm": True,
            "vllm_mode": self.vllm_mode,
            "vllm_gpu_memory_utilization": self.vllm_gpu_memory_utilization,
        }


def check(config: OnlineRLConfig) -> None:
    """The TRL config builds; every reward reads the data and returns numbers (called on a few rows first)."""
    generators.require_backend(config.backend)
    trainer.check(config)
    if not deferred(config.data) and not any(deferred(spec) for spec in config.rewards.values()):
        probe_rewards(config.rewards, load_dataset(config.data, "prompts", config.limit))


def build(trainer_cls, name: str, config: OnlineRLConfig, ctx: StageContext, model, tokenizer, rows: list[dict]):
    args = config.trainer_args(ctx.work_dir / "checkpoints", ctx.seed)
    return trainer_cls(
        model=model,
        reward_funcs=reward_functions(config.rewards),
        args=args,
        train_dataset=shared_dataset(rows, ctx.work_dir / "dataset", args),
        processing_class=tokenizer,
        callbacks=callbacks(ctx.log, name),
        peft_config=config.peft(),
    )


def run(trainer_cls, name: str, config: OnlineRLConfig, ctx: StageContext) -> StageResult:
    rows = load_dataset(config.data, "prompts", config.limit)
    build_trainer = partial(build, trainer_cls, name, config, ctx)
    return trainer.train(config, ctx, rows, build_trainer, count="train/prompts", key_metrics=("train/reward",))
