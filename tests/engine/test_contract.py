"""The engine's contract with stages: a new stage is one module + one registry line; stage dirs are keyed by
name; a re-run says why; every stage starts from its own seed; failures keep the last good output."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import align
from align.cli import app
from align.engine.recipe import load_recipe
from align.engine.report import run_overview, summary_table, write_report
from align.engine.runner import Engine
from align.engine.stage_dir import prepare as prepare_stage_dir
from align.errors import AlignError
from tests.conftest import write_recipe
from tests.fake_stages import CHAIN, run


def test_toy_stage_is_one_module_and_one_registry_line(tmp_path, monkeypatch):
    from align import stages

    monkeypatch.setitem(stages.STAGES, "toy", "tests.toy_stage")  # the one registry line
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "x"}\n{"prompt": "yy"}\n')
    path = write_recipe(
        tmp_path,
        f"tracking: none\nstages:\n  count: {{stage: toy, data: {prompts}, factor: 2}}\n"
        f"  again: {{stage: toy, data: '${{count.data}}'}}\n",
    )
    summaries = run(path, run_dir=tmp_path / "run")
    assert [s["metrics"]["toy/count"] for s in summaries] == [4.0, 2.0]
    overview = run_overview(tmp_path / "run")
    assert overview["stages"][0]["values"] == {"rows": 2} and overview["stages"][0]["key_metrics"] == ["toy/count"]
    table = summary_table(summaries, "t")
    assert [c.header for c in table.columns][3:] == ["count"]  # the stage's key metric, not its detail
    assert "| toy/count |" in write_report(tmp_path / "run").read_text()
    # a bad dataset for the toy stage is caught before anything runs, like any built-in stage's
    bad = write_recipe(
        tmp_path, f"tracking: none\nstages:\n  count: {{stage: toy, data: {tmp_path}/nope.jsonl}}\n", "bad.yaml"
    )
    with pytest.raises(AlignError, match=r"stage 'count', key 'data'.*nope.jsonl"):
        run(bad, run_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_inserting_a_stage_reruns_only_the_new_stage(tmp_path, fake_stages):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    done = {p.parent.name: p.read_text() for p in (tmp_path / "run").glob("*/DONE")}
    fake_stages.CALLS.clear()
    inserted = CHAIN.replace("  b: {", '  peek: {stage: echo, value: P, source: "${a.text}"}\n  b: {')
    summaries = run(write_recipe(tmp_path, inserted, "inserted.yaml"), run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["P"]
    assert [s["status"] for s in summaries] == ["skipped", "ran", "skipped", "skipped"]
    assert {n: (tmp_path / "run" / n / "DONE").read_text() for n in "abc"} == done
    # and removing it again re-runs nothing either
    fake_stages.CALLS.clear()
    run(path, run_dir=tmp_path / "run")
    assert fake_stages.CALLS == []


def test_show_says_why_a_stage_reran(tmp_path, fake_stages):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    run(path, ["stages.b.value=BB"], run_dir=tmp_path / "run")
    stages = {s["name"]: s for s in run_overview(tmp_path / "run")["stages"]}
    assert stages["a"]["rerun_reasons"] == ["no finished run of this stage"]  # from the first run, unchanged
    assert stages["b"]["rerun_reasons"] == ['config value: "B" -> "BB"']
    assert stages["c"]["rerun_reasons"] == ["upstream stage b changed"]
    recorded = json.loads((tmp_path / "run" / "b" / "stage.json").read_text())
    assert recorded["inputs"]["config"]["value"] == "BB" and recorded["rerun_reasons"] == ['config value: "B" -> "BB"']
    shown = CliRunner().invoke(app, ["show", str(tmp_path / "run")], terminal_width=200)
    assert "upstream stage b changed" in shown.output


def test_done_stage_with_missing_output_reruns(tmp_path, fake_stages):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    (tmp_path / "run" / "b" / "value.txt").unlink()
    fake_stages.CALLS.clear()
    run(path, run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["B"]  # c's inputs hash the same, so c is reused
    assert (tmp_path / "run" / "b" / "value.txt").read_text() == "AB"
    assert run_overview(tmp_path / "run")["stages"][1]["rerun_reasons"] == ["output text is missing"]


def test_done_stage_with_altered_output_reruns(tmp_path, fake_stages):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    (tmp_path / "run" / "b" / "value.txt").write_text("tampered")
    fake_stages.CALLS.clear()
    run(path, run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["B"] and (tmp_path / "run" / "b" / "value.txt").read_text() == "AB"
    assert run_overview(tmp_path / "run")["stages"][1]["rerun_reasons"] == ["output text was changed"]


def test_user_overrides_win_over_smoke(tmp_path, fake_stages):
    text = CHAIN + "smoke: {stages.b.value: small}\n"
    assert load_recipe(str(write_recipe(tmp_path, text)), smoke=True).stages[1].config["value"] == "small"
    assert (
        load_recipe(str(write_recipe(tmp_path, text)), ["stages.b.value=mine"], smoke=True).stages[1].config["value"]
        == "mine"
    )


def test_failed_rerun_keeps_the_previous_output(tmp_path, fake_stages):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    with pytest.raises(RuntimeError, match="on purpose"):
        run(path, ["stages.b.fail=true"], run_dir=tmp_path / "run")
    assert (tmp_path / "run" / "b" / "value.txt").read_text() == "AB"
    assert (tmp_path / "run" / "b" / "DONE").exists()  # still the old, intact result
    fake_stages.CALLS.clear()
    run(path, run_dir=tmp_path / "run")  # back to the old config: nothing to redo
    assert fake_stages.CALLS == []


def test_every_stage_starts_from_its_own_seed(tmp_path, fake_stages):
    alone = write_recipe(tmp_path, "tracking: none\nstages:\n  d: {stage: draw}\n", "alone.yaml")
    after = write_recipe(
        tmp_path, "tracking: none\nstages:\n  x: {stage: draw, label: x}\n  d: {stage: draw}\n", "after.yaml"
    )
    run(alone, run_dir=tmp_path / "alone")
    run(after, run_dir=tmp_path / "after")
    first = json.loads((tmp_path / "alone" / "d" / "draws.json").read_text())
    assert first == json.loads((tmp_path / "after" / "d" / "draws.json").read_text())
    assert first != json.loads((tmp_path / "after" / "x" / "draws.json").read_text())  # seeds differ by name
    run(alone, ["seed=1"], run_dir=tmp_path / "seed1")
    assert json.loads((tmp_path / "seed1" / "d" / "draws.json").read_text()) != first


def test_changed_config_discards_stale_checkpoints(tmp_path):
    stage = tmp_path / "s"
    prepare_stage_dir(stage, "hash1")
    (stage / ".work" / "checkpoints" / "checkpoint-5").mkdir(parents=True)
    prepare_stage_dir(stage, "hash1")  # same config: a killed attempt resumes from its checkpoint
    assert (stage / ".work" / "checkpoints" / "checkpoint-5").exists()
    prepare_stage_dir(stage, "hash2")  # another config: its checkpoints are not ours to resume
    assert not (stage / ".work" / "checkpoints").exists() and (stage / ".work" / "HASH").read_text() == "hash2"


def test_failed_stage_records_its_innermost_frames(tmp_path, fake_stages):
    path = write_recipe(tmp_path, "tracking: none\nstages:\n  b: {stage: boom}\n")
    with pytest.raises(RuntimeError):
        run(path, run_dir=tmp_path / "run")
    error = json.loads((tmp_path / "run" / "run.json").read_text())["stages"]["b"]["error"]
    assert "run_boom" in error and "RuntimeError: boom" in error
    assert "run_stages" not in error  # the engine's outer frames are not what a user needs


@pytest.mark.parametrize(
    "text, message",
    [
        ("stages:\n  a: {stage: echo}\n  a: {stage: echo, value: B}\n", "duplicate key 'a'"),
        (
            "stages:\n  it1-a: {stage: echo}\n  loop: {repeat: 1, stages: {a: {stage: echo}}}\n",
            "two stages are named 'it1-a'",
        ),
        ("stages:\n  'a/b': {stage: echo}\n", "must be letters"),
    ],
)
def test_stage_names_are_unique_dir_names(tmp_path, fake_stages, text, message):
    with pytest.raises(AlignError, match=message):
        load_recipe(str(write_recipe(tmp_path, "tracking: none\n" + text)))


def test_python_api_returns_metrics_and_outputs(tmp_path, fake_stages):
    result = align.run(str(write_recipe(tmp_path, CHAIN)), {"stages.b.value": "BB"}, run_dir=tmp_path / "run")
    assert result.metrics["b"] == {"echo/length": 2.0}
    assert Path(result.outputs["c"]["text"]).read_text() == "ABBC"
    assert result.report.exists()
    again = align.run(str(write_recipe(tmp_path, CHAIN)), ["stages.b.value=BB"], run_dir=tmp_path / "run")
    assert [s["status"] for s in again.summaries] == ["skipped"] * 3 and again.metrics == result.metrics


def test_one_run_per_run_dir(tmp_path, fake_stages):
    from align.engine.runlock import RunLock

    path = write_recipe(tmp_path, CHAIN)
    with (
        RunLock(tmp_path / "run"),  # as if another `align run` held the dir
        pytest.raises(AlignError, match=r"in use by another `align run` \(pid \d+\)"),
    ):
        run(path, run_dir=tmp_path / "run")
    assert fake_stages.CALLS == []
    run(path, run_dir=tmp_path / "run")  # released: runs
    assert fake_stages.CALLS == ["A", "B", "C"]


def test_another_recipe_in_a_run_dir_is_refused_unless_fresh(tmp_path, fake_stages):
    run(write_recipe(tmp_path, CHAIN), run_dir=tmp_path / "run")
    other = write_recipe(tmp_path, "name: other\ntracking: none\nstages:\n  a: {stage: echo, value: Z}\n", "o.yaml")
    with pytest.raises(AlignError, match="holds a run of recipe 'chain', not 'other'.*--fresh"):
        run(other, run_dir=tmp_path / "run")
    assert (tmp_path / "run" / "c" / "DONE").exists()  # untouched
    Engine(load_recipe(str(other)), tmp_path / "run", fresh=True).run()
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.is_dir()) == ["a"]
    (tmp_path / "run" / "run.json").write_text("{not json")
    with pytest.raises(AlignError, match="run.json is not a run record"):
        run(other, run_dir=tmp_path / "run")


def test_a_checkpoint_cut_short_by_a_kill_is_not_resumed_from(tmp_path):
    from align.training.checkpoints import last_checkpoint, resumed_step

    for step, state in ((5, "{}"), (10, None), (15, '{"global_st')):  # 10: no state yet; 15: torn state
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "model.safetensors").write_text("x")
        if state is not None:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    assert last_checkpoint(tmp_path).endswith("checkpoint-5") and resumed_step(tmp_path) == 5
