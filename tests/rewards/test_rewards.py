"""Scorers behind one factory: verifiers, user functions, and checked scores."""

import pytest

from align.errors import AlignError
from rewards import checked_scores, make_scorer


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


def test_math_boxed_only_rewards_only_the_last_well_formed_box():
    """math-verify reads the working's last number when the box is broken (a collapse one RLOO seed learned);
    `boxed_only` does not."""
    rows = [{"answer": "93"}] * 4
    completions = [
        "88+5=93;99-6=93;\\boxeeee{9}",  # broken box: the working's last number is the answer
        "88+5=93;\\boxed{93}",
        "\\boxed{\\frac{186}{2}}",  # balanced braces inside the box
        "\\boxed{93} then \\boxed{94",  # the last box is unclosed: the earlier one counts
    ]
    assert make_scorer("math")(None, completions, rows)[:3] == [1.0, 1.0, 1.0]
    assert make_scorer({"name": "math", "boxed_only": True})(None, completions, rows) == [0.0, 1.0, 1.0, 1.0]
