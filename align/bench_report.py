"""Markdown and plots for `align bench learning` (reports/learning.md)."""
from __future__ import annotations

from pathlib import Path


def fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "—"


def rest_em_rows(result: dict) -> list[tuple]:
    """(step label, pass@1, pass@1 sampled, pass@16, problems kept, samples kept) per iteration."""
    stages = result["stages"]
    rows = [("base", stages["eval_base"], None)]
    it = 1
    while f"it{it}-eval" in stages:
        rows.append((f"iteration {it}", stages[f"it{it}-eval"], stages.get(f"it{it}-select", {})))
        it += 1
    out = []
    for label, ev, sel in rows:
        k = next((key for key in ev if key.startswith("eval/pass@") and key[10:].isdigit() and key != "eval/pass@1"), None)
        out.append((label, ev.get("eval/pass@1"), ev.get("eval/pass@1_sampled"), ev.get(k) if k else None,
                    (sel or {}).get("select/prompts_kept"), (sel or {}).get("select/kept")))
    return out


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
        rows = rest_em_rows(result)
        starts = result.get("start_weights", {})
        from_base = ["—"] + ["yes" if starts.get(f"it{i}-sft") == result.get("model_digest") else "NO"
                             for i in range(1, len(rows))]
        lines += [f"**{result['label']}** — `{result['command']}` ({result['wall_s']:.0f} s of stage time)", "",
                  "| step | pass@1 (greedy) | pass@1 (sampled) | pass@16 | problems kept | samples kept "
                  "| M-step started from base weights |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r[0]} | {fmt(r[1])} | {fmt(r[2])} | {fmt(r[3])} | {r[4] if r[4] is not None else '—'} | "
                  f"{r[5] if r[5] is not None else '—'} | {b} |" for r, b in zip(rows, from_base)]
        best = result["stages"].get("best", {})
        if best:
            regressed = " A later iteration scored below an earlier one." if best.get("best/regressed") else ""
            lines.append(f"\n`pick_best` keeps step {int(best['best/index'])} (0 = base) with pass@1 "
                         f"{fmt(best['best/value'])}.{regressed}")
        lines.append("")
        series[result["label"]] = [(r[0], r[1]) for r in rows]
    plot_lines(series, "ReST-EM: held-out pass@1 (greedy) per iteration", "pass@1", folder / "learning_rest_em.png")
    lines += ["![ReST-EM](learning_rest_em.png)", ""]
    return lines


XWIN_STAGES = [("eval_base", "base"), ("eval_sft", "SFT"), ("eval_rs", "RS"), ("eval_dpo", "DPO")]


def render_xwin(results: list[dict], folder: Path) -> list[str]:
    lines = ["## Xwin pipeline (`recipes/xwin-pipeline.yaml`)", "",
             "Held-out `world:instruct_test` (200 instructions), greedy responses. Gold score = the rule-based "
             "gold judge's mean; win-rate = gold-judge pairwise wins against the SFT policy (ties half); "
             "RM score = the trained reward model's mean score; sampled = mean gold score of 8 samples per "
             "instruction at the recipe's temperature (SFT / RS / DPO).", "",
             "| run | RM pair acc. | gold base | gold SFT | gold RS | gold DPO | win RS vs SFT | win DPO vs SFT "
             "| RM score RS | RM score DPO | sampled SFT / RS / DPO | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    series = {}
    for r in results:
        s = r["stages"]
        value = lambda stage, metric: s.get(stage, {}).get(metric)
        gold = [value(name, "eval/gold_score") for name, _ in XWIN_STAGES]
        cells = ([value("reward", "rm/pair_accuracy"), *gold]
                 + [value(stage, metric) for metric in ("eval/win_rate", "eval/rm_score")
                    for stage in ("eval_rs", "eval_dpo")])
        sampled = " / ".join(fmt(value(name, "eval/gold_score_sampled")) for name, _ in XWIN_STAGES[1:])
        lines.append(f"| {r['label']} | " + " | ".join(map(fmt, cells)) + f" | {sampled} | {r['wall_s']:.0f} |")
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


def render_learning(results: dict, folder: Path) -> str:
    lines = ["# Learning effects on the embedded world", "",
             "Generated by `align bench learning` (raw numbers: `reports/learning.json`; times are the sum of the "
             "run's stage wall times on 2 CPU cores). One seed per run; "
             "with 200 held-out items, differences of about ±3 points are noise.", ""]
    if "rest-em" in results:
        lines += render_rest_em(results["rest-em"], folder)
    if "xwin" in results:
        lines += render_xwin(results["xwin"], folder)
    return "\n".join(lines)
