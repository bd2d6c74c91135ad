"""The `select` stage: pair rules with rejected responses from another policy's samples."""

import json

from align.data.jsonl import write_jsonl
from tests.conftest import run_recipe, samples_file


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


def test_label_rule_marks_samples_by_threshold_or_by_their_prompts_median(tmp_path):
    """KTO data: every sample labelled; by a fixed threshold (a verifier's 0/1), or above its prompt's median
    (a reward model's scores, which have no fixed scale)."""
    scored = tmp_path / "scored.jsonl"
    rows = [json.loads(line) for line in samples_file(tmp_path).read_text().splitlines()]
    write_jsonl(scored, [dict(r, score=[7.0, -3.0][r["sample_index"]] + len(r["prompt"][0]["content"])) for r in rows])
    for label_by, threshold in (("median", 99.0), ("threshold", 20.0), ("threshold", 22.0)):
        folder = tmp_path / f"{label_by}-{threshold}"
        folder.mkdir()
        stage = (
            f"  label: {{stage: select, data: {scored}, rule: label, label_by: {label_by}, threshold: {threshold}}}\n"
        )
        assert run_recipe(folder, stage).exit_code == 0
        out = [json.loads(line) for line in (folder / "run" / "label" / "data.jsonl").read_text().splitlines()]
        labels = {(r["prompt"][0]["content"], r["completion"][0]["content"]): r["label"] for r in out}
        better = {(p, c): c == "fig, kiwi" for p, c in labels}  # scores 7 + 14 = 21 and -3 + 14 = 11 per prompt
        assert len(labels) == 4 and labels == (
            better if label_by == "median" or threshold < 22 else dict.fromkeys(labels, False)
        )
