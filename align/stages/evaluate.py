"""`evaluate`: held-out metrics for one policy.

- verifiable problems (`prompt`/`answer`): `eval/pass@1` from greedy decoding, `eval/pass@k` (k = `samples`)
  and `eval/pass@1_sampled` from `samples` completions at `temperature`, scored by `verifier`;
- constrained instructions: `eval/gold_score`, the judge's mean score of greedy completions, and
  `eval/win_rate` against `baseline` (an earlier evaluate stage's `data`), ties counting half; with
  `instruct_samples` > 0 also `eval/gold_score_sampled`, the mean over that many samples at `temperature`
  (how consistently the policy follows instructions, not just its single most likely answer);
- reference tasks (`prompt`/`completion`): `eval/rouge_l` of greedy completions.
Any of the three can be switched off with `null`. Every completion and score goes to `data.jsonl`.
"""
from __future__ import annotations

import json
from typing import Optional

from pydantic import Field

from align import data
from align.engine import StageContext, StageResult
from align.generation import SamplingParams, make_generator
from align.models import locate_model
from align.metrics import mean, pass_at_k, rouge_l, win_rate
from align.stages.base import StageConfig
from rewards import checked_scores, load_scorer


class Config(StageConfig):
    model: str = Field(description="policy to evaluate: HF dir, hub id or world:<name>")
    verifiable: Optional[str] = Field("world:arith_test", description="prompt/answer problems, or null")
    verifier: str = Field("math", description="scorer for verifiable problems (rewards/)")
    samples: int = Field(16, ge=1, description="samples per problem for pass@k (k = samples)")
    temperature: float = Field(1.0, gt=0, description="sampling temperature for pass@k")
    top_p: float = Field(1.0, gt=0, le=1)
    instruct: Optional[str] = Field("world:instruct_test", description="instructions for the judge, or null")
    instruct_samples: int = Field(0, ge=0, description="samples per instruction for eval/gold_score_sampled")
    judge: str = Field("gold_judge", description="scorer for instructions (rewards/)")
    baseline: Optional[str] = Field(None, description="an earlier evaluate stage's data, for eval/win_rate")
    reward_model: Optional[str] = Field(None, description="a reward model dir, for eval/rm_score")
    reference: Optional[str] = Field("world:reference_test", description="prompt/completion pairs, or null")
    limit: Optional[int] = Field(None, ge=1, description="first N rows of each set (smoke runs)")
    max_new_tokens: int = Field(64, ge=1)
    backend: str = Field("auto", description="generation backend: auto, hf or vllm")


def load_sets(config: Config) -> dict[str, list[dict]]:
    sets = {}
    if config.verifiable:
        sets["verifiable"] = data.load_dataset(config.verifiable, "verifiable", config.limit)
    if config.instruct:
        sets["instruct"] = data.load_dataset(config.instruct, "prompts", config.limit)
    if config.reference:
        sets["reference"] = data.load_dataset(config.reference, "reference", config.limit)
    if not sets:
        raise ValueError("evaluate: verifiable, instruct and reference are all null: nothing to evaluate")
    return sets


def check(config: Config) -> None:
    """Fail fast on bad evaluation sets or a missing model, before any stage runs."""
    load_sets(config)
    locate_model(config.model)


def run(config: Config, ctx: StageContext) -> StageResult:
    sets = load_sets(config)
    generator = make_generator(config.model, backend=config.backend)
    greedy_rows = [(task, row) for task, rows in sets.items() for row in rows]
    with ctx.progress("evaluate: greedy", total=len(greedy_rows)) as advance:
        greedy = generator.generate([r["prompt"] for _, r in greedy_rows],
                                    SamplingParams(n=1, temperature=0, max_new_tokens=config.max_new_tokens,
                                                   seed=ctx.seed), advance)
    by_task: dict[str, list[tuple[dict, str]]] = {task: [] for task in sets}
    for (task, row), outs in zip(greedy_rows, greedy):
        by_task[task].append((row, outs[0]))

    metrics, records = {}, []
    if "verifiable" in sets:
        metrics.update(score_verifiable(config, ctx, generator, by_task["verifiable"], records))
    if "instruct" in sets:
        metrics.update(score_instruct(config, by_task["instruct"], records))
        if config.instruct_samples:
            metrics.update(score_instruct_sampled(config, ctx, generator, [r for r, _ in by_task["instruct"]]))
    if "reference" in sets:
        scores = [rouge_l(data.completion_text(row["completion"]), out) for row, out in by_task["reference"]]
        records += [{"task": "reference", "prompt": r["prompt"], "completion": out, "score": s}
                    for (r, out), s in zip(by_task["reference"], scores)]
        metrics["eval/rouge_l"] = mean(scores)
    data.write_jsonl(ctx.out_dir / "data.jsonl", records)
    (ctx.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return StageResult(outputs={"data": "data.jsonl", "metrics": "metrics.json"}, metrics=metrics)


def score_verifiable(config: Config, ctx: StageContext, generator, pairs, records) -> dict:
    rows = [row for row, _ in pairs]
    verifier = load_scorer(config.verifier)
    prompts = [r["prompt"] for r in rows]
    greedy_scores = checked_scores(verifier, prompts, [out for _, out in pairs], rows, config.verifier)
    n = config.samples
    flat = sample_and_score(config, ctx, generator, rows, n, config.verifier, seed=ctx.seed + 1)
    correct = [sum(1 for s in flat[i * n:(i + 1) * n] if s > 0.5) for i in range(len(rows))]
    for (row, out), score, c in zip(pairs, greedy_scores, correct):
        records.append({"task": "verifiable", "prompt": row["prompt"], "answer": row.get("answer"),
                        "completion": out, "score": score, "samples_correct": c, "samples": n})
    return {"eval/pass@1": mean(s > 0.5 for s in greedy_scores),
            f"eval/pass@{n}": mean(pass_at_k(n, c, n) for c in correct),
            "eval/pass@1_sampled": mean(pass_at_k(n, c, 1) for c in correct)}


def score_instruct(config: Config, pairs, records) -> dict:
    rows = [row for row, _ in pairs]
    outs = [out for _, out in pairs]
    scores = checked_scores(load_scorer(config.judge), [r["prompt"] for r in rows], outs, rows, config.judge)
    for row, out, score in zip(rows, outs, scores):
        records.append({"task": "instruct", "prompt": row["prompt"], "completion": out, "score": score,
                        **({"constraints": row["constraints"]} if "constraints" in row else {})})
    metrics = {"eval/gold_score": mean(scores)}
    if config.reward_model:
        from rewards.reward_model import RewardModelScorer

        metrics["eval/rm_score"] = mean(RewardModelScorer(config.reward_model)([r["prompt"] for r in rows], outs))
    if config.baseline:
        baseline = {data.prompt_text(r["prompt"]): r["score"]
                    for r in data.read_jsonl(data.locate(config.baseline)) if r.get("task") == "instruct"}
        keyed = [(s, baseline.get(data.prompt_text(r["prompt"]))) for r, s in zip(rows, scores)]
        if any(b is None for _, b in keyed):
            raise ValueError(f"baseline {config.baseline} lacks some of the evaluated instructions")
        metrics["eval/win_rate"] = win_rate([s for s, _ in keyed], [b for _, b in keyed])
    return metrics


def score_instruct_sampled(config: Config, ctx: StageContext, generator, rows: list[dict]) -> dict:
    flat = sample_and_score(config, ctx, generator, rows, config.instruct_samples, config.judge, seed=ctx.seed + 2)
    return {"eval/gold_score_sampled": mean(flat)}


def sample_and_score(config: Config, ctx: StageContext, generator, rows: list[dict], n: int, scorer: str,
                     seed: int) -> list[float]:
    """`n` samples per row at the configured temperature, scored: row-major, n scores per row."""
    params = SamplingParams(n=n, temperature=config.temperature, top_p=config.top_p,
                            max_new_tokens=config.max_new_tokens, seed=seed)
    with ctx.progress(f"evaluate: {n} samples each", total=len(rows)) as advance:
        samples = generator.generate([r["prompt"] for r in rows], params, advance)
    flat_rows = [r for r, outs in zip(rows, samples) for _ in outs]
    return checked_scores(load_scorer(scorer), [r["prompt"] for r in flat_rows],
                          [o for outs in samples for o in outs], flat_rows, scorer)
