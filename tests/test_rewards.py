import pytest
import torch

from align.errors import AlignError
from align.world.gold_judge import constraint_checks, gold_score
from rewards import checked_scores, make_scorer

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


def test_math_verifier():
    math = make_scorer("math")
    rows = [{"answer": "52"}] * 4
    outs = ["37-8=29;29+9=38;\\boxed{52}", "\\boxed{51}", "no answer", "\\boxed{52.0}"]
    assert math(None, outs, rows) == [1.0, 0.0, 0.0, 1.0]


def test_exact_and_regex():
    assert make_scorer("exact")(None, ["The Paris.", "London"], [{"answer": "paris"}] * 2) == [1.0, 0.0]
    assert make_scorer("regex")(None, ["abc123", "abc"], [{"answer": r"abc\d+"}] * 2) == [1.0, 0.0]


def test_user_scorer_path_and_bad_names():
    assert make_scorer("rewards.verifiers:exact")(None, ["a"], [{"answer": "a"}]) == [1.0]
    with pytest.raises(AlignError, match="unknown scorer"):
        make_scorer("nope")
    with pytest.raises(AlignError, match="cannot load scorer"):
        make_scorer("rewards.verifiers:nope")


@pytest.mark.parametrize("bad", [[float("nan")], ["1"], [None], [True], []])
def test_checked_scores_rejects_non_numbers(bad):
    with pytest.raises(ValueError):
        checked_scores(lambda p, c, r: bad, [None], ["x"], [{}], "bad")


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


def test_reward_model_scores_do_not_depend_on_batching(tmp_path):
    """Rows are batched by length (less padding) and scored in input order: the same scores as one batch."""
    from transformers import AutoModelForSequenceClassification

    from align.loading.models import load_tokenizer, locate_model
    from rewards.reward_model import RewardModelScorer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(locate_model("world:base"), num_labels=1)
    model.config.pad_token_id = 0
    model.save_pretrained(tmp_path / "rm")
    load_tokenizer("world:base").save_pretrained(tmp_path / "rm")
    prompts = [f"Compute {i}+{i * 7}." for i in range(20)]
    completions = ["x" * (1 + (i * 13) % 40) for i in range(20)]  # lengths out of order
    scores = RewardModelScorer(str(tmp_path / "rm"), batch_size=3)(prompts, completions)
    one_batch = RewardModelScorer(str(tmp_path / "rm"), batch_size=64)(prompts, completions)
    assert torch.allclose(torch.tensor(scores), torch.tensor(one_batch), atol=1e-5) and len(set(scores)) > 10
