"""The stage contract: what a stage receives (`StageContext`), returns (`StageResult`) and declares (`Config`).

A stage is a module with a `Config` (a `StageConfig` subclass, see `align.stages.config`) and
`run(config, ctx) -> StageResult`; optionally `check(config)` for config checks that need a library (e.g. building
the TRL config). This module imports nothing of the engine, so stages depend on it and never on the engine's
bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Metric logger: every metric of one optimizer step at once, with that step (None = a summary value).
LogFn = Callable[[dict, int | None], None]


@dataclass
class StageContext:
    """What a stage may use: its output dir (temp, renamed into place on success), a work dir that survives a
    kill (trainer checkpoints, finished chunks), its seed, a metric logger and a progress-bar factory."""

    out_dir: Path
    work_dir: Path
    seed: int
    log: LogFn
    progress: Callable = None


@dataclass
class StageResult:
    """`outputs`: files or dirs the stage wrote into `ctx.out_dir` (name -> relative path); later stages refer
    to them as `${stage.name}` and get the absolute path. `values`: plain JSON values (a weights digest, a path
    chosen among the inputs); `${stage.name}` gives them as they are. `metrics`: summary numbers;
    `key_metrics`: the ones tables and reports show (default: all of `metrics`)."""

    outputs: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    key_metrics: list[str] | None = None

    def shown_metrics(self) -> list[str]:
        return list(self.metrics) if self.key_metrics is None else [m for m in self.key_metrics if m in self.metrics]


class StopLoop(Exception):
    """Raised by a stage inside a repeat block to end the loop early (e.g. an E-step that verified nothing):
    the rest of this iteration and the later ones are skipped, and the run goes on after the block with the
    iterations that finished. The message says why; it is recorded and reported."""
