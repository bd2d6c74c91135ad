"""The ReST-EM sections of reports/learning.md: each run group (one recipe and overrides, several seeds) as a
table of mean ± sd per iteration, whether each iteration beats the one before, and run-vs-run comparisons."""

from __future__ import annotations

from pathlib import Path

from align.bench.stats import RULE, change, groups, mean_sd, outcome, over_seeds, paired, seeds_sentence, values
from align.bench.xwin import plot_errorbars, stage_key_metrics

# (first group, second group): the final iterations compared, on greedy pass@1.
COMPARISONS = [
    ("rest-em", "rest-em (verifier off)"),
    ("rest-em hard, 3 iterations", "rest-em hard, 1 iteration, 3x samples"),
    ("rest-em hard, 3 iterations", "rest-em hard, 1 iteration, 3x samples, 4 epochs"),
]


def steps(results: list[dict]) -> list[tuple[str, str, str | None]]:
    """(label, evaluate stage, select stage) per step: the base, then each iteration any seed reached."""
    out = [("base", "eval_base", None)]
    while any(f"it{len(out)}-eval" in r["stages"] for r in results):
        out.append((f"iteration {len(out)}", f"it{len(out)}-eval", f"it{len(out)}-select"))
    return out


def from_base(results: list[dict], step: int) -> str:
    """Whether every seed's M-step of this iteration started from the base weights (stage fingerprints)."""
    checked = [
        r.get("start_weights", {}).get(f"it{step}-sft") == r.get("model_digest")
        for r in results
        if f"it{step}-sft" in r.get("start_weights", {})
    ]
    return "—" if not checked else ("yes" if all(checked) else "NO")


def render_group(label: str, runs: list[dict]) -> tuple[list[str], list[tuple[str, float, float]]]:
    seeds, plan = len(runs), steps(runs)
    metrics = stage_key_metrics(runs[0], [e for _, e, _ in plan])
    wall = mean_sd([r["wall_s"] for r in runs])[0]
    commands = "; ".join(f"`{r['command']}`" for r in runs)
    lines = [
        f"**{label}** — {commands} ({wall:.0f} s of stage time per seed)",
        "",
        "| step | "
        + " | ".join(m.removeprefix("eval/") for m in metrics)
        + " | vs previous step (pass@1) | problems kept | samples kept | M-step from base weights |",
        "|---|" + "---|" * (len(metrics) + 4),
    ]
    previous = None
    for i, (name, ev, sel) in enumerate(plan):
        kept = [
            over_seeds(values(runs, sel, key), seeds, 0) if sel else "—"
            for key in ("select/prompts_kept", "select/kept")
        ]
        step = change(paired(runs, previous, ev, "eval/pass@1")) if previous else "—"
        lines.append(
            f"| {name} | "
            + " | ".join(over_seeds(values(runs, ev, m), seeds) for m in metrics)
            + f" | {step} | {kept[0]} | {kept[1]} | {from_base(runs, i) if i else '—'} |"
        )
        previous = ev
    picks = [int(r["stages"]["best"]["best/index"]) for r in runs if "best/index" in r["stages"].get("best", {})]
    if picks:
        lines.append(f"\n`pick_best` keeps step {', '.join(map(str, picks))} (per seed; 0 = base).")
    lines.append("")
    curve = [
        (name, *mean_sd(values(runs, ev, "eval/pass@1"))) for name, ev, _ in plan if values(runs, ev, "eval/pass@1")
    ]
    return lines, curve


def add_working(results: list[dict]) -> None:
    """Record, from the finished run dirs, how many kept samples show the right working and the held-out greedy
    pass@1 per operation count (the world knows each problem's working)."""
    from align.bench.composition import arith_working
    from align.data.jsonl import read_jsonl

    for result in results:
        run = Path(result["run_dir"])
        stages = [stage for _, ev, sel in steps([result]) for stage in (ev, sel) if stage]
        result["working"] = {
            stage: arith_working(read_jsonl(run / stage / "data.jsonl"))
            for stage in stages
            if (run / stage / "data.jsonl").exists()
        }


def render_working(runs: list[dict]) -> list[str]:
    """The verifier's precision on what each iteration kept, and where the held-out gains are, by operation count."""
    if not all("working" in r for r in runs):
        return []
    plan, seeds = steps(runs), len(runs)
    ops = sorted({k for r in runs for found in r["working"].values() for k in found if k != "all"}, key=int)

    def share(stage: str, key: str, field: str) -> str:
        found = [
            r["working"][stage][key][field]
            for r in runs
            if stage in r["working"] and key in r["working"][stage] and field in r["working"][stage][key]
        ]
        return over_seeds(found, seeds, 2)

    lines = [
        "Kept samples whose working is exactly right (the answer verifier's precision: a right answer reached "
        "by wrong working passes it), and held-out greedy pass@1, by the problem's number of operations:",
        "",
        "| step | kept, right working | "
        + " | ".join(f"kept, {k} ops" for k in ops)
        + " | "
        + " | ".join(f"pass@1, {k} ops" for k in ops)
        + " |",
        "|---|---|" + "---|" * (2 * len(ops)),
    ]
    for name, ev, sel in plan:
        kept = [share(sel, key, "right_working") if sel else "—" for key in ["all", *ops]]
        lines.append(
            f"| {name} | " + " | ".join(kept) + " | " + " | ".join(share(ev, key, "score") for key in ops) + " |"
        )
    return lines + [""]


def final_pass(runs: list[dict]) -> list[float]:
    """Greedy pass@1 of each seed's last iteration."""
    last = steps(runs)[-1][1]
    return values(runs, last, "eval/pass@1")


def render_rest_em(results: list[dict], folder: Path) -> list[str]:
    by_group = groups(results)
    lines = [
        "## ReST-EM (`recipes/rest-em.yaml`)",
        "",
        "16 samples per problem at T=1 (unless the run says otherwise), at most 10 verified samples "
        "kept per problem at random (a solution sampled often can be kept several times), M-step = 2 epochs "
        "of SFT from the base. `world:arith` problems have 2-4 operations; "
        "`world:arith_hard` (the `data.train=world:arith_hard_train data.eval=world:arith_hard_test` override) "
        "has the same kind of chain, each passing 100 on the way, which is rare in the base's data. Held-out "
        "test split of the same family (200 problems); pass@1 is greedy, sampled pass@1 and pass@16 use 16 "
        "samples at T=1. Each M-step "
        "fine-tunes the base weights (the last column compares the weights fingerprint each `itN-sft` stage "
        "recorded at step 0 with the base's). The verifier-off control keeps the same number of samples per "
        "problem at random and trains the same way. " + seeds_sentence(by_group) + RULE,
        "",
    ]
    curves = {}
    for label, runs in by_group.items():
        table, curves[label] = render_group(label, runs)
        lines += table + render_working(runs)
    pairs = [(a, b) for a, b in COMPARISONS if a in by_group and b in by_group]
    if pairs:
        lines += ["| last iteration of | against the last iteration of | Δ pass@1 | verdict |", "|---|---|---|---|"]
        for a, b in pairs:
            first, second = final_pass(by_group[a]), final_pass(by_group[b])
            mark = (
                "one seed"
                if min(len(first), len(second)) < 2
                else ("**holds**" if outcome(first, second) == "better" else "**does not hold**")
            )
            lines.append(f"| {a} | {b} | {mean_sd(first)[0] - mean_sd(second)[0]:+.3f} | {mark} |")
        lines.append("")
    plot_errorbars(curves, "ReST-EM: held-out pass@1 (greedy) per iteration", "pass@1", folder / "learning_rest_em.png")
    return lines + ["![ReST-EM](learning_rest_em.png)", ""]
