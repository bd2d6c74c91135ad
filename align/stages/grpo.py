"""`grpo`: online RL with TRL's `GRPOTrainer`, rewarded by align's scorers (the shared part: `align.stages.online`).

GRPO (arXiv 2402.03300) moves the policy toward completions that beat their group's mean reward. `loss_type` picks
TRL's aggregation: `dapo` (TRL's default), `grpo` (the paper's), `dr_grpo` (Dr. GRPO), ... `beta` > 0 adds a KL
penalty to the initial policy (TRL's default 0, as DAPO and Dr. GRPO); `scale_rewards` divides advantages by the
group's std (the paper), the batch's, or nothing (Dr. GRPO).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from align.stages import online, trainer
from align.stages.base import StageContext, StageResult

GRPO_LOSSES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")  # TRL 1.16's GRPOConfig


class Config(online.OnlineRLConfig):
    beta: float = Field(0.0, ge=0, description="KL penalty to the initial policy (0: none, no reference model)")
    loss_type: Literal[GRPO_LOSSES] = Field("dapo", description="TRL's loss aggregation (see the module)")
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="divide advantages by the group's std, the batch's, or not at all (Dr. GRPO: none)"
    )

    def trainer_args(self, output_dir: Path, seed: int):
        from trl import GRPOConfig

        method = {"beta": self.beta, "loss_type": self.loss_type, "scale_rewards": self.scale_rewards}
        return self.online_args(GRPOConfig, output_dir, seed, **method)


check = online.check


def run(config: Config, ctx: StageContext) -> StageResult:
    from trl import GRPOTrainer

    return online.run(GRPOTrainer, f"grpo ({config.loss_type})", config, ctx)


outputs = trainer.outputs
