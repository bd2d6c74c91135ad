"""`evaluate`: held-out metrics for one policy.

- verifiable problems (`prompt`/`answer`): `eval/pass@1` from greedy decoding, `eval/pass@k` (k = `samples`)
  and `eval/pass@1_sampled` from `samples` completions at `temperature`, scored by `verifier`; on the world's
  arithmetic also `eval/right_working`, the greedy completions whose working the world checks right (beside
  pass@1, a reward-hacking signal: the verifier accepts a right answer reached by wrong working);
- instructions: the judge's mean score of greedy completions, `eval/gold_score` when the judge is the world's
  `gold_judge` and `eval/judge_score` for any other judge (a user's judge is not the gold one), and
  `eval/win_rate` against `baseline` (an earlier evaluate stage's `data`), ties counting half; with
  `instruct_samples` > 0 also `eval/gold_score_sampled` (`eval/judge_score_sampled`), the mean over that many
  samples at `temperature` (how consistently the policy follows instructions, not just its single most likely
  answer); and for each
  entry `label: spec` of `scorers`, `eval/<label>`: that scorer's mean on the greedy completions (e.g.
  `rm_score: {name: reward_model, model: ...}`);
- reference tasks (`prompt`/`completion`): `eval/rouge_l` of greedy completions; with `reference_samples` > 0
  also `eval/rouge_l_sampled`, the mean over that many samples at `temperature` (MiniLLM's and DPKD's
  evaluation samples at T = 1); with `teacher`, `eval/teacher_logprob`: the teacher's mean per-token log-prob of
  the greedy completions (end-of-sequence token included), how much the teacher agrees with what the student
  writes (distillation's agreement metric, computed by `align.training.logprobs`, the code the trainers' losses use).
With `heldout` (any prompt/completion or messages data, e.g. clean text), `eval/heldout_nll`: the policy's mean
per-token NLL of those completions (a language-modelling loss on text it never trained on).
Any of the three tasks can be switched off with `null`. Every completion and score goes to `data.jsonl`.
The stage's values say what measured each number (`measured_on`: metric -> dataset, rows, scorer, decoding), and
`warnings` says when the world's sets or gold judge measured a model that does not read the world's tokenizer
(they test the world's skills only); the run's summary table and report.md print both.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field, model_validator

from align.data.jsonl import read_jsonl, write_jsonl
from align.data.metrics import mean, pass_at_k, rouge_l, win_rate
from align.data.rows import completion_text, prompt_completion, prompt_text
from align.data.selection import CORRECT_THRESHOLD, is_correct
from align.generation.generators import SamplingParams, make_generator
from align.loading.datasets import load_dataset, locate_dataset
from align.stages.base import StageContext, StageResult
from align.stages.config import (
    ScorerSpec,
    StageConfig,
    dataset_field,
    model_field,
    processes_field,
    scorer_field,
    top_p_field,
)
from align.stages.eval_sources import judge_metric, measured_on, world_sets_warning
from align.world import tasks
from rewards import checked_scores, make_scorer, spec_name


class Config(StageConfig):
    model: str = model_field("policy to evaluate: HF dir, hub id or world:<name>")
    verifiable: str | None = dataset_field(
        "verifiable", "prompt/answer problems, or null", "world:arith_test", read_by=("model",)
    )
    verifier: ScorerSpec = scorer_field("scorer for verifiable problems (rewards/)", "math")
    threshold: float = Field(
        CORRECT_THRESHOLD,
        description="a verifier score >= this counts as correct (the same default as select's `verified`)",
    )
    samples: int = Field(16, ge=1, description="samples per problem for pass@k (k = samples)")
    temperature: float = Field(1.0, gt=0, description="sampling temperature for pass@k")
    top_p: float = top_p_field()
    instruct: str | None = dataset_field(
        "prompts", "instructions for the judge, or null", "world:instruct_test", read_by=("model",)
    )
    instruct_samples: int = Field(0, ge=0, description="samples per instruction for eval/gold_score_sampled")
    reference_samples: int = Field(0, ge=0, description="samples per reference task for eval/rouge_l_sampled")
    judge: ScorerSpec = scorer_field(
        "scorer for instructions (rewards/): eval/gold_score for gold_judge, else eval/judge_score", "gold_judge"
    )
    baseline: str | None = Field(None, description="an earlier evaluate stage's data, for eval/win_rate")
    scorers: dict[str, ScorerSpec] = scorer_field(
        "more scorers of the greedy instruction completions: label -> spec, reported as eval/<label>", {}, many=True
    )
    reference: str | None = dataset_field(
        "sft",
        "prompt/completion pairs or conversations (the last assistant turn is the reference), or null",
        "world:reference_test",
        read_by=("model", "teacher"),
    )
    teacher: str | None = model_field(
        "score the greedy reference completions under this model: eval/teacher_logprob", None
    )
    heldout: str | None = dataset_field(
        "sft", "text to measure eval/heldout_nll on (mean per-token NLL)", None, read_by=("model",)
    )
    limit: int | None = Field(None, ge=1, description="first N rows of each set (smoke runs)")
    max_new_tokens: int = Field(64, ge=1, description="tokens generated per completion at most")
    backend: Literal["auto", "hf", "vllm"] = Field("auto", description="generation backend")
    processes: int = processes_field()

    @model_validator(mode="after")
    def something_to_evaluate(self):
        if not (self.verifiable or self.instruct or self.reference or self.heldout):
            raise ValueError("verifiable, instruct and reference are all null: nothing to evaluate")
        if self.teacher and not self.reference:
            raise ValueError("teacher scores the reference tasks' completions, but reference is null")
        return self


def load_sets(config: Config) -> dict[str, list[dict]]:
    sets = {}
    if config.verifiable:
        sets["verifiable"] = load_dataset(config.verifiable, "verifiable", config.limit)
    if config.instruct:
        sets["instruct"] = load_dataset(config.instruct, "prompts", config.limit)
    if config.reference:
        sets["reference"] = [prompt_completion(r) for r in load_dataset(config.reference, "sft", config.limit)]
    return sets


def run(config: Config, ctx: StageContext) -> StageResult:
    sets = load_sets(config)
    generator = make_generator(config.model, backend=config.backend)
    greedy_rows = [(task, row) for task, rows in sets.items() for row in rows]
    with ctx.progress("evaluate: greedy", total=len(greedy_rows)) as advance:
        greedy = generator.generate(
            [r["prompt"] for _, r in greedy_rows],
            SamplingParams(n=1, temperature=0, max_new_tokens=config.max_new_tokens, seed=ctx.seed),
            advance,
        )
    by_task: dict[str, list[tuple[dict, str]]] = {task: [] for task in sets}
    for (task, row), outs in zip(greedy_rows, greedy):
        by_task[task].append((row, outs[0]))

    metrics, records = {}, []
    if "verifiable" in sets:
        metrics.update(score_verifiable(config, ctx, generator, by_task["verifiable"], records))
    if "instruct" in sets:
        judge = make_scorer(config.judge)  # built once: greedy and sampled scoring share it (and its model)
        metrics.update(score_instruct(config, judge, by_task["instruct"], records))
        if config.instruct_samples:
            metrics.update(score_instruct_sampled(config, ctx, generator, judge, [r for r, _ in by_task["instruct"]]))
    if "reference" in sets:
        scores = rouge_scorer(None, [out for _, out in by_task["reference"]], [r for r, _ in by_task["reference"]])
        records += [
            {"task": "reference", "prompt": r["prompt"], "completion": out, "score": s}
            for (r, out), s in zip(by_task["reference"], scores)
        ]
        metrics["eval/rouge_l"] = mean(scores)
        if config.reference_samples:
            flat = sample_and_score(
                config,
                ctx,
                generator,
                [r for r, _ in by_task["reference"]],
                config.reference_samples,
                "rouge_l",
                seed=ctx.seed + 3,
                scorer=rouge_scorer,
            )
            metrics["eval/rouge_l_sampled"] = mean(flat)
        if config.teacher:
            generator = None  # the student's weights make way for the teacher's
            metrics["eval/teacher_logprob"] = teacher_logprob(config.teacher, by_task["reference"], ctx)
    if config.heldout:
        generator = None
        metrics["eval/heldout_nll"] = heldout_nll(config.model, config.heldout, config.limit, ctx)
    write_jsonl(ctx.out_dir / "data.jsonl", records)
    (ctx.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    values = {"measured_on": {m: d for m, d in measured_on(config, sets).items() if m in metrics}}
    if warning := world_sets_warning(config):
        values["warnings"] = [warning]
    return StageResult(outputs={"data": "data.jsonl", "metrics": "metrics.json"}, values=values, metrics=metrics)


def score_verifiable(config: Config, ctx: StageContext, generator, pairs, records) -> dict:
    rows = [row for row, _ in pairs]
    verifier = make_scorer(config.verifier)
    prompts = [r["prompt"] for r in rows]
    greedy_scores = checked_scores(verifier, prompts, [out for _, out in pairs], rows, spec_name(config.verifier))
    n = config.samples
    flat = sample_and_score(config, ctx, generator, rows, n, config.verifier, seed=ctx.seed + 1, scorer=verifier)
    correct = [sum(1 for s in flat[i * n : (i + 1) * n] if is_correct(s, config.threshold)) for i in range(len(rows))]
    for (row, out), score, c in zip(pairs, greedy_scores, correct):
        records.append(
            {
                "task": "verifiable",
                "prompt": row["prompt"],
                "answer": row.get("answer"),
                "completion": out,
                "score": score,
                "samples_correct": c,
                "samples": n,
            }
        )
    return {
        "eval/pass@1": mean(is_correct(s, config.threshold) for s in greedy_scores),
        f"eval/pass@{n}": mean(pass_at_k(n, c, n) for c in correct),
        "eval/pass@1_sampled": mean(pass_at_k(n, c, 1) for c in correct),
        **right_working(rows, [out for _, out in pairs]),
    }


def right_working(rows: list[dict], outs: list[str]) -> dict:
    """A reward-hacking signal beside pass@1: on the world's arithmetic, the share of greedy completions whose
    working is right, checked by the world, not by the verifier (a right answer reached by wrong working passes
    the verifier). Absent on data the world does not know."""
    expressions = [tasks.arith_expression(prompt_text(r["prompt"], roles=False)) for r in rows]
    if not rows or not all(expressions):
        return {}
    return {"eval/right_working": mean(tasks.arith_fully_correct(e, o) for e, o in zip(expressions, outs))}


def score_instruct(config: Config, judge, pairs, records) -> dict:
    rows = [row for row, _ in pairs]
    outs = [out for _, out in pairs]
    prompts = [r["prompt"] for r in rows]
    scores = checked_scores(judge, prompts, outs, rows, spec_name(config.judge))
    for row, out, score in zip(rows, outs, scores):
        records.append(
            {
                "task": "instruct",
                "prompt": row["prompt"],
                "completion": out,
                "score": score,
                **({"constraints": row["constraints"]} if "constraints" in row else {}),
            }
        )
    metrics = {judge_metric(config): mean(scores)}
    for label, spec in config.scorers.items():
        metrics[f"eval/{label}"] = mean(checked_scores(make_scorer(spec), prompts, outs, rows, spec_name(spec)))
    if config.baseline:
        baseline = {
            prompt_text(r["prompt"]): r["score"]
            for r in read_jsonl(locate_dataset(config.baseline))
            if r.get("task") == "instruct"
        }
        keyed = [(s, baseline.get(prompt_text(r["prompt"]))) for r, s in zip(rows, scores)]
        if any(b is None for _, b in keyed):
            raise ValueError(f"baseline {config.baseline} lacks some of the evaluated instructions")
        metrics["eval/win_rate"] = win_rate([s for s, _ in keyed], [b for _, b in keyed])
    return metrics


def mean_token_logprob(spec: str, rows: list[dict], what: str, ctx: StageContext) -> float:
    from align.training.logprobs import mean_token_logprob as under_model

    with ctx.progress(f"evaluate: {what}", total=len(rows)) as advance:
        return under_model(spec, rows, advance)


def teacher_logprob(teacher: str, pairs: list[tuple[dict, str]], ctx: StageContext) -> float:
    """The teacher's mean per-token log-prob of the policy's completions."""
    rows = [{"prompt": row["prompt"], "completion": out} for row, out in pairs]
    return mean_token_logprob(teacher, rows, "teacher log-probs", ctx)


def heldout_nll(model: str, path: str, limit: int | None, ctx: StageContext) -> float:
    """The policy's mean per-token NLL of held-out completions (messages rows: the last assistant turn)."""
    rows = [prompt_completion(r) for r in load_dataset(path, "sft", limit)]
    return -mean_token_logprob(model, rows, "held-out NLL", ctx)


def rouge_scorer(prompts, completions, rows) -> list[float]:
    """Rouge-L of each completion against its row's reference completion (a scorer, for sampled evaluation)."""
    return [rouge_l(completion_text(row["completion"]), c) for row, c in zip(rows, completions)]


def score_instruct_sampled(config: Config, ctx: StageContext, generator, judge, rows: list[dict]) -> dict:
    flat = sample_and_score(
        config, ctx, generator, rows, config.instruct_samples, config.judge, seed=ctx.seed + 2, scorer=judge
    )
    return {judge_metric(config) + "_sampled": mean(flat)}


def sample_and_score(
    config: Config, ctx: StageContext, generator, rows: list[dict], n: int, spec: ScorerSpec, seed: int, scorer=None
) -> list[float]:
    """`n` samples per row at the configured temperature, scored: row-major, n scores per row."""
    params = SamplingParams(
        n=n, temperature=config.temperature, top_p=config.top_p, max_new_tokens=config.max_new_tokens, seed=seed
    )
    with ctx.progress(f"evaluate: {n} samples each", total=len(rows)) as advance:
        samples = generator.generate([r["prompt"] for r in rows], params, advance)
    flat_rows = [r for r, outs in zip(rows, samples) for _ in outs]
    return checked_scores(
        scorer or make_scorer(spec),
        [r["prompt"] for r in flat_rows],
        [o for outs in samples for o in outs],
        flat_rows,
        spec_name(spec),
    )


def outputs(config: Config) -> set[str]:
    """What `${stage.NAME}` may read of this stage (checked before the run)."""
    return {"data", "metrics", "measured_on", "warnings"}
