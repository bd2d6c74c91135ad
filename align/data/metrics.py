"""Evaluation metrics as pure functions: pass@k, Rouge-L, pairwise win-rate."""

from __future__ import annotations

from math import comb


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def rouge_l(reference: str, prediction: str) -> float:
    """Rouge-L F-measure (rouge-score, no stemming), as the distillation papers report it."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"]).score(reference, prediction)["rougeL"].fmeasure


def win_rate(scores: list[float], baseline_scores: list[float]) -> float:
    """Fraction of prompts where the policy beats the baseline under the judge; ties count half."""
    if len(scores) != len(baseline_scores) or not scores:
        raise ValueError("win_rate needs two equally long, non-empty score lists")
    return mean(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(scores, baseline_scores))
