"""A run's record on disk: recipe.yaml, run.json (status per stage), metrics.jsonl, and wandb.

metrics.jsonl is always written, one `{stage, step, name, value, time}` per line; wandb (offline unless
the user configures it, `tracking=none` to disable) receives the same values.
"""
from __future__ import annotations

import json
import os
import platform
import time
import uuid
from pathlib import Path

import yaml


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
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def versions() -> dict:
    import importlib.metadata as md

    found = {"python": platform.python_version()}
    for package in ("align", "torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        try:
            found[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return found


def append_metric(path: Path, stage: str, name: str, value: float, step: int | None) -> None:
    row = {"stage": stage, "step": step, "name": name, "value": value, "time": time.time()}
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


class RunLog:
    def __init__(self, run_dir: Path, recipe):
        self.run_dir = Path(run_dir)
        self.recipe = recipe
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.wandb = None
        tmp = self.run_dir / ".recipe.yaml.tmp"
        tmp.write_text(yaml.safe_dump(recipe.resolved, sort_keys=False))
        os.replace(tmp, self.run_dir / "recipe.yaml")

    def start(self, stages: list[tuple[str, str]]) -> dict:
        state = read_json(self.run_dir / "run.json") or {"wandb_id": uuid.uuid4().hex[:12], "attempts": 0}
        previous = state.get("stages", {})
        state.update({
            "recipe": self.recipe.name, "seed": self.recipe.seed, "versions": versions(),
            "status": "running", "pid": os.getpid(), "started": time.time(), "ended": None,
            "attempts": state.get("attempts", 0) + 1,
            "stages": {name: {"dir": d, "status": previous.get(name, {}).get("status", "pending")}
                       for name, d in stages},
        })
        write_json(self.run_dir / "run.json", state)
        if self.recipe.tracking == "wandb":
            self.wandb = start_wandb(self.run_dir, self.recipe, state["wandb_id"])
        return state

    def stage_status(self, state: dict, name: str, status: str, skipped: bool = False, error: str = None):
        entry = state["stages"][name]
        entry["status"] = status
        entry["skipped" if skipped else "updated"] = True if skipped else time.time()
        if error:
            entry["error"] = error
        write_json(self.run_dir / "run.json", state)

    def finish(self, state: dict, status: str) -> None:
        state.update(status=status, ended=time.time())
        write_json(self.run_dir / "run.json", state)
        if self.wandb is not None:
            self.wandb.finish()
            self.wandb = None

    def begin_stage(self, stage: str, work_dir: Path) -> None:
        """Drop metric lines a killed attempt of this stage logged after its last checkpoint."""
        from align.training import last_checkpoint

        checkpoint = last_checkpoint(Path(work_dir) / "checkpoints")
        resumed_at = int(checkpoint.rsplit("-", 1)[1]) if checkpoint else -1
        rows = read_metrics(self.run_dir)
        kept = [r for r in rows if r["stage"] != stage or (r["step"] is not None and r["step"] <= resumed_at)]
        if len(kept) != len(rows):
            tmp = self.metrics_path.with_name(".metrics.jsonl.tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
            os.replace(tmp, self.metrics_path)

    def metric(self, stage: str, name: str, value: float, step: int | None) -> None:
        append_metric(self.metrics_path, stage, name, value, step)
        if self.wandb is not None:
            self.wandb.log({f"{stage}/{name}": value})


def start_wandb(run_dir: Path, recipe, run_id: str):
    """Offline by default (no account needed); WANDB_MODE=online syncs live."""
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    return wandb.init(project=recipe.wandb_project, name=run_dir.name, id=run_id, resume="allow",
                      dir=str(run_dir), mode=os.environ.get("WANDB_MODE", "offline"),
                      config=recipe.resolved)
