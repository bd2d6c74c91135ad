"""`select`: turn scored samples into training data with one of the rules in `align.data.selection`.

- `best_of_n`  -> prompt/completion, one per prompt (rejection sampling, Xwin RS)
- `verified`   -> prompt/completion, score >= threshold, at most `cap` per prompt at random (ReST-EM); repeats
                  count unless `unique`
- `random`     -> prompt/completion chosen at random, scores ignored (the verifier-off control); with
                  `match_verified` (default) as many per prompt as `verified` would keep, so the control
                  gets exactly the same amount of data and the same training budget
- `pairs`      -> prompt/chosen/rejected by rank (the Xwin-Set pair rule and its ablations); with
                  `rejected_from`, rejected comes from another policy's scored samples
- `all_pairs`  -> prompt/chosen/rejected, every better/worse pair, at most `cap` per prompt (RM data)
  (both pair rules: `min_margin` drops pairs whose scores differ by less)
- `label`      -> prompt/completion/label for KTO: every sample (at most `cap` per prompt, at random), labelled
                  desirable (true) when its score >= threshold (or, `label_by: median`, above its prompt's
                  median), else undesirable (false)
- `source_pairs` -> prompt/chosen/rejected with chosen from `data` and rejected from `rejected_from`, at most
                  `cap` per prompt, no scores read: the preference is the source (DPKD's sequence form: the
                  teacher's responses over the student's samples)
"""

from __future__ import annotations

import random
import statistics
from typing import Literal

from pydantic import Field, model_validator

from align.data import selection
from align.data.jsonl import write_jsonl
from align.data.rows import prompt_text
from align.data.selection import CORRECT_THRESHOLD
from align.loading.datasets import load_dataset
from align.stages.base import StageContext, StageResult, StopLoop
from align.stages.config import ScorerSpec, StageConfig, dataset_field, scorer_field
from rewards import make_scorer, score_in_batches, spec_name

PAIR_RULES = ("pairs", "all_pairs", "source_pairs")


class Config(StageConfig):
    data: str = dataset_field("samples", "samples: scored (a score stage's data), or unscored with `scorer`")
    rule: Literal["best_of_n", "verified", "random", "pairs", "all_pairs", "source_pairs", "label"] = Field(
        description="the selection rule (see the module)"
    )
    scorer: ScorerSpec | None = scorer_field("score the samples here first (replaces their `score`)", None)
    cap: int = Field(
        10,
        ge=1,
        description="verified/random: max samples kept per prompt (ReST-EM: 10); "
        "all_pairs/source_pairs: max pairs per prompt; label: max labelled samples per prompt",
    )
    unique: bool = Field(
        False,
        description="verified (and random's count): drop repeated completions before the cap "
        "(the paper keeps them: a solution the policy samples often is kept often)",
    )
    threshold: float = Field(
        CORRECT_THRESHOLD,
        description="verified: minimum score to count as correct (the same default as evaluate's pass@k)",
    )
    rejected: Literal["rank", "worst", "random"] = Field("rank", description="pairs: how to pick rejected")
    rejected_rank: int = Field(2, ge=2, description="pairs: 1-based rank of the rejected response")
    num_candidates: int | None = Field(None, ge=2, description="pairs: sub-sample N candidates first")
    min_margin: float = Field(
        0.0,
        ge=0,
        description="pairs/all_pairs: keep a pair only when chosen's score minus "
        "rejected's is at least this (drops pairs a noisy reward model barely separates)",
    )
    rejected_from: str | None = dataset_field(
        "samples",
        "pairs: take rejected from these scored samples (another policy's, e.g. pi_RS) instead of from `data`",
        None,
    )
    match_verified: bool = Field(True, description="random: keep as many per prompt as `verified` would")
    label_by: Literal["threshold", "median"] = Field(
        "threshold",
        description="label: desirable when the score >= `threshold`, or above its prompt's median score (for "
        "scores of no fixed scale, a reward model's)",
    )
    prompts: str | None = dataset_field("prompts", "if given, every one of these prompts must have samples", None)
    limit: int | None = Field(None, ge=1, description="first N rows of `prompts` (smoke runs)")
    on_empty: Literal["fail", "stop_loop"] = Field(
        "fail",
        description="when nothing is kept: fail the run, or (inside a repeat block) stop the loop and keep what it has",
    )

    @model_validator(mode="after")
    def rejected_from_needs_pairs(self):
        if self.rejected_from and self.rule not in ("pairs", "source_pairs"):
            raise ValueError(f"rejected_from applies to rules 'pairs' and 'source_pairs' only, not {self.rule!r}")
        if self.rule == "source_pairs" and not self.rejected_from:
            raise ValueError("rule 'source_pairs' needs `rejected_from` (the pool rejected responses come from)")
        if self.rule == "source_pairs" and self.scorer:
            raise ValueError("rule 'source_pairs' reads no scores: drop `scorer`")
        if self.min_margin and self.rule not in ("pairs", "all_pairs"):
            raise ValueError(f"min_margin applies to rules 'pairs' and 'all_pairs' only, not {self.rule!r}")
        return self


def as_completion(prompt, text: str):
    """Conversational prompts need conversational completions (TRL's format rule)."""
    return text if isinstance(prompt, str) else [{"role": "assistant", "content": text}]


def scored_groups(
    path: str, scorer=None, name: str = "", progress=None, need_scores: bool = True
) -> dict[str, list[dict]]:
    """Scored samples grouped by prompt text, in first-appearance order (scored here when `scorer` is given)."""
    rows = load_dataset(path, "samples")
    if scorer is not None:
        with progress(f"select: scoring with {name}", total=len(rows)) as advance:
            scores = score_in_batches(scorer, rows, name, advance=advance)
        rows = [dict(row, score=s) for row, s in zip(rows, scores)]
    if need_scores and any("score" not in r for r in rows):
        raise ValueError(f"{path}: rows without a `score` column: run a score stage first")
    return {prompt_text(g[0]["prompt"]): g for g in selection.group_by_prompt(rows, lambda r: prompt_text(r["prompt"]))}


def rejected_pools(config: Config, groups: dict, scorer, name: str, ctx: StageContext) -> dict[str, list[dict]]:
    """`rejected_from`'s samples by prompt, every prompt of `data` among them."""
    if not config.rejected_from:
        return {}
    pools = scored_groups(config.rejected_from, scorer, name, ctx.progress, config.rule != "source_pairs")
    missing = next((text for text in groups if text not in pools), None)
    if missing is not None:
        raise ValueError(f"{config.rejected_from}: no samples for prompt {missing[:80]!r} of {config.data}")
    return pools


def pairs_of(config: Config, group: list[dict], pool: list[dict] | None, rng: random.Random) -> list[tuple]:
    """(chosen, rejected) pairs of one prompt by the configured pair rule."""
    if config.rule == "source_pairs":
        return selection.source_pairs(group, pool, config.cap, rng)
    if config.rule == "all_pairs":
        return selection.all_pairs(group, config.cap, rng)
    pair = selection.ranked_pair(group, rng, config.rejected, config.rejected_rank, config.num_candidates, pool)
    return [pair] if pair else []


def select_pairs(config: Config, groups: dict, pools: dict, rng: random.Random) -> tuple[list[dict], dict]:
    out, narrow = [], 0
    scored = config.rule != "source_pairs"
    for text, group in groups.items():
        prompt, pairs = group[0]["prompt"], pairs_of(config, group, pools.get(text), rng)
        if config.min_margin:
            wide = [(c, r) for c, r in pairs if c["score"] - r["score"] >= config.min_margin]
            narrow, pairs = narrow + len(pairs) - len(wide), wide
        out += [
            {
                "prompt": prompt,
                "chosen": as_completion(prompt, chosen["completion"]),
                "rejected": as_completion(prompt, rejected["completion"]),
                **({"chosen_score": chosen["score"], "rejected_score": rejected["score"]} if scored else {}),
            }
            for chosen, rejected in pairs
        ]
    return out, ({"select/dropped_narrow": narrow} if config.min_margin else {})


def select_labelled(config: Config, groups: dict, rng: random.Random) -> tuple[list[dict], dict]:
    """KTO's unpaired data: each kept sample labelled desirable by `threshold` (`selection.is_correct`, the rule
    `verified` keeps by) or, `label_by: median`, when it beats its prompt's median score."""
    out = []
    for group in groups.values():
        prompt = group[0]["prompt"]
        if config.label_by == "median":
            median = statistics.median(s["score"] for s in group)
            desirable = lambda s, median=median: s["score"] > median  # noqa: E731
        else:
            desirable = lambda s: selection.is_correct(s["score"], config.threshold)  # noqa: E731
        out += [
            {
                "prompt": prompt,
                "completion": as_completion(prompt, s["completion"]),
                "label": desirable(s),
                "score": s["score"],
            }
            for s in selection.random_subset(group, config.cap, rng)
        ]
    wanted = sum(row["label"] for row in out)
    return out, {"select/desirable": wanted, "select/undesirable": len(out) - wanted}


def select_samples(config: Config, groups: dict, rng: random.Random) -> tuple[list[dict], dict]:
    out, solved = [], 0
    for group in groups.values():
        prompt = group[0]["prompt"]
        picked = selection.pick(
            group, config.rule, config.cap, rng, config.threshold, config.unique, config.match_verified
        )
        solved += bool(picked)
        out += [
            {"prompt": prompt, "completion": as_completion(prompt, s["completion"]), "score": s["score"]}
            for s in picked
        ]
    return out, {"select/prompts_kept": solved}


def run(config: Config, ctx: StageContext) -> StageResult:
    scorer = make_scorer(config.scorer) if config.scorer else None  # built once for `data` and `rejected_from`
    name = spec_name(config.scorer) if config.scorer else ""
    groups = scored_groups(config.data, scorer, name, ctx.progress, config.rule != "source_pairs")
    if config.prompts:
        for index, row in enumerate(load_dataset(config.prompts, "prompts", config.limit)):
            if prompt_text(row["prompt"]) not in groups:
                raise ValueError(
                    f"{config.data}: prompt {index + 1} of {config.prompts} has no samples "
                    f"({prompt_text(row['prompt'])[:80]!r})"
                )
    pools = rejected_pools(config, groups, scorer, name, ctx)
    rng = random.Random(ctx.seed)
    if config.rule in PAIR_RULES:
        out, counts = select_pairs(config, groups, pools, rng)
    elif config.rule == "label":
        out, counts = select_labelled(config, groups, rng)
    else:
        out, counts = select_samples(config, groups, rng)
    if not out:
        reason = f"select ({config.rule}) kept nothing from {sum(map(len, groups.values()))} samples"
        if config.on_empty == "stop_loop":
            raise StopLoop(reason)
        raise ValueError(f"{reason}: no training data")
    write_jsonl(ctx.out_dir / "data.jsonl", out)
    return StageResult(
        outputs={"data": "data.jsonl"},
        metrics={"select/prompts": len(groups), "select/kept": len(out), **counts},
        key_metrics=["select/kept"],
    )


def outputs(config: Config) -> set[str]:
    """What `${stage.NAME}` may read of this stage (checked before the run)."""
    return {"data"}
