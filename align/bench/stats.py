"""Seeds and spread for `align bench learning`: the per-seed values of one metric, mean ± sd, and the rules by
which a claimed difference holds (the difference of the means exceeds the sum of the two standard deviations),
and for a step within one run (each seed's later stage trained from its own earlier one) the paired test beside it:
does the 95% confidence interval of the mean per-seed difference exclude zero."""

from __future__ import annotations

RULE = (
    "A claim *holds* when the difference of the means exceeds the sum of the two standard deviations. A step "
    "within a run (each seed's later stage trained from that seed's earlier one) also shows the *paired* test: "
    "whether the 95% confidence interval of the mean per-seed difference excludes zero (paired t; with 3 seeds, "
    "the mean difference exceeds 2.48 times the sd of the differences). It is reported beside the verdict, "
    "not in its place."
)
T_975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    15: 2.131,
    20: 2.086,
    30: 2.042,
}  # two-sided 95% quantiles of Student's t by degrees of freedom


def mean_sd(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0


def values(results: list[dict], stage: str, metric: str) -> list[float]:
    return [
        float(v)
        for r in results
        if isinstance(v := r["stages"].get(stage, {}).get(metric), (int, float)) and not isinstance(v, bool)
    ]


def holds(a: list[float], b: list[float], sign: int = 1) -> bool:
    """A beats B when the difference of means exceeds the sum of their standard deviations (`sign` -1: lower is
    better, e.g. a loss). One seed has no spread, so nothing measured once holds."""
    if len(a) < 2 or len(b) < 2:
        return False
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    return sign * (ma - mb) > sa + sb


def t_975(dof: int) -> float:
    """Student's t quantile for a two-sided 95% interval (the next tabled dof at or below; 1.96 past 30)."""
    return 1.96 if dof > 30 else T_975[max(k for k in T_975 if k <= dof)]


def paired(results: list[dict], stage_a: str, stage_b: str, metric: str) -> list[tuple[float, float]]:
    """(earlier, later) per run that has both: the seeds' values of one metric at two stages of the same run."""
    both = [(values([r], stage_a, metric), values([r], stage_b, metric)) for r in results]
    return [(a[0], b[0]) for a, b in both if a and b]


def step_holds(pairs: list[tuple[float, float]], sign: int = 1) -> bool:
    """The later stage beats the earlier one: the 95% interval of the mean per-seed difference lies above zero."""
    if len(pairs) < 2:
        return False
    mean, sd = mean_sd([sign * (b - a) for a, b in pairs])
    return mean > t_975(len(pairs) - 1) * sd / len(pairs) ** 0.5


def outcome(a: list[float], b: list[float], sign: int = 1) -> str:
    """`better` (a beats b beyond the spread), `worse` (b beats a) or `within` (the spreads overlap, or one seed);
    each report words it its own way."""
    return "better" if holds(a, b, sign) else "worse" if holds(b, a, sign) else "within"


def verdict(a: list[float], b: list[float]) -> str:
    return {
        "better": "**holds**: the first is better",
        "worse": "**does not hold**: the second is better",
        "within": "**does not hold**: within the spread",
    }[outcome(a, b)]


def groups(results: list[dict]) -> dict[str, list[dict]]:
    """Runs by group (the label without its seed), in first-seen order."""
    out: dict[str, list[dict]] = {}
    for result in results:
        out.setdefault(result.get("group", result["label"]), []).append(result)
    return out


def seeds_sentence(by_group: dict[str, list[dict]]) -> str:
    """How many seeds a section's cells are over, for its introduction."""
    seeds = max(len(runs) for runs in by_group.values())
    return f"Cells are mean ± sd over {seeds} seeds (`seed=0..{seeds - 1}`). " if seeds > 1 else "One seed. "


def over_seeds(found: list[float], seeds: int | None = None, digits: int = 3) -> str:
    """mean ± sd over seeds; a bare value for one seed; the count when some of the `seeds` runs did not get there
    (default: as many seeds as values found)."""
    if not found:
        return "—"
    seeds = seeds or len(found)
    mean, sd = mean_sd(found)
    text = f"{mean:.{digits}f}" if seeds == 1 else f"{mean:.{digits}f} ± {sd:.{digits}f}"
    return text if len(found) == seeds else f"{text} ({len(found)} of {seeds} seeds)"


def change(pairs: list[tuple[float, float]]) -> str:
    """A step within a run, from (earlier, later) per seed: the mean difference, whether it holds, and the paired
    test beside it."""
    if not pairs:
        return "—"
    delta = mean_sd([b - a for a, b in pairs])[0]
    if len(pairs) < 2:
        return f"{delta:+.3f} (one seed)"
    mark = {"better": "holds", "worse": "holds, worse", "within": "within the spread"}[
        outcome([b for _, b in pairs], [a for a, _ in pairs])
    ]
    paired_mark = "holds" if step_holds(pairs) else "holds, worse" if step_holds(pairs, -1) else "does not"
    return f"{delta:+.3f} ({mark}; paired: {paired_mark})"
