"""Scorers: one interface, `scorer(prompts, completions, rows) -> list[float]`, built by one factory.

A scorer spec is what a recipe writes wherever a scorer is expected (`score`, `evaluate`, `select`):
- a built-in name: `math`, `exact`, `regex`, `code`, `gold_judge`;
- a user function `module:function`;
- a mapping `{name: ..., <option>: value}`: a built-in with options (`{name: reward_model, model: DIR}`,
  `{name: code, timeout_s: 10}`) or a user function called with the options as keyword arguments.
`check_scorer(spec)` validates a spec without loading any model (values that are `${...}` references are
left to run time); `make_scorer(spec)` builds the scorer.
"""

from __future__ import annotations

import importlib
import math as _math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from align.errors import AlignError
from align.refs import deferred

Scorer = Callable[[Sequence, Sequence[str], Sequence[dict]], list]


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class NoOptions(Options):
    pass


class CodeOptions(Options):
    timeout_s: float = Field(5.0, gt=0, description="wall-time limit per program")
    workers: int = Field(2, ge=1, description="programs run at once")
    memory_mb: int = Field(512, ge=64, description="address-space limit per program")
    disk_mb: int = Field(16, ge=1, description="size of the tmpfs a program may write to")
    isolation: Literal["namespace", "none"] = Field(
        "namespace",
        description="`namespace`: a fresh root holding only the program's dir and the read-only Python runtime "
        "(refused where it cannot be made); `none`: rlimits only, the program sees what this user sees",
    )


class MathOptions(Options):
    boxed_only: bool = Field(
        False,
        description="count only an answer in the last well-formed \\boxed{} (math-verify also reads unboxed ones)",
    )


class RewardModelOptions(Options):
    model: str = Field(description="a reward model dir (a `reward` stage's model)")
    batch_size: int = Field(128, ge=1, description="sequences scored per forward pass")
    max_length: int = Field(512, ge=8, description="tokens per scored sequence; longer ones are truncated")


@dataclass(frozen=True)
class Builtin:
    target: str  # "module:attr"
    options: type[Options] = NoOptions
    factory: bool = False  # target(**options) builds the scorer; else target is the scorer
    check_model: tuple[str, str] | None = None  # (option naming a model, "module:fn" that checks it)
    check_machine: str | None = None  # "module:fn" called with the options: can this machine run the scorer?


BUILTIN = {
    "math": Builtin("rewards.verifiers:math", MathOptions),
    "exact": Builtin("rewards.verifiers:exact"),
    "regex": Builtin("rewards.verifiers:regex"),
    "gold_judge": Builtin("align.world.gold_judge:score"),  # the world's: imported only when used
    "code": Builtin("rewards.code:score", CodeOptions, check_machine="rewards.code_isolation:check_options"),
    "reward_model": Builtin(
        "rewards.reward_model:RewardModelScorer",
        RewardModelOptions,
        factory=True,
        check_model=("model", "rewards.reward_model:check_reward_model"),
    ),
}


def split_spec(spec) -> tuple[str, dict]:
    """(name, options) of a spec; raises AlignError on a malformed one."""
    if isinstance(spec, str) and spec:
        return spec, {}
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return spec["name"], {k: v for k, v in spec.items() if k != "name"}
    raise AlignError(f"a scorer is a name, 'module:function' or {{name: ..., options}}, got {spec!r}")


def spec_name(spec) -> str:
    """A short label for progress bars and error messages."""
    try:
        return split_spec(spec)[0]
    except AlignError:
        return repr(spec)


def import_target(target: str, name: str):
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise AlignError(f"cannot load scorer {name!r}: {exc}") from None
    except SyntaxError as exc:
        raise AlignError(f"cannot load scorer {name!r}: syntax error in {exc.filename}, line {exc.lineno}") from None


def check_scorer(spec) -> None:
    """Validate a spec before the run: known name, valid options, an existing model (unless deferred)."""
    name, options = split_spec(spec)
    if name in BUILTIN:
        builtin = BUILTIN[name]
        concrete = {k: v for k, v in options.items() if not deferred(v)}
        try:
            builtin.options(**options)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors())
            raise AlignError(f"scorer {name!r}: {problems}") from None
        if builtin.check_model and builtin.check_model[0] in concrete:
            option, checker = builtin.check_model
            import_target(checker, name)(concrete[option])
        if builtin.check_machine:
            import_target(builtin.check_machine, name)(concrete)
        return
    if ":" not in name:
        raise AlignError(f"unknown scorer {name!r}: use one of {sorted(BUILTIN)} or 'module:function'")
    if not callable(import_target(name, name)):
        raise AlignError(f"scorer {name!r} is not callable")


def make_scorer(spec) -> Scorer:
    """Build the scorer a spec names (loading its model, if it has one)."""
    check_scorer(spec)
    name, options = split_spec(spec)
    if name in BUILTIN:
        builtin = BUILTIN[name]
        target = import_target(builtin.target, name)
        validated = builtin.options(**options).model_dump()
        return target(**validated) if builtin.factory else partial(target, **validated) if validated else target
    target = import_target(name, name)
    return partial(target, **options) if options else target


def checked_scores(
    scorer: Scorer, prompts, completions, rows, name: str = "scorer", allow_none: bool = False
) -> list[float | None]:
    """Call a scorer and insist on one finite float per completion: a bad scorer fails loudly here. Online RL
    passes `allow_none`: there `None` means "not applicable" (TRL's meaning); everywhere else it is an error."""
    try:
        scores = scorer(prompts, completions, rows)
    except SystemExit as exc:  # would otherwise end `align run` silently, with its exit code
        raise AlignError(f"scorer {name} called sys.exit({exc.code!r}) instead of returning scores") from None
    except (AlignError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise AlignError(f"scorer {name} raised {type(exc).__name__}: {exc}") from None
    if hasattr(scores, "tolist") and not isinstance(scores, (list, tuple)):
        scores = scores.tolist()  # numpy arrays and tensors are fine
    if not isinstance(scores, (list, tuple)) or len(scores) != len(completions):
        raise ValueError(
            f"{name} returned {type(scores).__name__} of the wrong length "
            f"(expected a list of {len(completions)} numbers)"
        )
    out: list[float | None] = []
    for i, value in enumerate(scores):
        if value is None and allow_none:
            out.append(None)
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not _math.isfinite(value):
            allowed = "finite numbers, or None where they do not apply" if allow_none else "finite numbers"
            raise ValueError(f"{name} returned {value!r} for completion {i}: scores must be {allowed}")
        else:
            out.append(float(value))
    return out


def score_in_batches(scorer: Scorer, rows: list[dict], name: str, batch: int = 512, advance=None) -> list[float]:
    """Scores of `rows` (prompt, completion, ...) in batches, checked; `advance(k)` reports progress."""
    scores: list[float] = []
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        scores += checked_scores(scorer, [r["prompt"] for r in chunk], [r["completion"] for r in chunk], chunk, name)
        if advance:
            advance(len(chunk))
    return scores
