"""`pick_best`: choose the best of several models by a held-out metric (keep-best-iteration).

ReST-EM saw held-out accuracy fall after the first iteration on small problem sets (APPS); this stage
lets a loop keep the best checkpoint instead of the last, and says when a later iteration regressed.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from pydantic import Field, model_validator

from align.stages.base import StageContext, StageResult
from align.stages.config import StageConfig


class Config(StageConfig):
    models: list[str] = Field(description="candidate models, e.g. [${model}, ${rest.*.sft.model}]")
    metrics: list[str] = Field(description="their evaluate stages' metrics, e.g. [${eval_base.metrics}, ...]")
    metric: str = Field("eval/pass@1", description="the metric to maximise")

    @model_validator(mode="after")
    def same_length(self):
        if len(self.models) != len(self.metrics) or not self.models:
            raise ValueError("models and metrics must be non-empty lists of the same length")
        return self


def run(config: Config, ctx: StageContext) -> StageResult:
    values = []
    for path in config.metrics:
        try:
            found = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read metrics ({exc})") from None
        if config.metric not in found:
            raise ValueError(f"{path} has no metric {config.metric!r} (has {sorted(found)})")
        values.append(found[config.metric])
    best = max(range(len(values)), key=lambda i: (values[i], -i))  # earliest wins ties
    regressed = any(later < earlier for earlier, later in itertools.pairwise(values))
    return StageResult(
        values={"model": config.models[best]},
        metrics={
            "best/index": best,
            "best/value": values[best],
            "best/last_value": values[-1],
            "best/regressed": float(regressed),
        },
    )


def outputs(config: Config) -> set[str]:
    """What `${stage.NAME}` may read of this stage (checked before the run)."""
    return {"model"}
