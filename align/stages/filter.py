"""`filter`: keep the rows of a dataset that other models rate highly (methods.md sections 5-7).

`method`:
- `judge` (AlpaGasus): a grader model answers the released rating prompt for each full triple (instruction =
  the prompt's user turns, input = the row's `input` or empty, response = the completion) greedily; the first
  line of its reply is the 0-5 score (`align.data.filters.parse_rating`). Or any scorer (`scorer:`, e.g.
  `module:function` or a reward model) gives the score directly. Unparseable ratings are dropped and counted;
  when none parses the stage fails with the counts instead of passing an empty dataset on.
- `ppl_diff` (ScalingFilter): log(PPL_small / PPL_large) of two meta-models trained on the same data.
- `difference` (MiniPLM): mean log p_teacher - mean log p_reference per token.
- `random`: a seeded uniform score per row: the same-size random subset every filter is compared with.
Model scores are the completion tokens' mean log-probs from `align.training.logprobs` (the code training optimises),
with one tokenisation and truncation (`max_length`) for both models. Keep by `threshold` (inclusive) or
`top_fraction`, or keep as many rows as `same_size_as` has (the same-size random subset of AlpaGasus). With
`audit` (a scorer, e.g. the world's gold judge), every row is also scored by it and the filter's agreement with
it is reported (`filter/audit_*`): what a real user would do with a human-labelled sample. Writes the kept rows
unchanged (`data.jsonl`) and `scores.jsonl`: every row's index, score, parse status (and the grader's reply) and
whether it was kept.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import Field, model_validator

from align.data import filters
from align.data.jsonl import write_jsonl
from align.data.rows import completion_text, prompt_completion
from align.generation.prompts import prompt_ids
from align.loading.datasets import load_dataset
from align.loading.digests import check_same_tokenizer
from align.refs import deferred
from align.stages.base import StageContext, StageResult
from align.stages.config import ScorerSpec, StageConfig, dataset_field, model_field, scorer_field

MODELS = {"ppl_diff": ("small", "large"), "difference": ("teacher", "reference")}


class Config(StageConfig):
    data: str = dataset_field(
        "lm",
        "rows to filter: text, messages or prompt/completion (kept rows are written as is)",
        read_by=("small", "large", "teacher", "reference"),
    )
    method: Literal["judge", "ppl_diff", "difference", "random"] = Field(description="the score (see the module)")
    judge: str | None = model_field("judge: the grader model, prompted with the AlpaGasus rating prompt", None)
    scorer: ScorerSpec | None = scorer_field("judge: a scorer that gives the score instead of a grader", None)
    dimension: Literal["accuracy", "helpfulness"] = Field("accuracy", description="judge: the rated dimension")
    max_new_tokens: int = Field(32, ge=1, description="judge: reply length (the score is on its first line)")
    small: str | None = model_field("ppl_diff: the small meta-model", None)
    large: str | None = model_field("ppl_diff: the large meta-model (same training data as small)", None)
    teacher: str | None = model_field("difference: the teacher", None)
    reference: str | None = model_field("difference: the small reference model (trained on disjoint data)", None)
    threshold: float | None = Field(None, description="keep rows scoring at least this (AlpaGasus: 4.5)")
    top_fraction: float | None = Field(None, gt=0, le=1, description="keep this fraction of rows, best first")
    same_size_as: str | None = dataset_field("any", "keep as many rows as this dataset has, best first", None)
    audit: ScorerSpec | None = scorer_field(
        "score every row with this too and report the agreement (filter/audit_*)", None
    )
    batch_size: int = Field(32, ge=1, description="rows per forward pass when scoring with models")
    max_length: int = Field(512, ge=8, description="tokens per scored row, the same for both models")
    limit: int | None = Field(None, ge=1, description="first N rows (smoke runs)")
    backend: Literal["auto", "hf", "vllm"] = Field(
        "auto", description="generation backend: auto = vLLM when CUDA and vllm are there"
    )

    @model_validator(mode="after")
    def method_inputs(self):
        if sum(rule is not None for rule in (self.threshold, self.top_fraction, self.same_size_as)) != 1:
            raise ValueError("give exactly one of `threshold`, `top_fraction` and `same_size_as`")
        if self.method == "judge" and (self.judge is None) == (self.scorer is None):
            raise ValueError("method 'judge' needs exactly one of `judge` (a grader model) and `scorer`")
        for name in MODELS.get(self.method, ()):
            if getattr(self, name) is None:
                raise ValueError(f"method {self.method!r} needs `{name}`")
        return self


def check(config: Config) -> None:
    """Both models of a model score tokenise alike (one text, one tokenisation); `same_size_as` asks no more rows
    than the data has."""
    if config.same_size_as and not deferred(config.same_size_as) and not deferred(config.data):
        same_size(config, len(load_dataset(config.data, "any", config.limit)))
    if config.method in MODELS:
        first, second = (getattr(config, name) for name in MODELS[config.method])
        if not deferred(first) and not deferred(second):
            check_same_tokenizer(
                first,
                second,
                MODELS[config.method][1],
                f"{config.method} compares per-token log-probs of one text under {first!r}",
            )


def mean_logprobs(spec: str, pairs: list[dict], config: Config, ctx: StageContext) -> list[float]:
    """Each row's mean per-token log-prob of its completion under the model `spec`."""
    from align.training.logprobs import model_logprobs

    with ctx.progress(f"filter: log-probs under {spec}", total=len(pairs)) as advance:
        scored = model_logprobs(spec, pairs, config.batch_size, config.max_length, advance)
    return [sum(s.token_logprobs) / max(len(s.token_logprobs), 1) for s in scored]


def judge_scores(config: Config, pairs: list[dict], ctx: StageContext) -> tuple[list, list]:
    """(score or None, reply) per row: the grader's parsed rating, or the scorer's score."""
    if config.scorer is not None:
        return scorer_scores(config.scorer, pairs, ctx, "scoring with"), [None] * len(pairs)
    from align.generation.generators import SamplingParams, make_generator

    chats = [
        filters.rating_messages(
            instruction(p["prompt"]), p.get("input", ""), completion_text(p["completion"]), config.dimension
        )
        for p in pairs
    ]
    check_context(config.judge, chats, config.max_new_tokens)
    generator = make_generator(config.judge, backend=config.backend)
    with ctx.progress(f"filter: {config.judge} rates", total=len(chats)) as advance:
        replies = [
            outs[0]
            for outs in generator.generate(
                chats, SamplingParams(n=1, temperature=0, max_new_tokens=config.max_new_tokens, seed=ctx.seed), advance
            )
        ]
    return [filters.parse_rating(reply) for reply in replies], replies


def same_size(config: Config, available: int) -> int:
    """How many rows `same_size_as` asks for; more than the data has is an error, never a silent "keep all"."""
    count = len(load_dataset(config.same_size_as, "any"))
    if count > available:
        raise ValueError(
            f"same_size_as {config.same_size_as} has {count} rows, more than the {available} rows of {config.data}: "
            "the filter cannot keep as many"
        )
    return count


def check_context(spec: str, chats: list[list[dict]], max_new_tokens: int) -> None:
    """The longest rating chat plus the reply fits the grader's positions (else generation would crash)."""
    from transformers import AutoConfig

    from align.loading.models import load_tokenizer, locate_model

    positions = getattr(AutoConfig.from_pretrained(locate_model(spec)), "max_position_embeddings", None)
    tokenizer = load_tokenizer(spec)
    longest = max(len(prompt_ids(tokenizer, chat)) for chat in chats)
    if positions and longest + max_new_tokens > positions:
        raise ValueError(
            f"the grader {spec!r} handles {positions} positions, but the longest rating prompt is "
            f"{longest} tokens (+ {max_new_tokens} to reply): use a grader with a longer context"
        )


def instruction(prompt) -> str:
    return prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt if m["role"] == "user")


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = load_dataset(config.data, "lm", config.limit)
    pairs = [{**prompt_completion(r), **({"input": r["input"]} if "input" in r else {})} for r in rows]
    replies = [None] * len(rows)
    if config.method == "judge":
        scores, replies = judge_scores(config, pairs, ctx)
    elif config.method == "random":
        rng = random.Random(ctx.seed)
        scores = [rng.random() for _ in pairs]
    else:
        first, second = (mean_logprobs(getattr(config, name), pairs, config, ctx) for name in MODELS[config.method])
        # ppl_diff: log d = NLL_small - NLL_large = logp_large - logp_small; difference: logp_teacher - logp_ref
        scores = (
            [filters.log_quality_factor(-a, -b) for a, b in zip(first, second)]
            if config.method == "ppl_diff"
            else [filters.difference_score(a, b) for a, b in zip(first, second)]
        )
    unparsed = sum(s is None for s in scores)
    if unparsed == len(rows):
        raise ValueError(
            f"{config.data}: the judge {config.judge!r} gave no parseable rating for any of the "
            f"{len(rows)} rows (first reply: {replies[0]!r}); nothing to keep"
        )
    count = same_size(config, len(rows)) if config.same_size_as else None
    keep = filters.keep_mask(scores, config.threshold, config.top_fraction, count)
    if not any(keep):
        rule = f"threshold {config.threshold}" if config.threshold is not None else f"top {config.top_fraction}"
        best = max(s for s in scores if s is not None)
        raise ValueError(f"{config.data}: {rule} keeps none of the {len(rows)} rows (best score {best:.3f})")
    audit = scorer_scores(config.audit, pairs, ctx, "audit by") if config.audit else [None] * len(rows)
    write_jsonl(ctx.out_dir / "data.jsonl", [r for r, k in zip(rows, keep) if k])
    write_jsonl(
        ctx.out_dir / "scores.jsonl",
        [
            {
                "index": i,
                "score": s,
                "parsed": s is not None,
                "kept": k,
                **({"reply": reply} if reply is not None else {}),
                **({"audit": a} if a is not None else {}),
            }
            for i, (s, k, reply, a) in enumerate(zip(scores, keep, replies, audit))
        ],
    )
    kept = sum(keep)
    metrics = {
        "filter/rows": len(rows),
        "filter/kept": kept,
        "filter/kept_fraction": kept / len(rows),
        "filter/unparsed": unparsed,
        **(agreement(scores, keep, audit) if config.audit else {}),
    }
    return StageResult(
        outputs={"data": "data.jsonl", "scores": "scores.jsonl"},
        metrics=metrics,
        key_metrics=["filter/kept", "filter/kept_fraction", "filter/unparsed"],
    )


def scorer_scores(spec: ScorerSpec, pairs: list[dict], ctx: StageContext, what: str) -> list[float]:
    """Each row's score by a scorer spec (the judge's `scorer`, or the `audit`), completions as text."""
    from rewards import make_scorer, score_in_batches, spec_name

    rows = [{**p, "completion": completion_text(p["completion"])} for p in pairs]
    with ctx.progress(f"filter: {what} {spec_name(spec)}", total=len(rows)) as advance:
        return list(score_in_batches(make_scorer(spec), rows, spec_name(spec), advance=advance))


def agreement(scores: list, keep: list[bool], audit: list[float]) -> dict:
    """How the filter agrees with the audit scorer: its mean on kept vs all rows, and the correlation of scores."""
    import statistics

    kept = [a for a, k in zip(audit, keep) if k]
    pairs = [(s, a) for s, a in zip(scores, audit) if s is not None]
    varied = len({s for s, _ in pairs}) > 1 and len({a for _, a in pairs}) > 1
    return {
        "filter/audit_mean_all": statistics.fmean(audit),
        "filter/audit_mean_kept": statistics.fmean(kept),
        "filter/audit_pearson": statistics.correlation(*zip(*pairs)) if varied else 0.0,
    }


def outputs(config: Config) -> set[str]:
    """What `${stage.NAME}` may read of this stage (checked before the run)."""
    return {"data", "scores"}
