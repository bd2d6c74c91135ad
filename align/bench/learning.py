"""`align bench learning`: run the recipes and their controls on the embedded world, write reports/learning.md.

Each experiment is an ordinary `align run` (the command is printed in the report). A variant that shares
its first stages with the main run starts from a copy of that run's dir, so the engine's own resume
logic skips the shared prefix instead of recomputing it.
"""

from __future__ import annotations

import json
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from align.bench.distill import render_dpkd
from align.bench.online_rl import (
    BOXED_REWARD,
    GRPO,
    ITERATIVE,
    REST,
    RLOO,
    RLOO_BOXED,
    XWIN_KTO,
    add_online,
    render_online_rl,
)
from align.bench.rest_em import render_rest_em
from align.bench.selection import add_composition, render_alpagasus, render_selection
from align.bench.xwin import add_failures, render_xwin
from align.engine.recipe import load_recipe
from align.engine.report import run_overview
from align.engine.runner import Engine


def run_name(group: str, seed: int | None) -> str:
    """An experiment's name (and, slugged, its run dir): its group, and its seed when it has one."""
    return group if seed is None else f"{group} seed={seed}"


@dataclass
class Experiment:
    label: str  # the run group: runs that differ only in their seed share it
    recipe: str
    overrides: list[str] = field(default_factory=list)
    copy_from: str | None = None  # group of an experiment (same seed) whose finished stages this one reuses
    seed: int | None = None

    @property
    def name(self) -> str:
        return run_name(self.label, self.seed)

    def args(self) -> list[str]:
        """The recipe overrides, the seed included: what the run gets and what its command shows."""
        return [*self.overrides, *([] if self.seed is None else [f"seed={self.seed}"])]

    def command(self) -> str:
        return " ".join(["align run", self.recipe, *map(shlex.quote, self.args())])


def seeded(
    label: str, recipe: str, seeds: int, overrides: tuple[str, ...] = (), copy_from: str | None = None
) -> list[Experiment]:
    """One experiment per seed 0..seeds-1."""
    return [Experiment(label, recipe, list(overrides), copy_from, seed) for seed in range(seeds)]


XWIN_VARIANTS = [
    ("xwin n=64, RS random pick", ("rs_selection=random",)),
    ("xwin n=16", ("n=16",)),
    ("xwin n=4", ("n=4",)),
    ("xwin n=64, rejected rank 2", ("rejected=rank", "rejected_rank=2")),
    ("xwin n=64, rejected from the Xwin-Set", ("rejected_from=null",)),
]
# DPO levers (issue 15), each from the main run's RS model: DPO-side guards, on-policy pairs, and the oracle, the gold
# judge as the RM for the Xwin-Set and the policy's samples (the ceiling: RS and DPO on pairs the RM cannot beat).
# (label, overrides, the run whose finished stages it reuses)
ORACLE = ("stages.xwin_score.scorer=gold_judge", "stages.policy_score.scorer=gold_judge")
DPO_LEVERS = [
    ("xwin n=64, DPO + SFT term", ("stages.dpo.loss_type=[sigmoid, sft]",), "xwin n=64"),
    ("xwin n=64, DPO lr 5e-5", ("stages.dpo.learning_rate=5e-5",), "xwin n=64"),
    (
        "xwin n=64, robust DPO (label smoothing 0.1)",
        ("stages.dpo.loss_type=robust", "stages.dpo.label_smoothing=0.1"),
        "xwin n=64",
    ),
    ("xwin n=64, on-policy pairs", ("stages.dpo_pairs.data=${policy_score.data}", "rejected_from=null"), "xwin n=64"),
    ("xwin n=64, oracle RM (gold judge)", ORACLE, "xwin n=64"),
    (
        "xwin n=64, oracle RM, DPO + SFT term lr 1e-4",
        (*ORACLE, "stages.dpo.loss_type=[sigmoid, sft]", "stages.dpo.learning_rate=1e-4"),
        "xwin n=64, oracle RM (gold judge)",
    ),
]
HARD = ("data.train=world:arith_hard_train", "data.eval=world:arith_hard_test")
ON_POLICY_PAIRS = ("stages.dpo_pairs.data=${policy_score.data}", "rejected_from=null")


def suite_experiments(seeds: int = 3) -> dict[str, list[Experiment]]:
    """Every suite's experiments; each headline row runs under `seed=0..seeds-1`."""
    return {
        "dpkd": seeded("kd", "kd", seeds),  # kd = dpkd + its baselines
        "alpagasus": seeded("alpagasus", "alpagasus", seeds),
        "miniplm": seeded("miniplm", "miniplm", seeds),
        "rest-em": seeded("rest-em", "rest-em", seeds)
        + seeded("rest-em (verifier off)", "rest-em", seeds, ("selection=random",), copy_from="rest-em"),
        "rest-em-hard": seeded("rest-em hard, 3 iterations", "rest-em", seeds, (*HARD, "iterations=3"))
        + seeded(
            "rest-em hard, 1 iteration, 3x samples",
            "rest-em",
            seeds,
            (*HARD, "iterations=1", "samples=48"),
            copy_from="rest-em hard, 3 iterations",
        )
        # the same, with an M-step at least as long as iteration 3's (its E-step keeps about half as many rows)
        + seeded(
            "rest-em hard, 1 iteration, 3x samples, 4 epochs",
            "rest-em",
            seeds,
            (*HARD, "iterations=1", "samples=48", "stages.rest.stages.sft.epochs=4"),
            copy_from="rest-em hard, 1 iteration, 3x samples",
        ),
        # GRPO and RLOO vs ReST-EM at one budget of sampled completions; KTO vs DPO on the same samples; iterative
        # DPO reusing that chain's stages up to its RS policy
        "online-rl": seeded(GRPO, "grpo", seeds)
        + seeded(RLOO, "grpo", seeds, ("method=rloo",))
        + seeded(RLOO_BOXED, "grpo", seeds, ("method=rloo", BOXED_REWARD))
        + seeded(REST, "rest-em", seeds, (*HARD, "iterations=1"))
        + seeded(XWIN_KTO, "xwin-kto", seeds, ON_POLICY_PAIRS)
        + seeded(ITERATIVE, "iterative-dpo", seeds, copy_from=XWIN_KTO),
        "xwin": seeded("xwin n=64", "xwin-pipeline", seeds)
        + [
            exp
            for label, overrides in XWIN_VARIANTS
            for exp in seeded(label, "xwin-pipeline", seeds, overrides, copy_from="xwin n=64")
        ]
        + [
            exp
            for label, overrides, source in DPO_LEVERS
            for exp in seeded(label, "xwin-pipeline", seeds, overrides, copy_from=source)
        ],
    }


SUITES = list(suite_experiments(1))


def slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-")


def run_experiment(exp: Experiment, root: Path, smoke: bool) -> dict:
    run_dir = root / slug(exp.name)
    source = root / slug(run_name(exp.copy_from, exp.seed)) if exp.copy_from else None
    recipe = load_recipe(exp.recipe, [*exp.args(), "tracking=none"], smoke=smoke)
    if source and source.exists():  # a fresh copy: shared stages are reused
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.copytree(source, run_dir, ignore=stage_dirs_only(source, recipe.name))
    Engine(recipe, run_dir).run()
    overview = run_overview(run_dir)
    starts = {s["name"]: s["values"]["start_weights"] for s in overview["stages"] if "start_weights" in s["values"]}
    return {
        "label": exp.name,
        "group": exp.label,
        "seed": exp.seed,
        "command": exp.command() + (" --smoke" if smoke else ""),
        "run_dir": str(run_dir),
        "wall_s": round(sum(s["wall_s"] for s in overview["stages"]), 1),
        "stages": {s["name"]: s["metrics"] for s in overview["stages"]},
        "stage_wall_s": {s["name"]: s["wall_s"] for s in overview["stages"]},
        "key_metrics": {s["name"]: s["key_metrics"] for s in overview["stages"]},
        "start_weights": starts,
        "model_digest": model_digest(recipe.params.get("model", "")),
    }


def stage_dirs_only(source: Path, recipe: str):
    """copytree's `ignore` for a copy from another recipe's run: leave out its top-level files (the run record and
    logs; the engine refuses a dir that holds another recipe's run), keep its finished stage dirs, each with its
    inputs' fingerprint, for the new run to reuse. None (copy all) when the source ran the same recipe."""
    if json.loads((source / "run.json").read_text()).get("recipe") == recipe:
        return None
    return lambda folder, names: [n for n in names if Path(folder) == source and (source / n).is_file()]


def model_digest(spec: str) -> str | None:
    """The weights fingerprint of the recipe's starting model, to show where training started."""
    from align.loading.digests import weights_digest
    from align.loading.models import load_causal_lm

    try:
        return weights_digest(load_causal_lm(spec, dtype="float32", device="cpu"))
    except Exception:  # a hub id that cannot be reached: the report just omits the check
        return None


def bench_learning(
    suites: list[str],
    root: Path = Path("runs/bench"),
    out: Path = Path("reports/learning.md"),
    smoke: bool = False,
    render_only: bool = False,
    seeds: int = 3,
) -> Path:
    results_path = out.with_suffix(".json")
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for suite in [] if render_only else suites:
        started = time.time()
        experiments = suite_experiments(seeds)[suite]
        resumed = any((root / slug(exp.name)).exists() for exp in experiments)  # a sitting that reuses runs
        results[suite] = [run_experiment(exp, root, smoke) for exp in experiments]
        if suite == "xwin":  # which instruction constraints each policy still breaks
            add_failures(results[suite])
        if suite.startswith("rest-em"):  # what the verifier let through, and where the gains are
            from align.bench.rest_em import add_working

            add_working(results[suite])
        if suite == "online-rl":  # budgets in sampled completions, and the online runs' training curves
            add_online(results[suite])
        if suite == "miniplm":  # what each filter kept: task families and the share of right answers
            add_composition(results[suite])
        if suite == "dpkd":  # peak memory per method, each alone in a fresh process, on seed 0's teacher targets
            from align.bench.memory import measure_memory

            results["dpkd_memory"] = measure_memory(
                Path(results[suite][0]["run_dir"]), root / "dpkd-memory", steps=4 if smoke else 100
            )
        record_clock(results, suite, round(time.time() - started, 1), resumed)
        out.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=2))
    out.write_text(render_learning(results, out.parent))
    return out


def record_clock(results: dict, suite: str, seconds: float, resumed: bool) -> None:
    """The bench's own clock per suite. A sitting that found runs of an earlier one (a suite grown by a row, or a
    bench restarted after a kill) adds its time to the earlier sittings' instead of replacing it."""
    clocks, sittings = results.setdefault("wall_s", {}), results.setdefault("sittings", {})
    earlier = sittings.get(suite) or ([clocks[suite]] if suite in clocks else [])
    sittings[suite] = [*earlier, seconds] if resumed else [seconds]
    clocks[suite] = round(sum(sittings[suite]), 1)


def sittings(results: dict, suite: str) -> str:
    found = results.get("sittings", {}).get(suite, [])
    if len(found) < 2:
        return ""
    return (
        f" (in {len(found)} sittings, {' + '.join(f'{s / 60:.0f}' for s in found)} min; later ones reuse finished runs)"
    )


def render_learning(results: dict, folder: Path) -> str:
    lines = [
        "# Learning effects on the embedded world",
        "",
        "Generated by `align bench learning` (raw numbers: `reports/learning.json`; times are the sum of the "
        "run's stage wall times on 2 CPU cores). Each section says over how many seeds its rows ran "
        "(`--seeds`); with 200 held-out items, a one-seed difference of about ±3 points is noise.",
        "",
    ]
    if results.get("wall_s"):
        clocks = results["wall_s"]
        lines += [
            "Wall time of the last `align bench learning` of each suite (the bench's clock, everything "
            "included): "
            + ", ".join(
                f"{suite} {seconds / 60:.0f} min{sittings(results, suite)}" for suite, seconds in clocks.items()
            )
            + (f"; {sum(clocks.values()) / 60:.0f} min together." if len(clocks) > 1 else "."),
            "",
        ]
    rest_em = results.get("rest-em", []) + results.get("rest-em-hard", [])
    if rest_em:
        lines += render_rest_em(rest_em, folder)
    if "xwin" in results:
        lines += render_xwin(results["xwin"], folder)
    if "dpkd" in results:
        lines += render_dpkd(results["dpkd"], results.get("dpkd_memory"), folder)
    if "online-rl" in results:
        lines += render_online_rl(results["online-rl"], folder)
    if "alpagasus" in results:
        lines += render_alpagasus(results["alpagasus"])
    if "miniplm" in results:
        lines += render_selection(results["miniplm"])
    return "\n".join(lines)
