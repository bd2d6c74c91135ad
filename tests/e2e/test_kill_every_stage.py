"""kill -9 inside every stage of `xwin-pipeline --smoke` in turn, resuming after each kill, as a user would (a
separate process each time): every metric of the finished run equals an uninterrupted run's.

About 3 minutes, so it is marked `bench` and left out of the default test run (and CI):
`python -m pytest -m bench tests/e2e/test_kill_every_stage.py`."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["run", "xwin-pipeline", "--smoke", "tracking=none"]
pytestmark = pytest.mark.bench


def start(run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), *ARGS, "--run-dir", str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stage_status(run_dir: Path, name: str) -> str | None:
    try:
        return json.loads((run_dir / "run.json").read_text())["stages"][name]["status"]
    except (OSError, ValueError, KeyError):
        return None


def finished_metrics(run_dir: Path) -> tuple[dict, list]:
    stages = {p.parent.name: json.loads(p.read_text())["metrics"] for p in run_dir.glob("*/stage.json")}
    rows = sorted(
        json.dumps({k: r[k] for k in ("stage", "step", "name", "value")}, sort_keys=True)
        for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
    )
    return stages, rows


def test_kill_inside_every_stage_then_resume_equals_uninterrupted(tmp_path):
    reference = tmp_path / "reference"
    assert start(reference).wait(timeout=600) == 0
    names = list(json.loads((reference / "run.json").read_text())["stages"])
    run_dir, hit = tmp_path / "killed", []
    while True:  # start; kill -9 as soon as the next unfinished stage runs; start again ... until it finishes
        proc, killed = start(run_dir), False
        while proc.poll() is None and not killed:
            running = [
                n
                for n in names
                if n not in hit and stage_status(run_dir, n) == "running" and not (run_dir / n / "DONE").exists()
            ]
            if running:
                os.killpg(proc.pid, signal.SIGKILL)
                hit.append(running[0])
                killed = True
            time.sleep(0.005)
        proc.wait(timeout=300)
        if not killed:
            assert proc.returncode == 0
            break
    print(f"killed inside {len(hit)} of {len(names)} stages: {hit}")
    assert len(hit) >= len(names) - 4, f"killed inside only {hit}"  # the fastest stages can finish between polls
    got, want = finished_metrics(run_dir), finished_metrics(reference)
    assert got[0] == want[0]  # every stage's summary metrics
    assert got[1] == want[1]  # every logged metric row, each once
