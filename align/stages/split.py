"""`split`: cut a dataset into named, disjoint parts, in order (after an optional seeded shuffle).

`parts: {heldout: 2000, pool: 8000}` writes `heldout.jsonl` (rows 1-2,000) and `pool.jsonl` (the next 8,000),
referred to as `${split.heldout}` and `${split.pool}`; a size of `null` takes every row left. What it is for:
data that must be disjoint, such as MiniPLM's reference model, trained on a slice the selection never scores.
"""

from __future__ import annotations

import random
import re

from pydantic import Field, field_validator

from align.data.jsonl import write_jsonl
from align.loading.datasets import load_dataset
from align.stages.base import StageContext, StageResult
from align.stages.config import StageConfig, dataset_field

PART_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


class Config(StageConfig):
    data: str = dataset_field("any", "the dataset to cut (any format: rows are copied as they are)")
    parts: dict[str, int | None] = Field(description="part name -> row count, in order (null = the rest)")
    shuffle: bool = Field(False, description="shuffle with the stage seed first")

    @field_validator("parts")
    @classmethod
    def sensible(cls, parts):
        if not parts:
            raise ValueError("give at least one part")
        bad = [n for n in parts if not PART_NAME.fullmatch(n)]
        if bad:
            raise ValueError(f"part names are letters, digits, _ and - (they name files): {bad}")
        if any(size is not None and size < 1 for size in parts.values()):
            raise ValueError("part sizes are positive row counts (or null for the rest)")
        if list(parts.values())[:-1].count(None) or list(parts.values()).count(None) > 1:
            raise ValueError("only the last part may be null (the rest)")
        return parts


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = load_dataset(config.data, "any")
    if config.shuffle:
        rows = random.Random(ctx.seed).sample(rows, len(rows))
    wanted = sum(size for size in config.parts.values() if size is not None)
    if wanted > len(rows):
        raise ValueError(f"{config.data}: the parts need {wanted} rows, the dataset has {len(rows)}")
    start, outputs, metrics = 0, {}, {}
    for name, size in config.parts.items():
        part = rows[start:] if size is None else rows[start : start + size]
        start += len(part)
        if not part:
            raise ValueError(f"{config.data}: part {name!r} would be empty (the other parts take all rows)")
        write_jsonl(ctx.out_dir / f"{name}.jsonl", part)
        outputs[name] = f"{name}.jsonl"
        metrics[f"split/{name}"] = len(part)
    return StageResult(outputs=outputs, metrics=metrics, key_metrics=list(metrics))


def outputs(config: Config) -> set[str]:
    """What `${stage.NAME}` may read of this stage (checked before the run)."""
    return set(config.parts)
