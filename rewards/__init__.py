"""Scorers: one interface, `scorer(prompts, completions, rows) -> list[float]`.

`load_scorer(name)` returns a built-in by name or a user function from a `module:function` path.
"""
from __future__ import annotations

import importlib
import math as _math
from typing import Callable, Sequence

Scorer = Callable[[Sequence, Sequence[str], Sequence[dict]], list]

BUILTIN = {
    "math": "rewards.verifiers:math",
    "exact": "rewards.verifiers:exact",
    "regex": "rewards.verifiers:regex",
    "gold_judge": "rewards.gold_judge:score",
    "code": "rewards.code:score",
}


def load_scorer(name: str) -> Scorer:
    path = BUILTIN.get(name, name)
    if ":" not in path:
        raise ValueError(f"unknown scorer {name!r}: use one of {sorted(BUILTIN)} or 'module:function'")
    module_name, _, attr = path.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load scorer {name!r}: {exc}") from exc
    return fn


def checked_scores(scorer: Scorer, prompts, completions, rows, name: str = "scorer") -> list[float]:
    """Call a scorer and insist on one finite float per completion: a bad scorer fails loudly here."""
    scores = scorer(prompts, completions, rows)
    if not isinstance(scores, (list, tuple)) or len(scores) != len(completions):
        raise ValueError(f"{name} returned {type(scores).__name__} of the wrong length "
                         f"(expected a list of {len(completions)} numbers)")
    out = []
    for i, value in enumerate(scores):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _math.isfinite(value):
            raise ValueError(f"{name} returned {value!r} for completion {i}: scores must be finite numbers")
        out.append(float(value))
    return out
