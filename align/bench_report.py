"""Markdown and plots for `align bench learning` (reports/learning.md)."""
from __future__ import annotations

from pathlib import Path


def fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "—"


def stage_key_metrics(result: dict, stages: list[str], prefix: str = "eval/") -> list[str]:
    """The metrics these stages chose to show (their `key_metrics`), in first-seen order."""
    shown: list[str] = []
    for name in stages:
        keys = result.get("key_metrics", {}).get(name, list(result["stages"].get(name, {})))
        shown += [k for k in keys if k.startswith(prefix) and k not in shown]
    return shown


def plot_lines(series: dict[str, list[tuple[str, float]]], title: str, ylabel: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for label, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ax.set(title=title, ylabel=ylabel, ylim=(0, 1.02))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


XWIN_STAGES = [("eval_base", "base"), ("eval_sft", "SFT"), ("eval_rs", "RS"), ("eval_dpo", "DPO")]


def render_xwin(results: list[dict], folder: Path) -> list[str]:
    """One row per run; one column per metric the evaluate stages report (their key metrics), each cell the
    value per policy (base / SFT / RS / DPO, `—` where that stage does not report it)."""
    stage_names = [name for name, _ in XWIN_STAGES]
    metrics = stage_key_metrics(results[0], stage_names)
    rm_metrics = stage_key_metrics(results[0], ["reward"], prefix="rm/")
    lines = ["## Xwin pipeline (`recipes/xwin-pipeline.yaml`)", "",
             "Held-out `world:instruct_test` (200 instructions), greedy responses unless `sampled`. Gold score = the "
             "rule-based gold judge's mean; win_rate = gold-judge pairwise wins against the SFT policy (ties half); "
             "rm_score = the trained reward model's mean score; gold_score_sampled = mean gold score of 8 samples "
             "per instruction at the recipe's temperature. Each cell lists "
             + " / ".join(label for _, label in XWIN_STAGES) + " (— where a stage does not report the metric).", "",
             "| run | " + " | ".join(m.removeprefix("rm/") for m in rm_metrics) + " | "
             + " | ".join(m.removeprefix("eval/") for m in metrics) + " | wall s |",
             "|---|" + "---|" * (len(rm_metrics) + len(metrics) + 1)]
    series = {}
    for r in results:
        s = r["stages"]
        cells = [fmt(s.get("reward", {}).get(m)) for m in rm_metrics]
        cells += [" / ".join(fmt(s.get(name, {}).get(m)) for name in stage_names) for m in metrics]
        lines.append(f"| {r['label']} | " + " | ".join(cells) + f" | {r['wall_s']:.0f} |")
        gold = [s.get(name, {}).get("eval/gold_score") for name in stage_names]
        series[r["label"]] = [(label, g) for (_, label), g in zip(XWIN_STAGES, gold) if g is not None]
    lines += ["", "Commands: " + "; ".join(f"`{r['command']}`" for r in results), ""]
    main = results[0]["stages"]
    gold = [main.get(name, {}).get("eval/gold_score") for name, _ in XWIN_STAGES[1:]]
    if all(isinstance(g, float) for g in gold):
        checks = {"RM held-out pair accuracy >= 0.75": main["reward"]["rm/pair_accuracy"] >= 0.75,
                  "gold score SFT < RS < DPO": gold[0] < gold[1] < gold[2],
                  "DPO win-rate vs SFT >= 0.60": main["eval_dpo"].get("eval/win_rate", 0) >= 0.6}
        control = next((r["stages"] for r in results if "random pick" in r["label"]), None)
        if control and isinstance(control.get("eval_rs", {}).get("eval/gold_score"), float):
            checks["RS with the RM's pick beats RS with a random pick"] = (
                gold[1] > control["eval_rs"]["eval/gold_score"])
        lines += [f"Targets for `{results[0]['label']}`: " + "; ".join(
            f"{name}: **{'met' if ok else 'not met'}**" for name, ok in checks.items()) + ".", ""]
    plot_lines(series, "Xwin pipeline: held-out gold score per stage", "gold score", folder / "learning_xwin.png")
    lines += ["![Xwin](learning_xwin.png)", ""]
    return lines
