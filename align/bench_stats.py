"""Seeds and spread for `align bench learning`: the per-seed values of one metric, mean ± sd, and the rule by
which a claimed difference holds (the difference of the means exceeds the sum of the two standard deviations)."""
from __future__ import annotations

RULE = "A claim *holds* when the difference of the means exceeds the sum of the two standard deviations."


def mean_sd(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0


def values(results: list[dict], stage: str, metric: str) -> list[float]:
    return [float(v) for r in results
            if isinstance(v := r["stages"].get(stage, {}).get(metric), (int, float)) and not isinstance(v, bool)]


def summary(found: list[float]) -> str:
    return "{:.3f} ± {:.3f}".format(*mean_sd(found)) if found else "—"


def holds(a: list[float], b: list[float], sign: int = 1) -> bool:
    """A beats B when the difference of means exceeds the sum of their standard deviations (`sign` -1: lower is
    better, e.g. a loss). One seed has no spread, so nothing measured once holds."""
    if len(a) < 2 or len(b) < 2:
        return False
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    return sign * (ma - mb) > sa + sb


def outcome(a: list[float], b: list[float], sign: int = 1) -> str:
    """`better` (a beats b beyond the spread), `worse` (b beats a) or `within` (the spreads overlap, or one seed);
    each report words it its own way."""
    return "better" if holds(a, b, sign) else "worse" if holds(b, a, sign) else "within"


def verdict(a: list[float], b: list[float]) -> str:
    return {"better": "**holds**: the first is better", "worse": "**does not hold**: the second is better",
            "within": "**does not hold**: within the spread"}[outcome(a, b)]


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


def cell(found: list[float], seeds: int, digits: int = 3) -> str:
    """mean ± sd over seeds; a bare value for one seed; the count when some seeds did not get there."""
    if not found:
        return "—"
    mean, sd = mean_sd(found)
    text = f"{mean:.{digits}f}" if seeds == 1 else f"{mean:.{digits}f} ± {sd:.{digits}f}"
    return text if len(found) == seeds else f"{text} ({len(found)} of {seeds} seeds)"


def change(a: list[float], b: list[float]) -> str:
    """b against a (b comes later): Δ of the means and whether it holds."""
    if not a or not b:
        return "—"
    delta = mean_sd(b)[0] - mean_sd(a)[0]
    if min(len(a), len(b)) < 2:
        return f"{delta:+.3f} (one seed)"
    mark = {"better": "holds", "worse": "holds, worse", "within": "within the spread"}[outcome(b, a)]
    return f"{delta:+.3f} ({mark})"
