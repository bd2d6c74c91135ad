"""The data-selection scores and keep rules (align/filters.py) on hand-built cases."""

import math

import pytest

from align.data import filters


@pytest.mark.parametrize(
    "reply, score",
    [
        ("4.5", 4.5),
        ("4.5\nThe response is accurate.", 4.5),
        ("Score: 4", 4.0),
        ("5/5", 5.0),
        ("**3**\nok", 3.0),
        ("\n 2 \nbecause", 2.0),
        ("2.5/10", 1.25),
        ("0", 0.0),
        ("", None),
        ("four", None),
        ("The response is fine.\n4", None),
        ("7", None),
        ("-1", None),
        ("3/0", None),
    ],
)
def test_parse_rating_reads_the_first_line_and_drops_what_it_cannot_read(reply, score):
    assert filters.parse_rating(reply) == score


def test_rating_prompt_holds_the_full_triple_and_the_released_request():
    messages = filters.rating_messages("Add the numbers.", "2, 3", "5")
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert user.startswith("###Instruction:\nAdd the numbers.\n\n### Input:\n2, 3\n\n### Response:\n5\n\n")
    assert "accuracy of the response to the instruction and the input" in user and "scale of 0 to 5" in user
    assert "helpfulness" in filters.rating_messages("a", "", "b", "helpfulness")[1]["content"]


def test_keep_mask_threshold_is_inclusive_and_never_keeps_unscored_rows():
    assert filters.keep_mask([4.5, 4.49, None, 5.0], threshold=4.5) == [True, False, False, True]


def test_keep_mask_top_fraction_counts_all_rows_and_breaks_ties_by_order():
    assert filters.keep_mask([0.1, 0.9, 0.5, 0.9], top_fraction=0.5) == [False, True, False, True]
    assert filters.keep_mask([1.0, 1.0, 1.0, 0.0], top_fraction=0.5) == [True, True, False, False]
    assert filters.keep_mask([None, 2.0, 1.0], top_fraction=0.7) == [False, True, True]  # floor(0.7 * 3) = 2
    assert filters.keep_mask([0.1, 0.9, 0.5, 0.9], count=3) == [False, True, True, True]
    with pytest.raises(ValueError, match="exactly one"):
        filters.keep_mask([1.0], threshold=1.0, top_fraction=0.5)


def test_model_scores_rank_as_the_papers_define_them():
    # ScalingFilter: PPL_s / PPL_l = exp(NLL_s - NLL_l); text the large model predicts much better ranks first
    assert filters.log_quality_factor(2.0, 1.0) == pytest.approx(math.log(math.exp(2.0) / math.exp(1.0)))
    assert filters.log_quality_factor(2.0, 1.0) > filters.log_quality_factor(2.0, 1.9)
    # MiniPLM: teacher minus reference, both mean per-token log-likelihoods
    assert filters.difference_score(-0.5, -1.5) == pytest.approx(1.0)
    assert filters.difference_score(-2.0, -1.0) < 0  # noisy text the reference fits better is removed
