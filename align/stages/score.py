"""`score`: add a `score` column to samples with a verifier, the gold judge, a reward model or a
user scorer (`module:function`). A scorer that returns a non-number or NaN stops the run with an error."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from align import data
from align.engine import StageContext, StageResult
from align.metrics import mean
from align.stages.base import StageConfig
from rewards import checked_scores, load_scorer


class Config(StageConfig):
    data: str = Field(description="samples (prompt, completion, ...) to score")
    scorer: str = Field(description="math, exact, regex, gold_judge, reward_model, or module:function")
    reward_model: Optional[str] = Field(None, description="sequence-classification model dir (scorer=reward_model)")
    batch: int = Field(512, ge=1, description="completions per scorer call")


def check(config: Config) -> None:
    data.load_dataset(config.data, "samples")
    if config.scorer == "reward_model" and config.reward_model:
        from rewards.reward_model import check_reward_model

        check_reward_model(config.reward_model)
    elif config.scorer != "reward_model":
        load_scorer(config.scorer)


def make_scorer(config: Config):
    if config.scorer == "reward_model":
        if not config.reward_model:
            raise ValueError("scorer=reward_model needs `reward_model: <dir>`")
        from rewards.reward_model import RewardModelScorer

        return RewardModelScorer(config.reward_model)
    return load_scorer(config.scorer)


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = data.load_dataset(config.data, "samples")
    scorer = make_scorer(config)
    scores: list[float] = []
    with ctx.progress(f"score: {config.scorer}", total=len(rows)) as advance:
        for start in range(0, len(rows), config.batch):
            batch = rows[start:start + config.batch]
            scores += checked_scores(scorer, [r["prompt"] for r in batch], [r["completion"] for r in batch],
                                     batch, config.scorer)
            advance(len(batch))
    out = [dict(row, score=s) for row, s in zip(rows, scores)]
    data.write_jsonl(ctx.out_dir / "data.jsonl", out)
    return StageResult(outputs={"data": "data.jsonl"}, metrics={"score/mean": mean(scores)})
