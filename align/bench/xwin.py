"""Markdown and plots for `align bench learning` (reports/learning.md)."""

from __future__ import annotations

from pathlib import Path


def stage_key_metrics(result: dict, stages: list[str], prefix: str = "eval/") -> list[str]:
    """The metrics these stages chose to show (their `key_metrics`), in first-seen order."""
    shown: list[str] = []
    for name in stages:
        keys = result.get("key_metrics", {}).get(name, list(result["stages"].get(name, {})))
        shown += [k for k in keys if k.startswith(prefix) and k not in shown]
    return shown


def plot_errorbars(curves: dict[str, list[tuple[str, float, float]]], title: str, ylabel: str, path: Path) -> None:
    """One line per run group: (step label, mean, sd) points, with ±sd error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    for label, points in curves.items():
        ax.errorbar(
            range(len(points)), [p[1] for p in points], yerr=[p[2] for p in points], marker="o", capsize=3, label=label
        )
    longest = max(curves.values(), key=len, default=[])
    ax.set_xticks(range(len(longest)), [p[0] for p in longest])
    ax.set(title=title, ylabel=ylabel, ylim=(0, 1.02))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


GOLD = ("eval/gold_score", "eval/gold_score_sampled")
XWIN_STAGES = [("eval_base", "base"), ("eval_sft", "SFT"), ("eval_rs", "RS"), ("eval_dpo", "DPO")]


def render_xwin(results: list[dict], folder: Path) -> list[str]:
    """Per run group (one recipe and overrides, over seeds): one row per policy (base / SFT / RS / DPO), one column
    per metric the evaluate stages report (their key metrics), mean ± sd over seeds; then each claimed step."""
    from align.bench.stats import RULE, change, groups, holds, mean_sd, over_seeds, paired, seeds_sentence, values

    by_group = groups(results)
    stage_names = [name for name, _ in XWIN_STAGES]
    metrics = stage_key_metrics(results[0], stage_names)
    rm_metrics = stage_key_metrics(results[0], ["reward"], prefix="rm/")
    lines = [
        "## Xwin pipeline (`recipes/xwin-pipeline.yaml`)",
        "",
        "Held-out `world:instruct_test` (200 instructions), greedy responses unless `sampled`. Gold score = the "
        "rule-based gold judge's mean; win_rate = gold-judge pairwise wins against the SFT policy (ties half); "
        "rm_score = the trained reward model's mean score; gold_score_sampled = mean gold score of 8 samples "
        "per instruction at the recipe's temperature. Every run shares the first run's base and SFT stages. "
        "The runs after `rejected from the Xwin-Set` are levers tried to make DPO's step real: guards on the DPO "
        "side, pairs from the RS policy's own samples, and the *oracle*, the gold judge in the RM's place to pick "
        "the RS data and form the DPO pairs (so its RS row is the ceiling of best-of-64 RS, and its DPO rows are "
        "what DPO does with perfect preferences). " + seeds_sentence(by_group) + RULE,
        "",
        "| run | policy | " + " | ".join(m.removeprefix("eval/") for m in metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    curves = {}
    for index, (label, runs) in enumerate(by_group.items()):
        for name, policy in XWIN_STAGES[0 if index == 0 else 2 :]:  # later runs share base and SFT (copied stages)
            lines.append(
                f"| {label} | {policy} | "
                + " | ".join(over_seeds(values(runs, name, m), len(runs)) for m in metrics)
                + " |"
            )
        curves[label] = [
            (policy, *mean_sd(found))
            for name, policy in XWIN_STAGES
            if (found := values(runs, name, "eval/gold_score"))
        ]
    lines += [
        "",
        "| run | RM "
        + " | RM ".join(m.removeprefix("rm/") for m in rm_metrics)
        + " | SFT → RS (gold) | RS → DPO (gold) | RS → DPO (gold, sampled) | stage time per seed (s) |",
        "|---|" + "---|" * (len(rm_metrics) + 4),
    ]
    for label, runs in by_group.items():
        steps = [
            paired(runs, a, b, m)
            for a, b, m in (
                ("eval_sft", "eval_rs", GOLD[0]),
                ("eval_rs", "eval_dpo", GOLD[0]),
                ("eval_rs", "eval_dpo", GOLD[1]),
            )
        ]
        lines.append(
            f"| {label} | "
            + " | ".join(over_seeds(values(runs, "reward", m), len(runs)) for m in rm_metrics)
            + "".join(f" | {change(pairs)}" for pairs in steps)
            + " | "
            f"{mean_sd([r['wall_s'] for r in runs])[0]:.0f} |"
        )
    commands = [r["command"] for runs in by_group.values() for r in runs]
    lines += ["", "Commands: " + "; ".join(f"`{c}`" for c in commands), ""]
    main_label, main = next(iter(by_group.items()))
    gold = [values(main, name, "eval/gold_score") for name, _ in XWIN_STAGES[1:]]
    if all(gold):
        checks = {
            "RM held-out pair accuracy >= 0.75": mean_sd(values(main, "reward", "rm/pair_accuracy"))[0] >= 0.75,
            "gold score SFT < RS < DPO, each beyond the spread": holds(gold[1], gold[0]) and holds(gold[2], gold[1]),
            "DPO win-rate vs SFT >= 0.60": mean_sd(values(main, "eval_dpo", "eval/win_rate") or [0])[0] >= 0.6,
        }
        control = next((runs for label, runs in by_group.items() if "random pick" in label), None)
        if control and values(control, "eval_rs", "eval/gold_score"):
            checks["RS with the RM's pick beats RS with a random pick, beyond the spread"] = holds(
                gold[1], values(control, "eval_rs", "eval/gold_score")
            )
        picked = {label: runs for label, runs in by_group.items() if "random pick" not in label}
        dpo_wins = [
            label
            for label, runs in picked.items()
            if all(holds(values(runs, "eval_dpo", m), values(runs, "eval_rs", m)) for m in GOLD)
        ]
        checks[
            f"DPO beats RS beyond the spread, greedy and sampled, in any of the {len(picked)} runs whose RS "
            "keeps the RM's (or the oracle's) best"
        ] = bool(dpo_wins)
        lines += [
            f"Targets for `{main_label}`: "
            + "; ".join(f"{name}: **{'met' if ok else 'not met'}**" for name, ok in checks.items())
            + "."
            + (f" DPO's step holds in: {', '.join(dpo_wins)}." if dpo_wins else ""),
            "",
        ]
    if all("failures" in r for r in results):
        lines += render_failures(by_group)
    plot_errorbars(curves, "Xwin pipeline: held-out gold score per stage", "gold score", folder / "learning_xwin.png")
    lines += ["![Xwin](learning_xwin.png)", ""]
    return lines


def add_failures(results: list[dict]) -> None:
    """Record which gold-judge checks each policy's greedy held-out answers break (from the finished run dirs)."""
    from align.bench.composition import instruct_failures
    from align.data.jsonl import read_jsonl

    for result in results:
        run = Path(result["run_dir"])
        result["failures"] = {
            name: instruct_failures([r for r in read_jsonl(run / name / "data.jsonl") if r.get("task") == "instruct"])
            for name, _ in XWIN_STAGES
            if (run / name / "data.jsonl").exists()
        }


def render_failures(by_group: dict[str, list[dict]]) -> list[str]:
    """Share of held-out instructions whose greedy answer breaks each check (where the check applies)."""
    from align.bench.stats import over_seeds

    label, runs = next(iter(by_group.items()))
    checks = sorted({c for r in runs for f in r["failures"].values() for c in f})
    lines = [
        f"What each policy of `{label}` still breaks: the share of held-out instructions whose greedy answer "
        "fails each gold-judge check, among those the check applies to:",
        "",
        "| policy | " + " | ".join(checks) + " |",
        "|---|" + "---|" * len(checks),
    ]
    for name, policy in XWIN_STAGES:
        found = [r["failures"][name] for r in runs if name in r["failures"]]
        if found:
            lines.append(
                f"| {policy} | "
                + " | ".join(over_seeds([f[c] for f in found if c in f], len(found)) for c in checks)
                + " |"
            )
    return lines + [""]
