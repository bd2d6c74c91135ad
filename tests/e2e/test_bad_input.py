"""A hostile but realistic user: bad recipes, overrides, data, models, scorers and run dirs. Each case must end
with exit code 2, one line `error: ...` naming the culprit, no traceback, no DONE anywhere, and no earlier
output lost. (Verifier escapes: tests/rewards/test_code_verifier.py; kills and resumes: tests/e2e/test_resume.py.)"""

import json
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from align.cli import app
from tests.conftest import align
from tests.e2e.bad_inputs import CASES, model_copy, recipe, score_recipe

runner = CliRunner()


@pytest.fixture(autouse=True)
def broken_scorer_module():

    path = Path(__file__).parents[1] / "fake_scorers_broken.py"  # importable as tests.fake_scorers_broken
    path.write_text("def score(prompts, completions, rows:\n    return []\n")
    yield
    path.unlink(missing_ok=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_one_clear_line(tmp_path, case):
    make_args, culprit = CASES[case]
    args = make_args(tmp_path)
    run_dir = [] if "--run-dir" in args else ["--run-dir", str(tmp_path / "run")]
    result = runner.invoke(app, ["run", args[0], "tracking=none", *args[1:], *run_dir])  # the case's keys win
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert re.search(culprit, lines[0]), lines[0]
    assert "Traceback" not in result.output
    assert not list(tmp_path.rglob("DONE")) and not list((tmp_path / "run").rglob("model.safetensors"))


def test_numpy_scores_are_accepted(tmp_path):
    result = runner.invoke(
        app, ["run", *score_recipe(tmp_path, "tests.fake_scorers:as_array"), "--run-dir", str(tmp_path / "run")]
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["score"] for line in (tmp_path / "run" / "s" / "data.jsonl").read_text().splitlines()] == [
        1.0,
        1.0,
    ]


@pytest.mark.parametrize(
    "override, culprit",
    [
        (
            "data.prompts=missing.jsonl",
            "stage 'pair_sample', key 'prompts' (= ${data.prompts}): dataset not found: missing.jsonl",
        ),
        ("stages.xwin_score.scorer=nope", "stage 'xwin_score', key 'scorer': unknown scorer 'nope'"),
        (
            "stages.policy_score.scorer={name: reward_model, batch_size: 0}",
            "stage 'policy_score', key 'scorer': scorer 'reward_model': model: Field required",
        ),
        ("stages.xwin_set.backend=vlm", "stage 'xwin_set': key 'backend'"),
        ("stages.dpo.trainer={max_grad_nrm: 1}", "stage 'dpo': trainer: DPOConfig has no field(s) ['max_grad_nrm']"),
    ],
)
def test_bad_input_in_a_late_stage_fails_before_anything_trains(tmp_path, override, culprit):
    """The first case goes through a real process (its exit status and whole stderr); the others call the same
    Typer app in this process, which skips a 4-second import of torch and TRL for each."""
    started = time.time()
    if override.startswith("data.prompts"):
        result = align("run", "xwin-pipeline", override, "--run-dir", str(tmp_path / "run"), timeout=60)
        status, stderr = result.returncode, result.stderr
    else:
        from typer.testing import CliRunner

        from align.cli import app

        result = CliRunner().invoke(app, ["run", "xwin-pipeline", override, "--run-dir", str(tmp_path / "run")])
        status, stderr = result.exit_code, result.stderr
    assert time.time() - started < 20
    assert status != 0
    assert culprit in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "run").exists()  # no stage ran, nothing written


def test_empty_run_dir_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", "sft", "--run-dir", "", "tracking=none"])
    assert result.exit_code != 0 and "--run-dir is empty" in result.output
    assert list(tmp_path.iterdir()) == []  # nothing written in the current dir


def test_chat_rows_from_an_earlier_stage_meet_a_model_without_template_at_that_stages_start(tmp_path):
    """The chat-template check of data that is an earlier stage's output runs when the stage starts, before it
    writes anything, and names the stage, the key and where the data came from."""
    model = model_copy(tmp_path, "template")
    recipe(
        tmp_path,
        f"""tracking: none
stages:
  cut: {{stage: split, data: world:sft, parts: {{few: 8}}}}
  sft: {{stage: sft, model: '{model}', data: '${{cut.few}}', max_steps: 1}}
""",
    )
    result = runner.invoke(app, ["run", str(tmp_path / "r.yaml"), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert re.search(
        r"error: stage 'sft', key 'data' \(= \$\{cut.few\}\): .*few.jsonl holds chat messages, but "
        r"model '.*/m' has no chat template",
        result.output.replace("\n", " "),
    )
    assert (tmp_path / "run" / "cut" / "DONE").exists() and not (tmp_path / "run" / "sft" / "DONE").exists()
    assert not list((tmp_path / "run" / "sft").rglob("model.safetensors"))
