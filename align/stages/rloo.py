"""`rloo`: online RL with TRL's `RLOOTrainer` (REINFORCE Leave-One-Out, arXiv 2402.14740), rewarded by align's
scorers (the shared part: `align.stages.online`).

Each completion's baseline is the mean reward of the other completions of its prompt. TRL's RLOO defaults to a KL
penalty `beta` of 0.05 where its GRPO has 0: a GRPO-vs-RLOO comparison sets one value for both.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from align.stages import online, trainer
from align.stages.base import StageContext, StageResult


class Config(online.OnlineRLConfig):
    beta: float = Field(0.05, ge=0, description="KL penalty to the initial policy (TRL's RLOO default 0.05)")
    normalize_advantages: bool = Field(False, description="divide the advantages by their std over the batch")

    def trainer_args(self, output_dir: Path, seed: int):
        from trl import RLOOConfig

        method = {"beta": self.beta, "normalize_advantages": self.normalize_advantages}
        return self.online_args(RLOOConfig, output_dir, seed, **method)


check = online.check


def run(config: Config, ctx: StageContext) -> StageResult:
    from trl import RLOOTrainer

    return online.run(RLOOTrainer, "rloo", config, ctx)


outputs = trainer.outputs
