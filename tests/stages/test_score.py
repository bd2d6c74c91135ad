"""The `score` stage: any scorer spec adds a `score` column, user functions and numpy results included."""

import json

from tests.conftest import run_recipe, samples_file


def test_user_scorer_scores_samples(tmp_path):
    path = samples_file(tmp_path)
    result = run_recipe(tmp_path, f"  score: {{stage: score, data: {path}, scorer: 'tests.fake_scorers:length'}}\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "score" / "data.jsonl").read_text().splitlines()]
    assert [r["score"] for r in rows] == [9.0, 3.0, 9.0, 3.0] and rows[0]["policy"] == "test"
