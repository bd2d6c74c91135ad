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


DPKD_ROWS = [("eval_teacher", "teacher (bound)"), ("eval_base", "student before training"),
             ("eval_sft", "SFT w/o KD (labelled subset)"), ("eval_seqkd", "SeqKD"), ("eval_kd", "KD"),
             ("eval_dpkd", "DPKD"), ("eval_onpolicy_fkl", "on-policy forward KL"),
             ("eval_onpolicy_rkl", "on-policy reverse KL"), ("eval_sft_all", "SFT on all 1,000 labels")]


def mean_sd(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0


def dpkd_values(results: list[dict], metric: str) -> dict[str, list]:
    return {stage: [r["stages"].get(stage, {}).get(metric) for r in results] for stage, _ in DPKD_ROWS}


def summary(values: list) -> str:
    done = [v for v in values if isinstance(v, float)]
    return "{:.3f} ± {:.3f}".format(*mean_sd(done)) if done else "—"


def holds(a: list[float], b: list[float]) -> bool:
    """A beats B when the difference of means exceeds the sum of their standard deviations."""
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    return ma - mb > sa + sb


def render_dpkd(results: list[dict], folder: Path) -> list[str]:
    per_row = dpkd_values(results, "eval/rouge_l")
    sampled = dpkd_values(results, "eval/rouge_l_sampled")
    lines = ["## Distillation (`recipes/dpkd.yaml`)", "",
             "`world:teacher` distilled into `world:base`; the student has 100 of the 1,000 reference completions, "
             "the teacher labels all 1,000 prompts (T = 1). Every student trains 300 steps from the base (batch 16, "
             "lr 5e-4); SeqKD, KD (0.5 CE + 0.5 word-level KD) and DPKD (0.5 CE + 0.5 token-level DPKD, β 0.1) all "
             "train on the teacher's responses, with exact teacher targets (k = the whole vocabulary), so they differ "
             "only in the loss; the on-policy rows use TRL's DistillationTrainer on the prompts (no labels, teacher "
             "online). Held-out Rouge-L on 200 reference tasks, greedy (the claims below) and sampled; one run per seed.",
             "", "| policy | " + " | ".join(r["label"].split()[-1] for r in results)
             + " | mean ± sd | sampled (T = 1, 4 per task): mean ± sd |",
             "|---|" + "---|" * (len(results) + 2)]
    for stage, label in DPKD_ROWS:
        values = per_row[stage]
        cells = " | ".join(fmt(v) for v in values)
        lines.append(f"| {label} | {cells} | {summary(values)} | {summary(sampled[stage])} |")
    claims = [("SeqKD beats SFT w/o KD", "eval_seqkd", "eval_sft"), ("KD beats SFT w/o KD", "eval_kd", "eval_sft"),
              ("DPKD beats SFT w/o KD", "eval_dpkd", "eval_sft"), ("DPKD beats SeqKD", "eval_dpkd", "eval_seqkd"),
              ("SeqKD beats DPKD", "eval_seqkd", "eval_dpkd"), ("DPKD beats KD", "eval_dpkd", "eval_kd"),
              ("KD beats DPKD", "eval_kd", "eval_dpkd"), ("DPKD beats on-policy reverse KL", "eval_dpkd",
                                                          "eval_onpolicy_rkl"),
              ("on-policy reverse KL beats DPKD", "eval_onpolicy_rkl", "eval_dpkd")]
    lines += ["", "A claim *holds* when the difference of the means exceeds the sum of the two standard deviations. "
              + "; ".join(f"{name}: **{'holds' if holds(per_row[a], per_row[b]) else 'does not hold'}**"
                          for name, a, b in claims if all(isinstance(v, float) for v in per_row[a] + per_row[b]))
              + ".", "", "Commands: " + "; ".join(f"`{r['command']}`" for r in results), ""]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    stats = [mean_sd([v for v in per_row[stage] if isinstance(v, float)] or [0.0]) for stage, _ in DPKD_ROWS]
    ax.bar(range(len(DPKD_ROWS)), [m for m, _ in stats], yerr=[sd for _, sd in stats], capsize=4)
    ax.set_xticks(range(len(DPKD_ROWS)), [label.split(" (")[0] for _, label in DPKD_ROWS], rotation=15, fontsize=8)
    ax.set(title="Distillation: held-out Rouge-L (mean ± sd over seeds)", ylabel="Rouge-L", ylim=(0.6, 1.0))
    fig.tight_layout()
    fig.savefig(folder / "learning_dpkd.png", dpi=100)
    plt.close(fig)
    return lines + ["![Distillation](learning_dpkd.png)", ""]


def render_learning(results: dict, folder: Path) -> str:
    lines = ["# Learning effects on the embedded world", "",
             "Generated by `align bench learning` (raw numbers: `reports/learning.json`; times are the sum of the "
             "run's stage wall times on 2 CPU cores). One seed per run; "
             "with 200 held-out items, differences of about ±3 points are noise.", ""]
    if "rest-em" in results:
        lines += render_rest_em(results["rest-em"], folder)
    if "xwin" in results:
        lines += render_xwin(results["xwin"], folder)
    if "dpkd" in results:
        lines += render_dpkd(results["dpkd"], folder)
    return "\n".join(lines)
