"""Stage registry: stage type -> the module that implements it (imported when first used).

A new stage is one module (a `Config` and `run(config, ctx)`, see `align.stages.base`) plus one line here.
Modules are imported lazily so that `align show` or a sampling-only recipe never imports TRL.
"""

from __future__ import annotations

import importlib
from types import ModuleType

STAGES: dict[str, str | ModuleType] = {
    "sft": "align.stages.sft",
    "reward": "align.stages.reward",
    "dpo": "align.stages.dpo",
    "sample": "align.stages.sample",
    "score": "align.stages.score",
    "select": "align.stages.select",
    "evaluate": "align.stages.evaluate",
    "pick_best": "align.stages.pick_best",
    "teacher": "align.stages.teacher",
    "distill": "align.stages.distill",
    "filter": "align.stages.filter",
    "pretrain": "align.stages.pretrain",
    "split": "align.stages.split",
    "grpo": "align.stages.grpo",
    "rloo": "align.stages.rloo",
    "kto": "align.stages.kto",
}


def stage_module(stage_type: str):
    """The module (or any object with `Config` and `run`) registered for `stage_type`."""
    entry = STAGES[stage_type]
    return importlib.import_module(entry) if isinstance(entry, str) else entry
