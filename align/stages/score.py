"""`score`: add a `score` column to samples with any scorer: a verifier (`math`, `exact`, `regex`, `code`), the
world's `gold_judge`, a reward model (`{name: reward_model, model: DIR}`) or a user scorer
(`module:function`, or `{name: module:function, option: ...}`). A scorer that returns a non-number or NaN
stops the run with an error naming it."""

from __future__ import annotations

from pydantic import Field

from align.data.jsonl import write_jsonl
from align.data.metrics import mean
from align.loading.datasets import load_dataset
from align.stages.base import StageContext, StageResult
from align.stages.config import ScorerSpec, StageConfig, dataset_field, scorer_field
from rewards import make_scorer, score_in_batches, spec_name


class Config(StageConfig):
    data: str = dataset_field("samples", "samples (prompt, completion, ...) to score")
    scorer: ScorerSpec = scorer_field("a scorer name, module:function, or {name: ..., options} (see rewards/)")
    batch: int = Field(512, ge=1, description="completions per scorer call")


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = load_dataset(config.data, "samples")
    name = spec_name(config.scorer)
    with ctx.progress(f"score: {name}", total=len(rows)) as advance:
        scores = score_in_batches(make_scorer(config.scorer), rows, name, config.batch, advance)
    write_jsonl(ctx.out_dir / "data.jsonl", [dict(row, score=s) for row, s in zip(rows, scores)])
    return StageResult(outputs={"data": "data.jsonl"}, metrics={"score/mean": mean(scores)}, key_metrics=[])


def outputs(config: Config) -> set[str]:
    """What `${stage.NAME}` may read of this stage (checked before the run)."""
    return {"data"}
