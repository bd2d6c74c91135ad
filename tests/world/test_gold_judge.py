"""The world's gold judge: every constraint check, and constraints read from the instruction when a row has none."""

import pytest

from align.world.gold_judge import constraint_checks, gold_score

C = {"count": 3, "category": "fruits", "case": "upper", "sorted": True, "exclude": "fig"}


def test_gold_judge_all_satisfied():
    assert constraint_checks(C, "APPLE, KIWI, PEAR") == {
        "count": True,
        "category": True,
        "distinct": True,
        "case": True,
        "sorted": True,
        "exclude": True,
    }
    assert gold_score(C, "APPLE, KIWI, PEAR") == 1.0


@pytest.mark.parametrize(
    "completion, failed",
    [
        ("APPLE, KIWI", "count"),
        ("APPLE, CAT, KIWI", "category"),
        ("APPLE, APPLE, KIWI", "distinct"),
        ("apple, kiwi, pear", "case"),
        ("PEAR, KIWI, APPLE", "sorted"),
        ("APPLE, FIG, KIWI", "exclude"),
    ],
)
def test_gold_judge_each_constraint_violated(completion, failed):
    checks = constraint_checks(C, completion)
    assert [name for name, ok in checks.items() if not ok] == [failed]
    assert gold_score(C, completion) == pytest.approx(5 / 6)


def test_gold_judge_optional_constraints_and_cases():
    loose = {"count": 2, "category": "colors", "case": None, "sorted": False, "exclude": None}
    assert set(constraint_checks(loose, "Red, blue")) == {"count", "category", "distinct"}
    assert gold_score({**loose, "case": "title"}, "Red, Blue") == 1.0
    assert gold_score({**loose, "case": "title"}, "Red, blue") < 1.0
    assert gold_score(C, "") == pytest.approx(2 / 6)  # only distinct and exclude hold for nothing


def test_gold_judge_reads_constraints_from_the_worlds_instructions_when_a_row_has_none():
    import random

    from align.data.jsonl import read_jsonl
    from align.world import gold_judge, instruct, resolve

    rng = random.Random(0)
    for _ in range(2000):  # the parser inverts the generator exactly
        problem = instruct.make_instruct_problem(rng)
        assert instruct.constraints_from_prompt(problem["prompt"][0]["content"]) == problem["constraints"]
    rows = read_jsonl(resolve("world:instruct_test"))[:50]
    completions = [instruct.instruct_response_noisy(r["constraints"], rng) for r in rows]
    prompts = [r["prompt"] for r in rows]
    assert gold_judge.score(prompts, completions, [{} for _ in rows]) == gold_judge.score(prompts, completions, rows)
    with pytest.raises(ValueError, match="needs a 'constraints' column"):
        gold_judge.score(["Compute 1+2."], ["3"], [{}])
