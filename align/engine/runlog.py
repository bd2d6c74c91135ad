"""A run's record on disk: recipe.yaml, run.json (status per stage), metrics.jsonl, and wandb.

metrics.jsonl is always written, one `{stage, step, name, value, time}` per line; wandb (offline unless
the user configures it, `tracking=none` to disable) receives the same values.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
import uuid
from pathlib import Path

import yaml

from align.errors import AlignError


def write_json(path: Path, data) -> None:
    """Atomic: a reader (or a crash) never sees a half-written file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def read_metrics(run_dir: Path) -> list[dict]:
    """Every metric row; a torn last line (a kill or a full disk mid-write) is skipped, any other bad line is
    an error naming the file and line."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):  # no newline after it: the write was cut short
                continue
            raise AlignError(f"{path}: line {number}: not a JSON metric row") from None
    return rows


def row_attempt(row: dict, finished: str | None, current: str) -> str:
    """The attempt a row belongs to; rows written before rows were tagged count as the finished outputs' when the
    stage has them, else as the current attempt's."""
    return row.get("attempt") or finished or current


def finished_rows(run_dir: Path, rows: list[dict]) -> list[dict]:
    """The rows that describe the outputs on disk: of each stage, only those of its finished attempt (its DONE
    hash); a stage with no finished outputs shows none."""
    done = {}
    for stage in {r["stage"] for r in rows}:
        marker = read_json(Path(run_dir) / stage / "DONE")
        done[stage] = marker.get("hash") if isinstance(marker, dict) else None
    return [r for r in rows if done[r["stage"]] and row_attempt(r, done[r["stage"]], "") == done[r["stage"]]]


def versions() -> dict:
    import importlib.metadata as md

    found = {"python": platform.python_version()}
    for package in ("align", "torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        with contextlib.suppress(md.PackageNotFoundError):
            found[package] = md.version(package)
    return found


def append_metrics(path: Path, stage: str, metrics: dict, step: int | None, attempt: str | None = None) -> None:
    """All rows in one append-mode write, each a whole line (a torn tail is repaired by `begin_stage`). Each row
    names the attempt (the stage hash) that logged it, so rows of an attempt that never finished can be told
    from the rows of the outputs on disk."""
    now = time.time()
    tag = {"attempt": attempt} if attempt else {}
    text = "".join(
        json.dumps({"stage": stage, "step": step, "name": name, "value": value, "time": now, **tag}) + "\n"
        for name, value in metrics.items()
    )
    with open(path, "ab") as f:
        f.write(text.encode("utf-8"))


class RunLog:
    def __init__(self, run_dir: Path, recipe):
        self.run_dir = Path(run_dir)
        self.recipe = recipe
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.wandb = None
        self.tracked_stages: set[str] = set()
        self.state: dict = {}  # run.json: the run's status, and each stage's
        tmp = self.run_dir / ".recipe.yaml.tmp"
        tmp.write_text(yaml.safe_dump(recipe.resolved, sort_keys=False))
        os.replace(tmp, self.run_dir / "recipe.yaml")

    def start(self, stages: list[str]) -> None:
        """Record a new attempt at the run (stages keep their last status until they run again); start wandb."""
        state = read_json(self.run_dir / "run.json") or {"wandb_id": uuid.uuid4().hex[:12], "attempts": 0}
        previous = state.get("stages", {})
        state.update(
            {
                "recipe": self.recipe.name,
                "seed": self.recipe.seed,
                "versions": versions(),
                "status": "running",
                "pid": os.getpid(),
                "started": time.time(),
                "ended": None,
                "attempts": state.get("attempts", 0) + 1,
                "stages": {
                    name: {"dir": name, "status": previous.get(name, {}).get("status", "pending")} for name in stages
                },
            }
        )
        self.state = state
        write_json(self.run_dir / "run.json", state)
        if self.recipe.tracking == "wandb":
            self.wandb = start_wandb(self.run_dir, self.recipe, state["wandb_id"])

    def stage_status(
        self, name: str, status: str, skipped: bool = False, error: str | None = None, reasons: list[str] | None = None
    ):
        entry = self.state["stages"][name]
        entry["status"] = status
        entry["skipped" if skipped else "updated"] = True if skipped else time.time()
        if error:
            entry["error"] = error
        else:
            entry.pop("error", None)  # a failure of an earlier attempt no longer describes this stage
        if reasons is not None:
            entry["rerun_reasons"] = reasons
        write_json(self.run_dir / "run.json", self.state)

    def finish(self, status: str) -> None:
        self.state.update(status=status, ended=time.time())
        write_json(self.run_dir / "run.json", self.state)
        if self.wandb is not None:
            self.wandb.finish()
            self.wandb = None

    def begin_stage(self, stage: str, resumed_at: int, attempt: str, finished: str | None) -> None:
        """Before an attempt: keep the rows of the stage's finished outputs (`finished`, its DONE hash: they stay
        until this attempt replaces them) and this attempt's own up to its last checkpoint (the resumed trainer
        logs the later steps again); drop every other attempt's rows."""
        self.keep_rows(
            stage,
            lambda r: (
                row_attempt(r, finished, attempt) == finished
                or (row_attempt(r, finished, attempt) == attempt and r["step"] is not None and r["step"] <= resumed_at)
            ),
        )

    def settle(self, stage: str, attempt: str) -> None:
        """The stage's outputs on disk are `attempt`'s (it just finished, or was reused): only its rows stay."""
        self.keep_rows(stage, lambda r: row_attempt(r, attempt, attempt) == attempt)

    def keep_rows(self, stage: str, keep) -> None:
        rows = read_metrics(self.run_dir)
        kept = [r for r in rows if r["stage"] != stage or keep(r)]
        if len(kept) != len(rows) or (
            self.metrics_path.exists()
            and not self.metrics_path.read_bytes().endswith(b"\n")
            and self.metrics_path.stat().st_size
        ):
            tmp = self.metrics_path.with_name(".metrics.jsonl.tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
            os.replace(tmp, self.metrics_path)

    def metrics(self, stage: str, metrics: dict, step: int | None, attempt: str | None = None) -> None:
        """Record metrics of one step (or a stage's summary when step is None) in metrics.jsonl and wandb."""
        append_metrics(self.metrics_path, stage, metrics, step, attempt)
        self.track(stage, metrics, step)

    def track(self, stage: str, metrics: dict, step: int | None) -> None:
        """wandb: each stage has its own x-axis `<stage>/step` (stages restart at step 0, and wandb's global
        step must only grow); all metrics of one optimizer step go in one row. Summaries go to the run summary."""
        if self.wandb is None:
            return
        named = {f"{stage}/{k}": v for k, v in metrics.items()}
        if step is None:
            self.wandb.summary.update(named)
            return
        if stage not in self.tracked_stages:
            self.wandb.define_metric(f"{stage}/step")
            self.wandb.define_metric(f"{stage}/*", step_metric=f"{stage}/step")
            self.tracked_stages.add(stage)
        self.wandb.log({**named, f"{stage}/step": step})

    def metric_count(self) -> int:
        return len(read_metrics(self.run_dir))

    def forward_to_tracker(self, first_row: int) -> None:
        """Send rows that another process (rank 0 under torchrun) appended to metrics.jsonl on to wandb."""
        grouped: dict[tuple, dict] = {}
        for row in read_metrics(self.run_dir)[first_row:]:
            grouped.setdefault((row["stage"], row["step"]), {})[row["name"]] = row["value"]
        for (stage, step), metrics in grouped.items():
            self.track(stage, metrics, step)


def start_wandb(run_dir: Path, recipe, run_id: str):
    """Offline by default (no account needed); WANDB_MODE=online syncs live."""
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    return wandb.init(
        project=recipe.wandb_project,
        name=run_dir.name,
        id=run_id,
        resume="allow",
        dir=str(run_dir),
        mode=os.environ.get("WANDB_MODE", "offline"),
        config=recipe.resolved,
    )
