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


def rest_em_steps(result: dict) -> list[tuple[str, str, str | None]]:
    """(label, evaluate stage, select stage) per step: the base, then each iteration."""
    steps = [("base", "eval_base", None)]
    it = 1
    while f"it{it}-eval" in result["stages"]:
        steps.append((f"iteration {it}", f"it{it}-eval", f"it{it}-select"))
        it += 1
    return steps


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


def render_rest_em(results: list[dict], folder: Path) -> list[str]:
    lines = ["## ReST-EM (`recipes/rest-em.yaml`)", "",
             "2 iterations, 16 samples per problem at T=1 on the 1,500 `world:arith_train` problems, at most 10 "
             "distinct verified solutions kept per problem, M-step = 2 epochs of SFT from the base.", "",
             "Held-out `world:arith_test` (200 problems); pass@1 is greedy, sampled pass@1 and pass@16 use 16 "
             "samples at T=1. Each M-step fine-tunes the base weights: the last column compares the weights "
             "fingerprint each `itN-sft` stage recorded at step 0 (`start_weights` in its stage.json) with the "
             "base's. The control switches the verifier off: the same number of samples per problem is kept "
             "at random, and the M-step trains the same way.", ""]
    series = {}
    for result in results:
        steps = rest_em_steps(result)
        metrics = stage_key_metrics(result, [e for _, e, _ in steps])
        stages, starts = result["stages"], result.get("start_weights", {})
        from_base = ["—"] + ["yes" if starts.get(f"it{i}-sft") == result.get("model_digest") else "NO"
                             for i in range(1, len(steps))]
        lines += [f"**{result['label']}** — `{result['command']}` ({result['wall_s']:.0f} s of stage time)", "",
                  "| step | " + " | ".join(m.removeprefix("eval/") for m in metrics)
                  + " | problems kept | samples kept | M-step started from base weights |",
                  "|---|" + "---|" * (len(metrics) + 3)]
        for (label, ev, sel), base in zip(steps, from_base):
            kept = stages.get(sel, {}) if sel else {}
            cells = [fmt(stages[ev].get(m)) for m in metrics]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {kept.get('select/prompts_kept', '—')} | "
                         f"{kept.get('select/kept', '—')} | {base} |")
        best = stages.get("best", {})
        if best:
            regressed = " A later iteration scored below an earlier one." if best.get("best/regressed") else ""
            lines.append(f"\n`pick_best` keeps step {int(best['best/index'])} (0 = base) with pass@1 "
                         f"{fmt(best['best/value'])}.{regressed}")
        lines.append("")
        series[result["label"]] = [(label, stages[ev].get("eval/pass@1")) for label, ev, _ in steps]
    plot_lines(series, "ReST-EM: held-out pass@1 (greedy) per iteration", "pass@1", folder / "learning_rest_em.png")
    lines += ["![ReST-EM](learning_rest_em.png)", ""]
    return lines


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
