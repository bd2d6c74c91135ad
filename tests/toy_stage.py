"""A toy stage, written as a newcomer would add one: this module plus one registry line (see test_foundations)."""

from pydantic import Field

from align.data.jsonl import write_jsonl
from align.loading.datasets import load_dataset
from align.stages.base import StageContext, StageResult
from align.stages.config import StageConfig, dataset_field


class Config(StageConfig):
    data: str = dataset_field("prompts", "prompts to count")
    factor: float = Field(1.0, description="multiplies the count")


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = load_dataset(config.data, "prompts")
    write_jsonl(ctx.out_dir / "data.jsonl", [{"prompt": r["prompt"], "length": len(str(r["prompt"]))} for r in rows])
    return StageResult(
        outputs={"data": "data.jsonl"},
        values={"rows": len(rows)},
        metrics={"toy/count": len(rows) * config.factor, "toy/detail": 1.0},
        key_metrics=["toy/count"],
    )
