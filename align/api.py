"""The Python API: `align.run(...)` runs a recipe exactly as `align run` does and returns what it produced.

For scripted self-training: call it in a loop, feed one run's output model into the next run's overrides,
stop when a metric stops improving. A killed script resumes like the CLI: the same call skips finished stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from align.engine.recipe import load_recipe
from align.engine.report import write_report
from align.engine.runner import Engine
from align.errors import AlignError
from align.runtime.progress import track
from align.runtime.quiet import quiet_libraries


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, dict]  # stage name -> its summary metrics
    outputs: dict[str, dict]  # stage name -> its outputs (absolute paths) and values
    summaries: list[dict]  # one record per stage as in its stage.json, plus status ran|skipped
    report: Path


def run(
    recipe: str,
    overrides: list[str] | dict | None = None,
    run_dir: str | Path | None = None,
    smoke: bool = False,
    fresh: bool = False,
) -> RunResult:
    """Run `recipe` (a name in recipes/ or a YAML path) with `overrides`: ["key=value", ...] (values read as YAML,
    as on the command line) or {key: value} (values as they are: "yes" stays a string);
    `run_dir` defaults to runs/<recipe name>; `fresh` deletes what it holds first (after the inputs check out).
    Raises AlignError on bad input, before anything runs."""
    quiet_libraries()
    if isinstance(overrides, dict):  # values from Python are taken as they are, never re-read as YAML
        overrides = list(overrides.items())
    if run_dir is not None and not str(run_dir).strip():
        raise AlignError("--run-dir is empty: give a directory (default: runs/<recipe>)")
    plan = load_recipe(str(recipe), list(overrides or []), smoke=smoke)
    target = Path(run_dir) if run_dir is not None else Path("runs") / (plan.name + ("-smoke" if smoke else ""))
    engine = Engine(plan, target, progress_factory=track, fresh=fresh)
    summaries = engine.run()
    return RunResult(
        run_dir=target,
        metrics={s["name"]: s.get("metrics", {}) for s in summaries},
        outputs=engine.outputs,
        summaries=summaries,
        report=write_report(target),
    )
