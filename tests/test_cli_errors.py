"""Bad input: one clear error, a non-zero exit, and nothing half-written (in-process CLI runs)."""

import json

import pytest
from typer.testing import CliRunner

from align.cli import app

runner = CliRunner()
GOOD_ROW = {"messages": [{"role": "user", "content": "List 1 fruits."}, {"role": "assistant", "content": "fig"}]}


def data_file(tmp_path, content: bytes | str) -> str:
    path = tmp_path / "data.jsonl"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


NON_UTF8 = b'{"prompt": "\xff", "completion": "x"}\n'
CASES = {
    "malformed json": (
        lambda t: ["sft", f"data.sft={data_file(t, json.dumps(GOOD_ROW) + chr(10) + '{oops' + chr(10))}"],
        r"line 2: malformed JSON",
    ),
    "missing column": (lambda t: ["sft", f"data.sft={data_file(t, json.dumps({'prompt': 'x'}))}"], r"missing column"),
    "wrong type": (
        lambda t: ["sft", f"data.sft={data_file(t, json.dumps({'prompt': 1, 'completion': 'x'}))}"],
        r"'prompt' must be a string",
    ),
    "empty dataset": (lambda t: ["sft", f"data.sft={data_file(t, '')}"], r"empty"),
    "non-utf8": (lambda t: ["sft", "data.sft=" + data_file(t, NON_UTF8)], r"not valid UTF-8"),
    "unknown recipe": (lambda t: ["no-such-recipe"], r"unknown recipe 'no-such-recipe'"),
    "unknown override key": (lambda t: ["sft", "stages.sft.epoch=2"], r"unknown key 'epoch'"),
    "unknown top-level key": (lambda t: ["sft", "modle=world:base"], r"unknown recipe key 'modle'"),
    "unknown stage in override": (lambda t: ["sft", "stages.rm.beta=1"], r"unknown stage 'rm'"),
    "wrong value type": (lambda t: ["sft", "stages.sft.epochs=many"], r"key 'epochs'.*valid number"),
    "missing model dir": (lambda t: ["sft", f"model={t}/no/such/model"], r"model dir not found"),
    "model dir without config": (lambda t: ["sft", f"model={t}"], r"has no config.json"),
    "missing dataset file": (lambda t: ["sft", f"data.sft={t}/none.jsonl"], r"dataset not found"),
    "unknown world asset": (lambda t: ["sft", "data.sft=world:nothing"], r"unknown world asset"),
}


def test_empty_run_dir_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", "sft", "--run-dir", "", "tracking=none"])
    assert result.exit_code != 0 and "--run-dir is empty" in result.output
    assert list(tmp_path.iterdir()) == []  # nothing written in the current dir


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_cleanly(tmp_path, case):
    make_args, message = CASES[case]
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["run", *make_args(tmp_path), "--run-dir", str(run_dir), "tracking=none"])
    assert result.exit_code != 0
    assert "error:" in result.output
    assert pytest.importorskip("re").search(message, result.output.replace("\n", " ")), result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.rglob("DONE")) and not list(tmp_path.rglob("model.safetensors"))


def test_unknown_stage_type(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stages:\n  x: {stage: teleport, model: world:base}\n")
    result = runner.invoke(app, ["run", str(recipe), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code != 0 and "unknown stage type 'teleport'" in result.output
    assert not (tmp_path / "run").exists()


def test_recipes_and_version():
    result = runner.invoke(app, ["recipes"])
    assert result.exit_code == 0 and "sft" in result.output and "eval" in result.output
    assert runner.invoke(app, ["--version"]).output.startswith("align ")


def test_show_on_a_non_run(tmp_path):
    result = runner.invoke(app, ["show", str(tmp_path)])
    assert result.exit_code != 0 and "not a run dir" in result.output
