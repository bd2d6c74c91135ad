"""wandb receives every metric of one optimizer step in one row at that step (also under `processes: 2`),
and summaries in the run summary; metrics.jsonl survives a torn last line."""

import json

import pytest

from align.engine import runlog
from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from tests.conftest import write_recipe


class FakeWandb:
    def __init__(self):
        self.rows, self.summary, self.axes = [], {}, {}

    def log(self, row, step=None):
        self.rows.append(dict(row))

    def define_metric(self, name, step_metric=None):
        self.axes[name] = step_metric

    def finish(self):
        pass


@pytest.fixture
def fake_wandb(monkeypatch):
    fake = FakeWandb()
    monkeypatch.setattr(runlog, "start_wandb", lambda *a, **k: fake)
    return fake


def sft_recipe(tmp_path, processes: int):
    return write_recipe(
        tmp_path,
        f"stages:\n  tune: {{stage: sft, model: 'world:base', data: 'world:sft', "
        f"limit: 32, max_steps: 4, logging_steps: 2, batch_size: 4, processes: {processes}}}\n",
    )


def check_rows(fake: FakeWandb):
    steps = [r for r in fake.rows if "tune/step" in r]
    assert [r["tune/step"] for r in steps] == [2, 4]
    for row in steps:  # the step's loss, lr and grad norm arrive together
        assert {"tune/train/loss", "tune/train/learning_rate", "tune/train/grad_norm"} <= set(row)
    assert fake.axes["tune/*"] == "tune/step"
    assert fake.summary["tune/train/steps"] == 4


@pytest.mark.slow
def test_wandb_gets_each_step_in_one_row(tmp_path, fake_wandb):
    Engine(load_recipe(str(sft_recipe(tmp_path, 1))), tmp_path / "run").run()
    check_rows(fake_wandb)


@pytest.mark.slow
def test_wandb_gets_steps_under_torchrun(tmp_path, fake_wandb):
    Engine(load_recipe(str(sft_recipe(tmp_path, 2))), tmp_path / "run").run()
    check_rows(fake_wandb)


def test_torn_last_metric_line_is_skipped_then_repaired(tmp_path):
    path = tmp_path / "metrics.jsonl"
    runlog.append_metrics(path, "a", {"x": 1.0}, 1)
    with open(path, "a") as f:
        f.write('{"stage": "a", "step": 2, "na')  # a kill mid-write
    assert [r["value"] for r in runlog.read_metrics(tmp_path)] == [1.0]
    log = runlog.RunLog.__new__(runlog.RunLog)
    log.run_dir, log.metrics_path = tmp_path, path
    log.begin_stage("b", -1, "h1", None)
    runlog.append_metrics(path, "b", {"y": 2.0}, 1)
    assert [(r["name"], r["value"]) for r in runlog.read_metrics(tmp_path)] == [("x", 1.0), ("y", 2.0)]
    path.write_text(path.read_text() + "garbage\n" + json.dumps({"stage": "b"}) + "\n")
    with pytest.raises(Exception, match=r"metrics.jsonl: line 3"):
        runlog.read_metrics(tmp_path)


def test_run_report_draws_each_scale_on_its_own_axis(tmp_path):
    """Rates share the 0-1 axis; a reward-model score (about 5) or a NLL gets a panel of its own."""
    from align.engine.report import axis_groups, plot_evaluations

    stages = [
        {"name": "eval_sft", "metrics": {"eval/gold_score": 0.8, "eval/win_rate": 0.5}},
        {"name": "eval_rs", "metrics": {"eval/gold_score": 0.9, "eval/rm_score": 5.2, "eval/heldout_nll": 0.4}},
        {"name": "eval_dpo", "metrics": {"eval/heldout_nll": 1.3}},
    ]
    names = ["eval/gold_score", "eval/heldout_nll", "eval/rm_score", "eval/win_rate"]
    assert axis_groups(stages, names) == [["eval/gold_score", "eval/win_rate"], ["eval/heldout_nll"], ["eval/rm_score"]]
    assert plot_evaluations(stages, tmp_path / "evaluation.png") and (tmp_path / "evaluation.png").stat().st_size > 0
