"""The online-RL section of reports/learning.md (`align bench learning --suite online-rl`): GRPO and RLOO against
ReST-EM's first iteration on world:arith_hard at the same budget of sampled completions, with the world's check of
the working beside the verifier's pass rate; iterative DPO's second round against its first; and KTO against DPO
on the same RM-scored samples of the RS policy."""

from __future__ import annotations

import json
import re
from pathlib import Path

from align.bench.stats import RULE, change, groups, mean_sd, over_seeds, paired, seeds_sentence, values, verdict

GRPO, RLOO, REST = "grpo", "rloo", "rest-em hard, 1 iteration"
RLOO_BOXED = "rloo, boxed-only reward"
BOXED_REWARD = "stages.grpo.rewards={correct: {name: math, boxed_only: true}}"
XWIN_KTO, ITERATIVE = "xwin-kto, on-policy DPO pairs", "iterative-dpo, 2 rounds"
# (row, run group, evaluate stage, training stage or None)
ARITH_ROWS = [
    ("base", GRPO, "eval_base", None),
    ("ReST-EM, iteration 1", REST, "it1-eval", "it1-sft"),
    ("GRPO", GRPO, "eval", "grpo"),
    ("RLOO", RLOO, "eval", "grpo"),
    ("RLOO, boxed-only reward", RLOO_BOXED, "eval", "grpo"),
]
ARITH_METRICS = ["eval/pass@1", "eval/pass@1_sampled", "eval/pass@16", "eval/right_working"]
XWIN_METRICS = ["eval/gold_score", "eval/gold_score_sampled", "eval/win_rate", "eval/rm_score"]
# the world's solutions end so; math-verify also takes a bare last number
BOXED_END = re.compile(r"\\boxed\{-?\d+\}\s*$")
ONLINE_CURVES = ("train/reward", "train/frac_reward_zero_std", "train/completions/mean_length")


def add_online(results: list[dict]) -> None:
    """Record, from the finished run dirs, each run's training budget in sampled completions, the share of its greedy
    held-out answers that end in a well-formed `\\boxed{N}`, and, for the online runs, the per-step training curves
    (the metric log)."""
    from align.data.jsonl import read_jsonl

    for result in results:
        run = Path(result["run_dir"])
        if result["group"] in (GRPO, RLOO, RLOO_BOXED, REST):
            result["boxed"] = {
                stage: boxed_share(read_jsonl(run / stage / "data.jsonl"))
                for _, _, stage, _ in ARITH_ROWS
                if (run / stage / "data.jsonl").exists()
            }
        if result["group"] == REST and "sample/completions" in result["stages"].get("it1-sample", {}):
            result["completions"] = int(result["stages"]["it1-sample"]["sample/completions"])
        elif result["group"] in (GRPO, RLOO, RLOO_BOXED) and (run / "grpo" / "stage.json").exists():
            config = json.loads((run / "grpo" / "stage.json").read_text())["inputs"]["config"]
            steps = result["stages"]["grpo"].get("train/steps", 0)
            result["completions"] = int(steps * config["batch_size"] * config["grad_accum"] * config["processes"])
            curves: dict[str, list] = {name: [] for name in ONLINE_CURVES}
            for line in (run / "metrics.jsonl").read_text().splitlines():
                entry = json.loads(line)
                if entry.get("stage") == "grpo" and entry["name"] in curves and entry["step"] is not None:
                    curves[entry["name"]].append((entry["step"], entry["value"]))
            result["curves"] = curves


def boxed_share(rows: list[dict]) -> float:
    from align.data.rows import completion_text

    return sum(bool(BOXED_END.search(completion_text(r["completion"]))) for r in rows) / max(len(rows), 1)


def render_arith(by_group: dict[str, list[dict]], folder: Path) -> list[str]:
    seeds = max(len(runs) for runs in by_group.values())
    lines = [
        "| policy | "
        + " | ".join(m.removeprefix("eval/") for m in ARITH_METRICS)
        + " | ends in `\\boxed{N}` | completions sampled for training | training stage time (s) | run stage time (s) |",
        "|---|" + "---|" * (len(ARITH_METRICS) + 4),
    ]
    for row, group, ev, train in ARITH_ROWS:
        runs = by_group.get(group, [])
        if not runs:
            continue
        budget = over_seeds([r["completions"] for r in runs if "completions" in r], seeds, 0) if train else "—"
        train_time = over_seeds([r["stage_wall_s"][train] for r in runs if train in r["stage_wall_s"]], seeds, 0)
        lines.append(
            f"| {row} | "
            + " | ".join(over_seeds(values(runs, ev, m), seeds) for m in ARITH_METRICS)
            + f" | {over_seeds([r['boxed'][ev] for r in runs if ev in r.get('boxed', {})], seeds)}"
            + f" | {budget} | {train_time if train else '—'} | "
            + (over_seeds([r["wall_s"] for r in runs], seeds, 0) if train else "—")
            + " |"
        )
    lines += ["", "| first | against | metric | Δ (mean) | verdict |", "|---|---|---|---|---|"]
    final = {row: (by_group.get(group, []), ev) for row, group, ev, _ in ARITH_ROWS}
    comparisons = [
        ("GRPO", "ReST-EM, iteration 1"),
        ("RLOO", "ReST-EM, iteration 1"),
        ("GRPO", "RLOO"),
        ("RLOO, boxed-only reward", "RLOO"),
    ]
    for a, b in comparisons:
        for metric in ("eval/pass@1", "eval/right_working"):
            first, second = values(*final[a], metric), values(*final[b], metric)
            if first and second:
                delta = mean_sd(first)[0] - mean_sd(second)[0]
                lines.append(
                    f"| {a} | {b} | {metric.removeprefix('eval/')} | {delta:+.3f} | {verdict(first, second)} |"
                )
    lines += ["", *per_seed(by_group)]
    plot_online(by_group, folder / "learning_online_rl.png")
    return lines + ["", "![Online RL](learning_online_rl.png)", ""]


def per_seed(by_group: dict[str, list[dict]]) -> list[str]:
    """Each seed's own numbers: a mean over seeds hides one seed whose answers collapsed."""
    seeds = sorted({r["seed"] for runs in by_group.values() for r in runs if r.get("seed") is not None})
    lines = [
        "Per seed, greedy pass@1 / right_working / ends in `\\boxed{N}`:",
        "",
        "| policy | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|---|" + "---|" * len(seeds),
    ]
    for row, group, ev, _ in ARITH_ROWS:
        by_seed = {r["seed"]: r for r in by_group.get(group, [])}
        cells = []
        for seed in seeds:
            run = by_seed.get(seed)
            found = [run["stages"].get(ev, {}).get(m) for m in ("eval/pass@1", "eval/right_working")] if run else []
            boxed = run.get("boxed", {}).get(ev) if run else None
            cells.append(" / ".join("—" if v is None else f"{v:.3f}" for v in [*found, boxed]) if run else "—")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return lines + [""]


def plot_online(by_group: dict[str, list[dict]], path: Path) -> None:
    """Left: the training reward per step (mean over seeds) of GRPO and RLOO. Right: held-out greedy pass@1 and the
    right-working share per policy, mean ± sd."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, group in (("GRPO", GRPO), ("RLOO", RLOO), ("RLOO, boxed-only reward", RLOO_BOXED)):
        runs = [r for r in by_group.get(group, []) if r.get("curves", {}).get("train/reward")]
        if runs:
            steps = sorted({s for r in runs for s, _ in r["curves"]["train/reward"]})
            by_step = [[v for r in runs for s, v in r["curves"]["train/reward"] if s == step] for step in steps]
            left.plot(steps, [sum(v) / len(v) for v in by_step], label=label)
    left.set(title="training reward (sampled, T=1), mean over seeds", xlabel="optimizer step", ylim=(0, 1.02))
    if left.lines:
        left.legend(fontsize=8)
    rows = [(row, by_group.get(group, []), ev) for row, group, ev, _ in ARITH_ROWS if by_group.get(group)]
    for offset, metric in ((-0.15, "eval/pass@1"), (0.15, "eval/right_working")):
        points = [mean_sd(found) if (found := values(runs, ev, metric)) else (0.0, 0.0) for _, runs, ev in rows]
        right.bar(
            [i + offset for i in range(len(rows))],
            [p[0] for p in points],
            width=0.3,
            yerr=[p[1] for p in points],
            capsize=3,
            label=metric.removeprefix("eval/"),
        )
    right.set_xticks(range(len(rows)), [row.replace(", ", ",\n") for row, _, _ in rows], fontsize=8)
    right.set(title="held-out arith_hard_test (greedy)", ylim=(0, 1.02))
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render_xwin_steps(runs: list[dict], rows: list[tuple[str, str]], steps: list[tuple[str, str, str]]) -> list[str]:
    """One row per policy (mean ± sd per metric), then each step between two policies as a paired change, greedy and
    sampled gold score."""
    seeds = len(runs)
    lines = [
        "| policy | " + " | ".join(m.removeprefix("eval/") for m in XWIN_METRICS) + " |",
        "|---|" + "---|" * len(XWIN_METRICS),
    ]
    lines += [
        f"| {name} | " + " | ".join(over_seeds(values(runs, stage, m), seeds) for m in XWIN_METRICS) + " |"
        for name, stage in rows
    ]
    lines += ["", "| step | gold score | gold score, sampled |", "|---|---|---|"]
    for name, a, b in steps:
        lines.append(f"| {name} | " + " | ".join(change(paired(runs, a, b, m)) for m in XWIN_METRICS[:2]) + " |")
    return lines + [""]


def training_sizes(runs: list[dict]) -> str:
    """What each method trained on and for how long: one sample set, different rows and step counts."""

    def cell(stage: str, metric: str) -> str:
        return over_seeds(values(runs, stage, metric), len(runs), 0)

    return (
        f"Per seed, DPO trains on {cell('dpo_pairs', 'select/kept')} pairs for {cell('dpo', 'train/steps')} "
        f"optimizer steps; KTO on {cell('kto_data', 'select/desirable')} desirable and "
        f"{cell('kto_data', 'select/undesirable')} undesirable responses for {cell('kto', 'train/steps')} steps "
        "(the same epochs and batch size: KTO sees each response once per epoch, DPO each pair)."
    )


def xwin_section(title: str, intro: str, runs: list[dict], policies: list, steps: list) -> list[str]:
    """A subsection on the Xwin chain's policies: what was run, the commands, the per-policy table and the steps."""
    head = [f"### {title}", "", intro + seeds_sentence({title: runs}), "", "Commands: " + commands(runs), ""]
    return head + render_xwin_steps(runs, policies, steps)


def commands(runs: list[dict]) -> str:
    return "; ".join(f"`{r['command']}`" for r in runs)


def render_online_rl(results: list[dict], folder: Path) -> list[str]:
    by_group = groups(results)
    lines = [
        "## Online RL, iterative DPO and KTO (`align bench learning --suite online-rl`)",
        "",
        "### GRPO and RLOO against ReST-EM at the same budget",
        "",
        "All from `world:base` on `world:arith_hard_train` (1,500 problems) with the `math` verifier as the only "
        "reward, evaluated on `world:arith_hard_test` (200 problems) as in the ReST-EM section. The budget is the "
        "number of completions sampled from the policy for training: ReST-EM's iteration 1 samples 16 per problem "
        "(24,000), then fine-tunes the base for 2 epochs on the verified ones; GRPO and RLOO (`recipes/grpo.yaml`, "
        "TRL's trainers) take 375 optimizer steps of 8 problems × 8 completions (24,000), both at β = 0 (TRL's "
        "RLOO default is 0.05: one value for both), lr 3e-4, T = 1, at most 64 new tokens, like ReST-EM's "
        "sampling. *right_working* is the world's own check that the greedy answer's working is right, not just "
        "its final number: a policy that games the answer verifier would raise pass@1 and not this; "
        "*ends in \\boxed{N}* is the share of greedy answers whose format is intact (math-verify also reads an "
        "unboxed answer). The boxed-only control rewards RLOO with `{name: math, boxed_only: true}` (evaluated "
        "like the others). "
        "Stage times are on 2 CPU cores; ReST-EM samples with batched `generate` and trains once, the online "
        "methods alternate generation and a gradient step. " + seeds_sentence(by_group) + RULE,
        "",
        "Commands: " + "; ".join(commands(by_group[g]) for g in (GRPO, RLOO, RLOO_BOXED, REST) if g in by_group),
        "",
    ]
    lines += render_arith(by_group, folder)
    if XWIN_KTO in by_group:
        runs = by_group[XWIN_KTO]
        intro = (
            "The Xwin chain (`recipes/xwin-kto.yaml`) up to its RS policy, which then samples 8 responses per "
            "training prompt, scored by the trained RM. DPO gets pairs from them (best vs worst per prompt: the "
            "`stages.dpo_pairs.data=${policy_score.data} rejected_from=null` override); KTO gets the same responses "
            "labelled desirable above their prompt's median reward, undesirable below (`select` rule `label`). "
            "Both train from the RS model with β 0.1, lr 1e-5, 2 epochs. Metrics as in the Xwin section; rm_score is "
            "the score of the RM both trained against, so where it rises while the gold score falls, the policy "
            "is exploiting the RM's errors. "
        )
        policies = [("RS", "eval_rs"), ("DPO", "eval_dpo"), ("KTO", "eval_kto")]
        steps = [("RS → DPO", "eval_rs", "eval_dpo"), ("RS → KTO", "eval_rs", "eval_kto")]
        steps.append(("DPO → KTO", "eval_dpo", "eval_kto"))
        lines += xwin_section("KTO against DPO on the same RM-scored samples", intro, runs, policies, steps)
        lines += [training_sizes(runs), ""]
    if ITERATIVE in by_group:
        intro = (
            "`recipes/iterative-dpo.yaml`: from the same RS policy (its stages are reused from the KTO runs above), "
            "each round samples 8 responses per prompt from the latest policy, scores them with the same RM, pairs "
            "best vs worst, and continues DPO from the previous round's model. Round 1 is the one-round baseline, so "
            "the comparison is paired within each seed. "
        )
        policies = [("RS", "eval_rs"), ("round 1", "it1-eval"), ("round 2", "it2-eval")]
        steps = [("RS → round 1", "eval_rs", "it1-eval"), ("round 1 → round 2", "it1-eval", "it2-eval")]
        lines += xwin_section("Iterative DPO: 2 rounds against 1", intro, by_group[ITERATIVE], policies, steps)
    return lines
