"""The data-selection section of reports/learning.md: students pre-trained on each filter's kept half."""
from __future__ import annotations

from align.bench_distill import mean_sd, summary, values

ROWS = [("difference", "MiniPLM difference (teacher - reference)"), ("ppl_diff", "ScalingFilter (PPL small / large)"),
        ("random", "random half (control)")]
CONTEXT = [("base", "context: world:base (all 20,000 rows, 6 passes)"), ("teacher", "context: world:teacher")]
METRICS = [("eval/heldout_nll", "held-out NLL on clean text (lower is better)", -1),
           ("eval/pass@1", "arith pass@1", 1), ("eval/gold_score", "instruction gold score", 1),
           ("eval/rouge_l", "reference Rouge-L", 1)]


def better(a: list[float], b: list[float], sign: int) -> str:
    """Whether a beats b beyond the spread (the difference of means exceeds the sum of the sds)."""
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    if sign * (ma - mb) > sa + sb:
        return "**holds**: better"
    if sign * (mb - ma) > sa + sb:
        return "**does not hold**: worse"
    return "**does not hold**: within the spread"


def render_selection(results: list[dict]) -> list[str]:
    lines = ["## Pre-training data selection (`recipes/miniplm.yaml`)", "",
             "`world:corpus` (the base model's own pre-training text, right and wrong answers mixed) is cut into a "
             "held-out slice (4,000 rows) and a pool (8,000). On the held-out slice, from scratch: MiniPLM's small "
             "reference model and ScalingFilter's two meta-models (same rows, two sizes). Each filter keeps the top "
             "half of the pool by its score (random: a seeded half); a student of the base model's shape is then "
             "pre-trained from scratch on each half for the same steps and batch (the same number of sequences). "
             "Held-out NLL is on the clean references of `world:reference_test`; task metrics are the world's "
             "usual held-out evaluations. One run per seed.", "",
             "| kept half | " + " | ".join(label for _, label, _ in METRICS) + " |",
             "|---|" + "---|" * len(METRICS)]
    for name, label in ROWS + CONTEXT:
        lines.append(f"| {label} | " + " | ".join(summary(values(results, f"eval_{name}", metric))
                                                 for metric, _, _ in METRICS) + " |")
    lines += ["", "| filter vs random half | " + " | ".join(label.split(" (")[0] for _, label, _ in METRICS) + " |",
              "|---|" + "---|" * len(METRICS)]
    for name, label in ROWS[:2]:
        cells = []
        for metric, _, sign in METRICS:
            mine, control = values(results, f"eval_{name}", metric), values(results, "eval_random", metric)
            cells.append(better(mine, control, sign) if mine and control else "—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    kept = {name: [r["stages"].get(f"keep_{name}", {}).get("filter/kept") for r in results] for name, _ in ROWS}
    lines += ["", "Rows kept per filter: " + "; ".join(f"{name} {kept[name][0]}" for name, _ in ROWS if kept[name])
              + ". Commands: " + "; ".join(f"`{r['command']}`" for r in results), ""]
    return lines
