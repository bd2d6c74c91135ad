"""Fail fast: check every stage's declared inputs before the first stage runs.

Each stage config declares its inputs on its fields (`dataset_field`, `model_field`, `scorer_field` in
`align.stages.base`). Everything that can be known before the run is checked now: literal dataset paths
(loaded and validated), model dirs, scorer names and options, and the stage's own `check(config)`. Only a
value that is still a `${stage.output}` reference (an earlier stage's output) is left to run time.
"""

from __future__ import annotations

from align.errors import AlignError
from align.loading.datasets import load_dataset
from align.loading.models import check_weights
from align.refs import deferred
from align.stages.config import declared_inputs
from rewards import check_scorer


class InputChecker:
    """Checks inputs stage by stage, loading each dataset once however many stages read it."""

    def __init__(self):
        self.datasets: set[tuple[str, str]] = set()

    def check_stage(self, name: str, module, config, raw: dict) -> None:
        for field, marker, value in declared_inputs(config):
            try:
                self.check_value(marker, value)
            except AlignError as exc:
                origin = raw.get(field)
                via = f" (= {origin})" if deferred(origin) else ""
                raise AlignError(f"stage {name!r}, key {field!r}{via}: {exc}") from None
        if hasattr(module, "check"):
            try:
                module.check(config)
            except (AlignError, ValueError) as exc:
                raise AlignError(f"stage {name!r}: {exc}") from None

    def check_value(self, marker: dict, value) -> None:
        if value is None or deferred(value):
            return
        kind = marker["input"]
        if kind == "dataset":
            values = value if isinstance(value, list) else [value]
            for item in values:
                if not deferred(item) and (item, marker["kind"]) not in self.datasets:
                    load_dataset(item, marker["kind"])
                    self.datasets.add((item, marker["kind"]))
        elif kind == "model":
            for item in value if isinstance(value, list) else [value]:
                if not deferred(item):
                    check_weights(item)
        elif kind == "scorer":
            specs = value.values() if marker.get("many") else [value]
            for spec in specs:
                check_scorer(spec)
        else:
            raise AssertionError(f"unknown input marker {kind!r}")
