"""`align world report`: measure the shipped world and write reports/world.md.

Every number in the report comes from this run: base and teacher are evaluated with the `eval` recipe
(the same command a user types) and the self-improvement check runs `align world check`'s code.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from align.bench.world_check import self_improvement_check
from align.data.jsonl import read_jsonl
from align.data.rows import prompt_text
from align.engine.recipe import load_recipe
from align.engine.report import cell
from align.engine.runner import Engine
from align.world import ASSETS, instruct, reference, tasks
from align.world.tokenizer import SPECIAL_TOKENS

METRICS = [
    ("eval/pass@1", "pass@1 (greedy)"),
    ("eval/pass@1_sampled", "pass@1 (sampled, T=1)"),
    ("eval/pass@16", "pass@16"),
    ("eval/gold_score", "gold score"),
    ("eval/rouge_l", "Rouge-L"),
]


def asset_sizes(root: Path) -> dict[str, float]:
    sizes = {}
    for item in sorted(root.iterdir()):
        files = [item] if item.is_file() else [p for p in item.rglob("*") if p.is_file()]
        sizes[item.name] = sum(p.stat().st_size for p in files) / 1e6
    return sizes


def evaluate_world_model(name: str, runs: Path) -> dict:
    recipe = load_recipe("eval", [f"model=world:{name}", "tracking=none"])
    summaries = Engine(recipe, runs / f"eval-{name}").run()
    return summaries[-1]["metrics"]


def chains_past_hundred() -> dict[str, int]:
    """How many of the base's pre-training chains (2+ operations) pass 100: how rare `arith_hard`'s skill is."""

    exprs = [
        expr
        for row in read_jsonl(ASSETS / "data" / "corpus.jsonl")
        if (expr := tasks.arith_expression(prompt_text(row["prompt"], roles=False)))
    ]
    chains = [expr for expr in exprs if len(tasks.arith_steps(expr)) > 1]
    return {"past_hundred": sum(map(tasks.passes_hundred, chains)), "chains": len(chains)}


def write_world_report(out: Path = Path("reports/world.md"), runs: Path = Path("runs/world-report")) -> Path:
    started = time.time()
    manifest = json.loads((ASSETS / "world.json").read_text())
    evals = {name: evaluate_world_model(name, runs) for name in ("base", "teacher")}
    check = self_improvement_check()
    sizes, hard = asset_sizes(ASSETS), chains_past_hundred()
    text = render(manifest, evals, check, sizes, hard, time.time() - started)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    (out.with_suffix(".json")).write_text(
        json.dumps(
            {"evals": evals, "check": check, "sizes_mb": sizes, "pretraining_chains": hard, "build": manifest}, indent=2
        )
    )
    return out


def rater_bullet(rater: dict | None) -> str:
    """world:rater and its measured agreement with the gold judge (from the build's manifest)."""
    if not rater:
        return "- **Rater**: not in this build."
    agree = rater["agreement"]
    return f"""- **Rater** (`world:rater`, AlpaGasus's grader; `align/bench/world_rater.py`): the teacher fine-tuned
  {rater["epochs"]} epochs on {rater["train_triples"]:,} instruction triples prompted with AlpaGasus's released rating
  prompt, answering a 0-5 score on the first line. Its labels are the gold judge's score x 5 plus Gaussian
  noise (sd {rater["noise_sd"]}), rounded to halves, so it is an imperfect grader, as an LLM grader is.
  Agreement with the gold judge on {agree["held_out_triples"]} held-out triples (greedy): parsed
  {agree["parsed"]:.0%}, Pearson r {agree["pearson_r"]:.2f}, mean absolute error {agree["mean_abs_error"]:.2f}
  points; as a keep-at-4.5 filter against a perfect gold score: agreement {agree["keep_agreement"]:.2f},
  precision {agree["keep_precision"]:.2f}, recall {agree["keep_recall"]:.2f}. Built by
  `align world build --rater-only` ({rater["build_seconds"] / 60:.1f} min)."""


def data_facts() -> dict[str, str]:
    """The proportions the world's data is drawn with, as the report words them, read from `align.world.tasks`."""

    def modes(weights: dict) -> str:
        return "/".join(str(round(100 * weights[mode])) for mode in ("correct", "lazy", "stop_early"))

    by_habit: dict[str, list[str]] = {}
    for category, habit in instruct.HABITS.items():
        by_habit.setdefault(habit, []).append(category)
    noise = instruct.INSTRUCT_NOISE.values()
    return {
        "easy_digits": f"0–{tasks.EASY_LAST_DIGITS - 1}",
        "easy_modes": modes(tasks.ARITH_MODES_EASY),
        "hard_modes": modes(tasks.ARITH_MODES_HARD),
        "instruct_noise": f"{min(noise):g}–{max(noise):g}",
        "reference_noise": f"{round(100 * reference.REFERENCE_NOISE['replace'])}%",
        "habit": f"{round(100 * instruct.HABIT_RATE)}%",
        "other": f"{round(100 * instruct.OTHER_RATE)}%",
        "habits": ", ".join(
            f"{'/'.join(categories)}: {'order' if habit == 'sorted' else habit}"
            for habit, categories in by_habit.items()
        ),
    }


def render(manifest: dict, evals: dict, check: dict, sizes: dict, hard: dict, seconds: float) -> str:
    facts = data_facts()
    base, teacher = manifest["models"]["base"], manifest["models"]["teacher"]
    rows = "\n".join(
        f"| {label} | {cell(evals['base'].get(key))} | {cell(evals['teacher'].get(key))} |" for key, label in METRICS
    )
    arms = [
        ("before (base)", check["before"]),
        ("after: verifier-kept samples", check["verifier"]),
        ("after: random samples, same count (verifier off)", check["random_control"]),
    ]
    check_rows = "\n".join(
        f"| {name} | {cell(m['eval/pass@1'])} | {cell(m['eval/pass@1_sampled'])} | {cell(m['eval/pass@16'])} |"
        for name, m in arms
    )
    modes = ", ".join(f"{k} {v:.1%}" for k, v in sorted(check["modes"].items()))
    size_rows = "\n".join(f"| {k} | {v * 1000:.0f} |" for k, v in sizes.items())
    return f"""# The embedded world: what it is and what it measures

Generated by `align world report` (this whole file, {seconds:.0f} s on this machine); the raw numbers are
in `reports/world.json`. Held-out sets: {manifest["sizes"]["arith_test"]} problems per family (`world:*_test`).

## Base vs teacher on held-out splits

| metric | `world:base` | `world:teacher` |
|---|---|---|
{rows}

Reproduce each column: `align run eval model=world:base` and `align run eval model=world:teacher`
(pass@16 and sampled pass@1 use 16 samples at temperature 1.0; greedy for everything else).

## Does the world support self-improvement?

Command: `align world check` (the same code). The base samples {check["samples_per_problem"]} solutions for
each of {check["problems"]} training problems (`world:arith_train`, T=1.0); the math verifier accepts
{check["accepted_samples"]} of them (train sampled pass@1 {check["train_sampled_pass@1"]:.3f},
train pass@{check["samples_per_problem"]} {check["train_pass@k"]:.3f}).

- **Verifier precision**: {check["verifier_precision"]:.1%} of accepted samples show fully correct working
  (every step right, the boxed value = the last step). Target ≥ 90%.
- Sample modes on training problems: {modes}.

Then keep at most {check["cap"]} accepted samples per problem at random, a solution sampled several times
counting as often as it was sampled (the `select` stage's `verified` rule, ReST-EM's E-step;
{check["kept_rows"]} rows), and fine-tune the base on them for {check["epochs"]} epochs; the control keeps the same
number of samples per problem at random (the `random` rule: verifier off) and trains the same way:

| policy | held-out pass@1 (greedy) | pass@1 (sampled) | pass@16 |
|---|---|---|---|
{check_rows}

## How the world is built, and why

`align world build` (`align/bench/world_build.py`, seed {manifest["seed"]}) writes everything under
`align/world/assets/`; the shipped assets took {manifest["build_seconds"]:.0f} s ({
        manifest["build_seconds"] / 60:.0f} min) on 2 CPU cores ({
        manifest["threads"]
    } torch threads), measured while light test runs shared the
machine, so an undisturbed build is somewhat faster. `align world build --size micro` (the test suite runs it) takes
seconds.

- **Tokenizer**: character level (`tokenizers` WordLevel over printable ASCII, {len(SPECIAL_TOKENS)} special tokens),
  a Jinja chat template with `{{% generation %}}` marks so TRL's assistant-only loss works; an HF dir.
- **Tasks** (`align/world/tasks.py`): (1) *arith*: `Compute 37-8+9+9+5.`, a two-digit start and
  {min(tasks.ARITH_LEVELS) + 1}–{max(tasks.ARITH_LEVELS) + 1} one-digit steps, answered
  `37-8=29;29+9=38;...;\\boxed{{52}}` (math-verify parses the box); difficulty level = number of steps; `arith_hard`
  has the same chains, each passing 100 on the way ({hard["past_hundred"]:,} of the base's {hard["chains"]:,}
  pre-training chains do), for self-training over several iterations. (2) *instruct*: `List 3 fruits, in upper case,
  sorted, without fig.`, scored by the rule-based gold judge (`align/world/gold_judge.py`: count, category,
  distinct, case, order, exclusion). (3) *reference*: `Reverse: cat fig red`, `Sort: ...`, `Double: ...`, `Drop
  first: ...`, scored by Rouge-L. Train and held-out splits are separated by a hash of the prompt, so they cannot
  share a prompt.
- **Base** (Llama, {base["parameters"]:,} parameters, hidden {base["hidden"]}, {base["layers"]} layers, trained from
  scratch for {base["epochs"]} epochs): its data mixes a correct procedure with whole wrong *modes*, never small
  slips behind a right answer: for arithmetic, the correct working, a *lazy* answer that boxes the first number of
  the question, or *stopping one step early*. The mix depends on the problem: when the first number ends in
  {facts["easy_digits"]} the correct working is the most likely mode ({facts["easy_modes"]}), otherwise it is a
  minority ({facts["hard_modes"]}). Greedy decoding therefore solves some problems and sampling many more, and
  because no wrong mode ever produces the right answer, an accepted answer almost always has right working.
  Single-step sums (the skill itself) are always worked correctly in its data, so the skill is present but
  unreliably elicited. Instructions: each constraint is ignored with probability {facts["instruct_noise"]};
  reference tasks: the input is echoed, a word dropped or replaced {facts["reference_noise"]} of the time.
- **Teacher** (Llama, {teacher["parameters"]:,} parameters, hidden {teacher["hidden"]}, {teacher["layers"]}
  layers, {teacher["epochs"]} epochs): the same prompts with clean answers.
- **SFT demos**: `sft` has clean answers; `sft_crowd` has the same {manifest["datasets"]["sft_crowd"]} prompts
  answered by "crowd writers" (the Xwin pipeline's SFT data): typical words first, and each category has one
  constraint its writers ignore {facts["habit"]} of the time ({facts["habits"]}; others {facts["other"]}), each
  broken in one clear way (opposite case, one item too many, descending order). The SFT policy inherits these
  habits; a reward model can learn to see them, and best-of-N can find answers without them. Regenerated in seconds
  by `align world build --data-only`.
- **Corpus** (`world:corpus`): the base's own pre-training text, {manifest["datasets"]["corpus"]:,} chat rows,
  shuffled: right and wrong modes mixed as described above. Data-selection filters (MiniPLM, ScalingFilter)
  score it, and DPKD's pretraining term trains on it.
{rater_bullet(manifest["models"].get("rater"))}
- The base's imperfection comes only from its training data and size; nothing at generation time injects
  errors.

Observations: the teacher's pass@16 is not above the base's although its pass@1 is far higher: trained
on clean data only, it samples less diversely, and its arithmetic errors are systematic, so resampling
fixes fewer of them. Greedy decoding of the base's lists often repeats a word (the gold judge's `distinct`
check fails), a degenerate mode of tiny models that SFT on clean demonstrations removes.

What this says about real models: the world reproduces the *structure* that self-training and preference
methods exploit (a skill present but unreliably elicited; a judge that can rank outputs), not the scale.
Absolute numbers are not comparable with the papers'; directions and mechanisms are what it tests.

## Asset sizes (KB; {sum(sizes.values()):.1f} MB in all)

| asset | KB |
|---|---|
{size_rows}
"""
