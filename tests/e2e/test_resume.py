"""End-to-end runs of the real CLI in subprocesses: smoke run, resume, kill -9 mid-training."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from align.engine.report import run_overview
from tests.conftest import align

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def stage_json(run_dir: Path, dirname: str) -> dict:
    return json.loads((run_dir / dirname / "stage.json").read_text())


def kill_after_checkpoint(args: list[str], run_dir: Path, stage: str) -> None:
    """`align run ARGS` in its own process group, killed -9 just after `stage` saved its first checkpoint."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "run", *args, "--run-dir", str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    checkpoints = run_dir / stage / ".work" / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and not any(checkpoints.glob("checkpoint-*/trainer_state.json")):
        time.sleep(0.1)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any(checkpoints.glob("checkpoint-*")), "training never checkpointed before the kill"


def test_smoke_run_then_rerun_skips_everything(tmp_path):
    run_dir = tmp_path / "sft"
    first = align("run", "sft", "--smoke", "--run-dir", str(run_dir))
    assert first.returncode == 0, first.stderr[-3000:]
    for name in ("eval_base", "sft", "eval_sft"):
        assert (run_dir / name / "DONE").exists()
    assert (run_dir / "sft" / "model" / "model.safetensors").exists()
    assert (run_dir / "report.md").exists() and (run_dir / "evaluation.png").exists()
    assert (run_dir / "wandb").is_dir()  # offline wandb run
    metrics = stage_json(run_dir, "eval_sft")["metrics"]
    assert {"eval/pass@1", "eval/pass@4", "eval/gold_score", "eval/win_rate", "eval/rouge_l"} <= set(metrics)
    assert "eval/gold_score: world:instruct_test (8 rows), judge gold_judge, greedy" in first.stdout  # under the table
    done_before = {p: p.read_text() for p in run_dir.glob("*/DONE")}

    started = time.time()
    second = align("run", "sft", "--smoke", "--run-dir", str(run_dir))
    assert second.returncode == 0, second.stderr[-3000:]
    assert {p: p.read_text() for p in run_dir.glob("*/DONE")} == done_before  # nothing redone
    assert second.stdout.count("skipped") >= 3
    assert time.time() - started < 60

    shown = json.loads(align("show", str(run_dir), "--json").stdout)
    assert shown["recipe"] == "sft"
    assert [s["status"] for s in shown["stages"]] == ["done", "done", "done"]
    assert shown["stages"][2]["metrics"]["eval/gold_score"] == metrics["eval/gold_score"]


def test_kill_during_training_then_resume_matches_uninterrupted(tmp_path):
    args = ["--smoke", "tracking=none", "stages.sft.max_steps=60", "stages.sft.save_steps=10", "data.verifiable=null"]
    reference = tmp_path / "reference"
    assert align("run", "sft", *args, "--run-dir", str(reference)).returncode == 0

    run_dir = tmp_path / "killed"
    kill_after_checkpoint(["sft", *args], run_dir, "sft")
    assert not (run_dir / "sft" / "DONE").exists()
    eval_base_done = (run_dir / "eval_base" / "DONE").read_text()

    resumed = align("run", "sft", *args, "--run-dir", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run_dir / "eval_base" / "DONE").read_text() == eval_base_done  # not redone
    assert stage_json(run_dir, "sft")["metrics"]["train/steps"] == 60
    assert weights(run_dir / "sft" / "model") == weights(reference / "sft" / "model")  # same weights, bit for bit
    assert stage_json(run_dir, "sft")["metrics"]["train/loss"] == stage_json(reference, "sft")["metrics"]["train/loss"]
    assert stage_json(run_dir, "eval_sft")["metrics"] == stage_json(reference, "eval_sft")["metrics"]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    keys = [(r["stage"], r["step"], r["name"]) for r in rows]
    assert len(keys) == len(set(keys)), "a metric was logged twice for the same step after the resume"
    assert sorted(map(str, (k for k in keys if k[0] == "sft"))) == sorted(
        str((r["stage"], r["step"], r["name"]))
        for r in map(json.loads, (reference / "metrics.jsonl").read_text().splitlines())
        if r["stage"] == "sft"
    )


def weights(model_dir: Path) -> str:
    from transformers import AutoModelForCausalLM

    from align.loading.digests import weights_digest

    return weights_digest(AutoModelForCausalLM.from_pretrained(str(model_dir)))


def test_a_killed_rerun_leaves_a_record_of_the_outputs_on_disk(tmp_path):
    """Issue 28, finding 9: a stage finished with max_steps=3, re-run with 3000 and killed -9 inside it. The
    record must describe the 3-step model on disk: `align show` says a re-run was interrupted, the plots and the
    metrics of the stage are the finished run's, and resuming with max_steps=3 reuses it with its own rows only."""
    args = ["--smoke", "tracking=none", "stages.eval_base=null", "stages.eval_sft=null", "stages.sft.logging_steps=1"]
    run_dir = tmp_path / "run"
    assert align("run", "sft", *args, "stages.sft.max_steps=3", "--run-dir", str(run_dir)).returncode == 0
    finished = stage_json(run_dir, "sft")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "run", "sft", *args, "stages.sft.max_steps=3000"]
        + ["--run-dir", str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline and sft_steps(run_dir, finished=False) < 10:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert sft_steps(run_dir, finished=False) >= 10, "the re-run never logged its steps before the kill"

    shown = {s["name"]: s for s in run_overview(run_dir)["stages"]}  # what `align show --json` prints
    assert (shown["sft"]["status"], shown["sft"]["rerun"]) == ("done", "interrupted")
    assert shown["sft"]["metrics"] == finished["metrics"]
    assert "config max_steps: 3 -> 3000" in shown["sft"]["rerun_reasons"]
    table = align("show", str(run_dir)).stdout
    assert "interrupted" in table and "re-run" in table, table
    assert sft_steps(run_dir, finished=True) == 3  # what the report plots

    resumed = align("run", "sft", *args, "stages.sft.max_steps=3", "--run-dir", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert stage_json(run_dir, "sft") == finished  # reused
    rows = [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["stage"] == "sft"]
    assert max(r["step"] for r in rows if r["step"] is not None) == 3  # the killed attempt's rows are gone
    assert {r["name"]: r["value"] for r in rows if r["step"] is None} == finished["metrics"]  # summary rows kept
    shown = {s["name"]: s for s in run_overview(run_dir)["stages"]}
    assert shown["sft"]["rerun"] is None and shown["sft"]["rerun_reasons"] == finished.get("rerun_reasons", [])


def sft_steps(run_dir: Path, finished: bool) -> int:
    """The last training step of `sft` in metrics.jsonl: of its finished outputs' rows, or of any row."""
    from align.engine.runlog import finished_rows, read_metrics

    rows = read_metrics(run_dir)
    rows = finished_rows(run_dir, rows) if finished else rows
    return max((r["step"] for r in rows if r["stage"] == "sft" and r["step"] is not None), default=0)


@pytest.mark.parametrize("stage_type", ["grpo", pytest.param("rloo", marks=pytest.mark.bench)])  # rloo: -m bench
def test_kill_inside_online_rl_then_resume(tmp_path, stage_type):
    """kill -9 inside `grpo`/`rloo` after a checkpoint, then the same command: the stage finishes with the step
    count of an uninterrupted run, no step logged twice, and (the Trainer restores the RNG state it saved with the
    checkpoint, so the completions sampled after it are the same) the same weights and final reward."""
    stage = (
        f"{{stage: {stage_type}, model: 'world:base', data: world:arith_hard_train, limit: 64, num_generations: 4, "
        "batch_size: 8, max_steps: 12, save_steps: 4, logging_steps: 1, learning_rate: 0.0003, "
        "max_completion_length: 24}"
    )
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"tracking: none\nstages:\n  rl: {stage}\n")
    reference = tmp_path / "reference"
    assert align("run", str(recipe), "--run-dir", str(reference)).returncode == 0
    run_dir = tmp_path / "killed"
    kill_after_checkpoint([str(recipe)], run_dir, "rl")
    assert not (run_dir / "rl" / "DONE").exists()
    resumed = align("run", str(recipe), "--run-dir", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if r["name"] == "train/loss" and r["step"] is not None]
    assert steps == list(range(1, 13))  # every step once
    assert stage_json(run_dir, "rl")["metrics"]["train/steps"] == 12
    assert weights(run_dir / "rl" / "model") == weights(reference / "rl" / "model")
    assert (
        stage_json(run_dir, "rl")["metrics"]["train/reward"] == stage_json(reference, "rl")["metrics"]["train/reward"]
    )
