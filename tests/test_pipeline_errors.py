"""Bad input to the sampling/scoring/preference stages: one clear error, exit != 0, nothing half-written."""

import json

import pytest
from typer.testing import CliRunner

from align.cli import app
from align.data.jsonl import write_jsonl
from align.world import tasks

runner = CliRunner()


def samples_file(tmp_path, prompts=("List 2 fruits.", "List 1 colors.")):
    rows = [
        {"prompt": tasks.user(p), "completion": c, "sample_index": i, "policy": "test"}
        for p in prompts
        for i, c in enumerate(["fig, kiwi", "cat"])
    ]
    path = tmp_path / "samples.jsonl"
    write_jsonl(path, rows)
    return path


def run_recipe(tmp_path, stages: str):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("tracking: none\nstages:\n" + stages)
    result = runner.invoke(app, ["run", str(recipe), "--run-dir", str(tmp_path / "run")])
    assert not list((tmp_path / "run").rglob("DONE")) or result.exit_code == 0
    return result


@pytest.mark.parametrize(
    "scorer, message",
    [
        ("tests.fake_scorers:nan", "scores must be finite numbers"),
        ("tests.fake_scorers:text", "scores must be finite numbers"),
        ("nosuchscorer", "unknown scorer"),
    ],
)
def test_bad_scorer_output(tmp_path, scorer, message):
    path = samples_file(tmp_path)
    result = run_recipe(tmp_path, f"  score: {{stage: score, data: {path}, scorer: '{scorer}'}}\n")
    assert result.exit_code != 0 and message in result.output
    assert not (tmp_path / "run" / "score" / "data.jsonl").exists()


def test_rm_dir_that_is_not_a_reward_model(tmp_path):
    path = samples_file(tmp_path)
    result = run_recipe(
        tmp_path, f"  score: {{stage: score, data: {path}, scorer: {{name: reward_model, model: 'world:base'}}}}\n"
    )
    assert result.exit_code != 0 and "is not a reward model" in result.output


def test_prompt_with_no_samples(tmp_path):
    scored = tmp_path / "scored.jsonl"
    rows = [dict(r, score=1.0) for r in map(json.loads, samples_file(tmp_path).read_text().splitlines())]
    write_jsonl(scored, rows)
    prompts = tmp_path / "prompts.jsonl"
    write_jsonl(prompts, [{"prompt": tasks.user(p)} for p in ("List 2 fruits.", "List 1 colors.", "List 3 tools.")])
    result = run_recipe(tmp_path, f"  rs: {{stage: select, data: {scored}, rule: best_of_n, prompts: {prompts}}}\n")
    assert result.exit_code != 0 and "prompt 3" in result.output and "has no samples" in result.output


def test_preference_row_with_chosen_equal_rejected(tmp_path):
    prefs = tmp_path / "prefs.jsonl"
    write_jsonl(
        prefs, [{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "q", "chosen": "x", "rejected": "x"}]
    )
    for stage in ("dpo", "reward"):
        result = run_recipe(tmp_path, f"  t: {{stage: {stage}, model: 'world:base', data: {prefs}}}\n")
        assert result.exit_code != 0 and "record 2" in result.output and "identical" in result.output
        assert not (tmp_path / "run").exists()


def test_user_scorer_scores_samples(tmp_path):
    path = samples_file(tmp_path)
    result = run_recipe(tmp_path, f"  score: {{stage: score, data: {path}, scorer: 'tests.fake_scorers:length'}}\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "score" / "data.jsonl").read_text().splitlines()]
    assert [r["score"] for r in rows] == [9.0, 3.0, 9.0, 3.0] and rows[0]["policy"] == "test"


def test_pairs_with_rejected_from_another_policy(tmp_path):
    pool, policy = tmp_path / "pool.jsonl", tmp_path / "policy.jsonl"
    rows = [json.loads(line) for line in samples_file(tmp_path).read_text().splitlines()]
    write_jsonl(pool, [dict(r, score=1.0 - 0.5 * r["sample_index"]) for r in rows])
    write_jsonl(policy, [dict(r, completion=r["completion"] + "!", score=0.2) for r in rows])
    stage = f"  pairs: {{stage: select, data: {pool}, rule: pairs, rejected: worst, rejected_from: {policy}}}\n"
    result = run_recipe(tmp_path, stage)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in (tmp_path / "run" / "pairs" / "data.jsonl").read_text().splitlines()]
    assert [(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in out] == [("fig, kiwi", "cat!")] * 2
    write_jsonl(policy, [dict(r, score=0.2) for r in rows if r["prompt"][0]["content"] == "List 2 fruits."])
    (tmp_path / "again").mkdir()
    result = run_recipe(tmp_path / "again", stage)
    assert result.exit_code != 0 and "policy.jsonl: no samples for prompt 'user: List 1 colors.'" in result.output
    result = run_recipe(tmp_path / "again", stage.replace("rule: pairs", "rule: best_of_n"))
    assert result.exit_code != 0 and "rejected_from applies to rules 'pairs' and 'source_pairs' only" in result.output
