"""The data-selection section of reports/learning.md: students pre-trained on each filter's kept half."""

from __future__ import annotations

from align.bench.stats import mean_sd, outcome, over_seeds, values
from align.engine.report import cell

ROWS = [
    ("difference", "MiniPLM difference (teacher - reference)"),
    ("ppl_diff", "ScalingFilter (PPL small / large)"),
    ("random", "random half (control)"),
]
CONTEXT = [("base", "context: world:base (all 20,000 rows, 6 passes)"), ("teacher", "context: world:teacher")]
METRICS = [
    ("eval/heldout_nll", "held-out NLL on clean text (lower is better)", -1),
    ("eval/pass@1", "arith pass@1", 1),
    ("eval/gold_score", "instruction gold score", 1),
    ("eval/rouge_l", "reference Rouge-L", 1),
]


def better(a: list[float], b: list[float], sign: int) -> str:
    """Whether a beats b beyond the spread (the difference of means exceeds the sum of the sds)."""
    return {
        "better": "**holds**: better",
        "worse": "**does not hold**: worse",
        "within": "**does not hold**: within the spread",
    }[outcome(a, b, sign)]


def render_selection(results: list[dict]) -> list[str]:
    lines = [
        "## Pre-training data selection (`recipes/miniplm.yaml`)",
        "",
        "`world:corpus` (the base model's own pre-training text, right and wrong answers mixed) is cut into a "
        "held-out slice (4,000 rows) and a pool (the other 16,000). On the held-out slice, from scratch: MiniPLM's "
        "small "
        "reference model and ScalingFilter's two meta-models (same rows, two sizes). Each filter keeps the top "
        "half of the pool by its score (random: a seeded half); a student of the base model's shape is then "
        "pre-trained from scratch on each half on the same number of input tokens (the recipe's `tokens`; batch 32, lr "
        "2e-3 with 5% warmup): a half of longer rows gets fewer steps, each student a whole learning-rate schedule. "
        "Held-out NLL is on the clean references of `world:reference_test`; task metrics are the world's "
        "usual held-out evaluations. Tokens seen and steps (mean over seeds) are the trainer's own counts. "
        "One run per seed.",
        "",
        "| kept half | " + " | ".join(label for _, label, _ in METRICS) + " | tokens seen | steps |",
        "|---|" + "---|" * (len(METRICS) + 2),
    ]
    for name, label in ROWS + CONTEXT:
        tokens = values(results, f"student_{name}", "train/tokens_seen")
        steps = values(results, f"student_{name}", "train/steps")
        lines.append(
            f"| {label} | "
            + " | ".join(over_seeds(values(results, f"eval_{name}", metric)) for metric, _, _ in METRICS)
            + (f" | {mean_sd(tokens)[0] / 1e6:.3f}M | {mean_sd(steps)[0]:.0f} |" if tokens else " | — | — |")
        )
    lines += [
        "",
        "| filter vs random half | " + " | ".join(label.split(" (")[0] for _, label, _ in METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
    ]
    for name, label in ROWS[:2]:
        cells = []
        for metric, _, sign in METRICS:
            mine, control = values(results, f"eval_{name}", metric), values(results, "eval_random", metric)
            cells.append(better(mine, control, sign) if mine and control else "—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if all("composition" in r for r in results):
        lines += render_composition(results)
    kept = {name: [r["stages"].get(f"keep_{name}", {}).get("filter/kept") for r in results] for name, _ in ROWS}
    lines += [
        "",
        "Rows kept per filter: "
        + "; ".join(f"{name} {kept[name][0]}" for name, _ in ROWS if kept[name])
        + ". Commands: "
        + "; ".join(f"`{r['command']}`" for r in results),
        "",
    ]
    return lines


COMPOSITION = [
    ("right", "right answers"),
    ("right_arith", "right: arith"),
    ("right_instruct", "right: instruct"),
    ("right_reference", "right: reference"),
    ("arith", "arith rows"),
    ("instruct", "instruct rows"),
    ("reference", "reference rows"),
]


def add_composition(results: list[dict]) -> None:
    """Record what each filter kept (from the finished run dirs), for the report."""
    from pathlib import Path

    from align.bench.composition import composition
    from align.data.jsonl import read_jsonl

    for result in results:
        run = Path(result["run_dir"])
        result["composition"] = {name: composition(read_jsonl(run / f"keep_{name}" / "data.jsonl")) for name, _ in ROWS}
        result["composition"]["pool"] = composition(read_jsonl(run / "split" / "pool.jsonl"))


def render_composition(results: list[dict]) -> list[str]:
    """Shares in each kept half, mean ± sd over seeds (the world knows which answers are right)."""
    lines = [
        "",
        "What each filter kept (shares of the kept rows; the world checks every answer):",
        "",
        "| kept half | " + " | ".join(label for _, label in COMPOSITION) + " |",
        "|---|" + "---|" * len(COMPOSITION),
    ]
    for name, label in ROWS + [("pool", "the whole pool")]:
        cells = [over_seeds([r["composition"][name][key] for r in results]) for key, _ in COMPOSITION]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


ALPAGASUS_ROWS = [
    ("all", "all 700 crowd demos"),
    ("alpagasus", "AlpaGasus: rated >= 4.5 by world:rater"),
    ("random", "random subset of the same size"),
]


def render_alpagasus(results: list[dict]) -> list[str]:
    import json

    from align.world import ASSETS

    rater = json.loads((ASSETS / "world.json").read_text()).get("models", {}).get("rater", {})
    lines = [
        "## Instruction-data selection (`recipes/alpagasus.yaml`)",
        "",
        "`world:rater` rates each of the 700 `world:sft_crowd` demos with the released AlpaGasus prompt "
        "(accuracy, 0-5, the score on the first line); SFT from `world:base` on the rows rated >= 4.5, with "
        "the all-data recipe unchanged (3 epochs, so fewer steps), against all rows and a random subset of "
        "the same size. Held-out gold score on `world:instruct_test` (greedy, and 8 samples at T = 0.7). "
        "One run per seed.",
        "",
        "| SFT data | rows | SFT wall s | gold score mean ± sd | sampled mean ± sd | gold judge's mean on the rows |",
        "|---|---|---|---|---|---|",
    ]
    for name, label in ALPAGASUS_ROWS:
        rows = values(results, f"sft_{name}", "train/examples")
        wall = [w for r in results if (w := r.get("stage_wall_s", {}).get(f"sft_{name}"))]
        filter_stage = {"alpagasus": "rate", "random": "random_subset"}.get(name)
        audit = (
            over_seeds(values(results, filter_stage, "filter/audit_mean_kept"))
            if filter_stage
            else over_seeds(values(results, "rate", "filter/audit_mean_all"))
        )
        cells = [
            f"{mean_sd(rows)[0]:.0f}" if rows else "—",
            f"{mean_sd(wall)[0]:.1f}" if wall else "—",
            over_seeds(values(results, f"eval_{name}", "eval/gold_score")),
            over_seeds(values(results, f"eval_{name}", "eval/gold_score_sampled")),
            audit,
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    mine = values(results, "eval_alpagasus", "eval/gold_score")
    lines += [
        "",
        "AlpaGasus vs all data: "
        + better(mine, values(results, "eval_all", "eval/gold_score"), 1)
        + "; vs the random subset: "
        + better(mine, values(results, "eval_random", "eval/gold_score"), 1)
        + " (greedy gold score; a claim holds when the difference of the means exceeds the sum of the sds).",
        "",
        f"The rater: kept {over_seeds(values(results, 'rate', 'filter/kept_fraction'))} of the rows, "
        f"{over_seeds(values(results, 'rate', 'filter/unparsed'))} ratings unparseable, Pearson r with the gold "
        f"judge on these rows {over_seeds(values(results, 'rate', 'filter/audit_pearson'))}. On its own "
        f"{rater.get('agreement', {}).get('held_out_triples', '?')} held-out triples (world.json): "
        + ", ".join(f"{k} {cell(v, '—')}" for k, v in rater.get("agreement", {}).items() if k != "held_out_triples")
        + ".",
        "",
        "Commands: " + "; ".join(f"`{r['command']}`" for r in results),
        "",
    ]
    return lines
