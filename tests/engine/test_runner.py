"""The engine: run dir layout, skip and rerun rules, loops and references, failures that leave nothing half-written."""

import json
import shutil

import pytest

from align.engine.runlog import read_metrics
from tests.conftest import write_recipe
from tests.fake_stages import CHAIN, run


def test_layout_and_outputs(tmp_path, fake_stages):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    run_dir = tmp_path / "run"
    assert (run_dir / "recipe.yaml").exists() and (run_dir / "run.json").exists()
    for name in "abc":
        stage = run_dir / name
        assert (stage / "DONE").exists() and (stage / "data.jsonl").exists()
        assert json.loads((stage / "stage.json").read_text())["outputs"]["text"] == "value.txt"
        assert not (stage / ".out").exists() and not (stage / ".work").exists()
    assert (run_dir / "c" / "value.txt").read_text() == "ABC"
    names = {(m["stage"], m["name"]) for m in read_metrics(run_dir)}
    assert ("b", "echo/length") in names
    assert json.loads((run_dir / "run.json").read_text())["status"] == "done"


def test_rerun_skips_everything(tmp_path, fake_stages):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["A", "B", "C"]
    summaries = run(path, run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["A", "B", "C"]
    assert [s["status"] for s in summaries] == ["skipped"] * 3


def test_changed_config_reruns_stage_and_downstream_only(tmp_path, fake_stages):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    fake_stages.CALLS.clear()
    run(path, ["stages.b.value=BB"], run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["BB", "C"]
    assert (tmp_path / "run" / "c" / "value.txt").read_text() == "ABBC"


def upgrade_echo(monkeypatch):
    """The echo stage as a newer align might ship it: one more config field, whose default keeps the old behaviour."""
    from types import SimpleNamespace

    from align import stages
    from tests import fake_stages as fakes

    class NewerEchoConfig(fakes.EchoConfig):
        copies: int = 1

    monkeypatch.setitem(stages.STAGES, "echo", SimpleNamespace(Config=NewerEchoConfig, run=fakes.run_echo))


def test_a_field_added_since_at_its_default_reuses_the_stage(tmp_path, fake_stages, monkeypatch):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    upgrade_echo(monkeypatch)
    summaries = run(path, run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["A", "B", "C"] and [s["status"] for s in summaries] == ["skipped"] * 3
    assert [s["status"] for s in run(path, run_dir=tmp_path / "run")] == ["skipped"] * 3  # and again


def test_a_field_added_since_but_set_reruns(tmp_path, fake_stages, monkeypatch):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    upgrade_echo(monkeypatch)
    summaries = run(path, ["stages.b.copies=1"], run_dir=tmp_path / "run")  # set, even to its default: a change
    assert fake_stages.CALLS == ["A", "B", "C", "B", "C"]
    assert summaries[1]["rerun_reasons"] == ['config copies: "<unset>" -> 1']


def test_changed_input_file_reruns(tmp_path, fake_stages):
    source = tmp_path / "input.txt"
    source.write_text("one")
    path = write_recipe(tmp_path, f"tracking: none\nstages:\n  a: {{stage: echo, value: A, source: {source}}}\n")
    run(path, run_dir=tmp_path / "run")
    run(path, run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["A"]
    source.write_text("two")
    run(path, run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["A", "A"]


def test_failed_stage_leaves_no_done_and_no_artifact(tmp_path, fake_stages):
    path = write_recipe(tmp_path, "tracking: none\nstages:\n  a: {stage: echo, value: A}\n  b: {stage: boom}\n")
    with pytest.raises(RuntimeError, match="boom"):
        run(path, run_dir=tmp_path / "run")
    stage = tmp_path / "run" / "b"
    assert not (stage / "DONE").exists() and not (stage / "data.jsonl").exists()
    assert (tmp_path / "run" / "a" / "DONE").exists()
    state = json.loads((tmp_path / "run" / "run.json").read_text())
    assert state["status"] == "failed" and state["stages"]["b"]["status"] == "failed"


def test_stale_half_written_stage_is_redone(tmp_path, fake_stages):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    stage = tmp_path / "run" / "b"
    (stage / "DONE").unlink()  # as if killed after promoting outputs but before DONE
    (stage / "value.txt").write_text("garbage")
    fake_stages.CALLS.clear()
    run(path, run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["B"]  # c's inputs hash the same, so c is reused
    assert (stage / "value.txt").read_text() == "AB"


def loop_recipe(tmp_path, repeat: int, after: str):
    """A repeat block whose `gen` stage appends to the previous iteration's text, then `after`."""
    seed = tmp_path / "seed.txt"
    seed.write_text("S")
    return write_recipe(
        tmp_path,
        f"""
tracking: none
stages:
  loop:
    repeat: {repeat}
    initial: {{gen.text: {seed}}}
    stages:
      gen: {{stage: echo, value: g, source: "${{prev.gen.text}}"}}
  after: {after.replace("SEED", str(seed))}
""",
    )


def test_repeat_block_threads_previous_iteration(tmp_path, fake_stages):
    path = loop_recipe(tmp_path, 3, '{stage: echo, value: Z, source: "${loop.gen.text}"}')
    run(path, run_dir=tmp_path / "run")
    run_dir = tmp_path / "run"
    assert (run_dir / "it1-gen" / "value.txt").read_text() == "Sg"
    assert (run_dir / "it3-gen" / "value.txt").read_text() == "Sggg"
    assert (run_dir / "after" / "value.txt").read_text() == "SgggZ"


def test_missing_initial_for_prev_is_an_error(tmp_path, fake_stages):
    from align.errors import AlignError

    path = write_recipe(
        tmp_path,
        """
tracking: none
stages:
  loop:
    repeat: 2
    stages:
      gen: {stage: echo, value: g, source: "${prev.gen.text}"}
""",
    )
    with pytest.raises(AlignError, match="initial"):
        run(path, run_dir=tmp_path / "run")


def test_star_reference_collects_every_iteration(tmp_path, fake_stages):
    path = loop_recipe(tmp_path, 2, '{stage: echo, value: Z, sources: ["SEED", "${loop.*.gen.text}"]}')
    run(path, run_dir=tmp_path / "run")
    assert (tmp_path / "run" / "after" / "value.txt").read_text() == "S|Sg|SggZ"


@pytest.mark.parametrize("relative", [False, True])
def test_a_copied_run_dir_still_resumes(tmp_path, fake_stages, monkeypatch, relative):
    import shutil
    from pathlib import Path

    path = write_recipe(tmp_path, CHAIN)
    monkeypatch.chdir(tmp_path)
    root = Path("runs") if relative else tmp_path / "runs"
    run(path, run_dir=root / "run")
    shutil.copytree(root / "run", root / "copy")
    fake_stages.CALLS.clear()
    summaries = run(path, run_dir=root / "copy")
    assert fake_stages.CALLS == [] and [s["status"] for s in summaries] == ["skipped"] * 3


def test_changing_the_seed_reruns(tmp_path, fake_stages):
    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    fake_stages.CALLS.clear()
    run(path, ["seed=1"], run_dir=tmp_path / "run")
    assert fake_stages.CALLS == ["A", "B", "C"]


def test_show_reports_running_pending_and_done(tmp_path, fake_stages):
    import os

    from align.engine.report import run_overview
    from align.engine.runlog import write_json

    path = write_recipe(tmp_path, CHAIN)
    run(path, run_dir=tmp_path / "run")
    overview = run_overview(tmp_path / "run")
    assert [s["status"] for s in overview["stages"]] == ["done"] * 3
    assert overview["stages"][0]["metrics"] == {"echo/length": 1.0}
    (tmp_path / "run" / "c" / "DONE").unlink()
    state = json.loads((tmp_path / "run" / "run.json").read_text())
    state["stages"]["c"]["status"], state["status"], state["pid"] = "running", "running", os.getpid()
    write_json(tmp_path / "run" / "run.json", state)
    assert run_overview(tmp_path / "run")["stages"][2]["status"] == "running"
    state["pid"] = 2**22 + 12345  # no such process: the run was killed
    write_json(tmp_path / "run" / "run.json", state)
    overview = run_overview(tmp_path / "run")
    assert overview["stages"][2]["status"] == "interrupted" and overview["status"] == "interrupted"


def test_a_stage_that_skips_a_declared_output_fails_and_records_nothing(tmp_path, fake_stages, monkeypatch):
    """A stage whose result names an output it never wrote (a rank that did not save, say) is a failure, not a
    finished stage that later stages would read from."""
    from types import SimpleNamespace

    from align import stages
    from align.errors import AlignError
    from tests import fake_stages as fakes

    def forgetful(config, ctx):
        result = fakes.run_echo(config, ctx)
        (ctx.out_dir / "value.txt").unlink()
        return result

    monkeypatch.setitem(stages.STAGES, "echo", SimpleNamespace(Config=fakes.EchoConfig, run=forgetful))
    path = write_recipe(tmp_path, "tracking: none\nstages:\n  a: {stage: echo, value: A}\n")
    with pytest.raises(AlignError, match=r"stage 'a' \(echo\) finished without writing its output\(s\) \['text'\]"):
        run(path, run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "a" / "DONE").exists() and not (tmp_path / "run" / "a" / "stage.json").exists()


def split_recipe(tmp_path, data: str):
    stage = f"  cut: {{stage: split, data: {data}, parts: {{head: 1, rest: null}}}}\n"
    return write_recipe(tmp_path, "tracking: none\nstages:\n" + stage)


def head_row(run_dir) -> dict:
    return json.loads((run_dir / "cut" / "head.jsonl").read_text().splitlines()[0])


def test_an_input_file_inside_the_run_dir_is_fingerprinted(tmp_path):
    """Issue 28, finding 8b: only upstream stages' outputs are covered by their hashes; a user's file that
    happens to live in the run dir is digested like any other."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    data = run_dir / "mydata.jsonl"
    data.write_text('{"x": 1}\n{"x": 2}\n')
    path = split_recipe(tmp_path, str(data))
    run(path, run_dir=run_dir)
    data.write_text('{"x": 3}\n{"x": 4}\n')
    assert [s["status"] for s in run(path, run_dir=run_dir)] == ["ran"]
    assert head_row(run_dir) == {"x": 3}


def test_a_bare_name_local_input_is_fingerprinted(tmp_path, monkeypatch):
    """Issue 28, finding 8a: `model: mymodel` (no `/` or `.`) is local when it exists, so it is digested too."""
    from datasets import Dataset

    monkeypatch.chdir(tmp_path)
    Dataset.from_list([{"x": 1}, {"x": 2}]).save_to_disk("mydata")
    path = split_recipe(tmp_path, "mydata")
    run(path, run_dir=tmp_path / "run")
    shutil.rmtree("mydata")
    Dataset.from_list([{"x": 5}, {"x": 6}]).save_to_disk("mydata")
    assert [s["status"] for s in run(path, run_dir=tmp_path / "run")] == ["ran"]
    assert head_row(tmp_path / "run") == {"x": 5}
