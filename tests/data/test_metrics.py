"""Evaluation metrics as pure functions: pass@k, Rouge-L, win-rate."""

import pytest

from align.data.metrics import pass_at_k, rouge_l, win_rate


def test_pass_at_k_hand_values():
    assert pass_at_k(16, 0, 16) == 0.0
    assert pass_at_k(16, 1, 16) == 1.0
    assert pass_at_k(16, 4, 1) == pytest.approx(0.25)
    # 1 - C(2,2)/C(4,2) = 1 - 1/6
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)


def test_rouge_l():
    assert rouge_l("cat fig pear", "cat fig pear") == pytest.approx(1.0)
    # LCS 2 of 3 and 3 words: P = R = 2/3
    assert rouge_l("cat fig pear", "cat pear fig") == pytest.approx(2 / 3)
    assert rouge_l("cat fig pear", "dog") == 0.0


def test_win_rate_counts_ties_half():
    assert win_rate([1.0, 0.5, 0.2], [0.5, 0.5, 0.9]) == pytest.approx((1 + 0.5 + 0) / 3)
    with pytest.raises(ValueError):
        win_rate([1.0], [])
