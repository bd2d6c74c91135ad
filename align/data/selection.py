"""Selection rules over scored samples, as pure functions (no I/O, explicit RNG).

A *group* is the list of scored samples of one prompt: dicts with at least `completion` and `score`.
- `best_of_n`: rejection sampling's pick (Xwin RS): the highest score, first sample on ties.
- `verified`: ReST-EM's E-step filter: keep samples with score >= threshold, at most `cap` per problem chosen
  at random; repeats count (a solution sampled often is kept often), `unique` drops them first.
- `random_subset`: the verifier-off control: up to `cap` samples at random, scores ignored.
- `pick`: the per-sample rules above by name, as the `select` stage (and `align world check`) apply them.
- `all_pairs`: every better/worse pair of a prompt (capped): dense data for a reward model.
- `ranked_pair`: the Xwin-Set pair rule: chosen = rank 1, rejected = rank k after sub-sampling N
  candidates; `worst` and `random` rejected are the common ablations; rejected may come from another
  policy's samples (`rejected_pool`).
- `source_pairs`: the preference is given by where a response came from, not by a score: chosen from one
  pool (a teacher's responses), rejected from another (the student's samples): DPKD's sequence form.
"""

from __future__ import annotations

import random
from typing import Literal

# One notion of "correct" for selection (`verified`) and evaluation (pass@k): a score >= this.
CORRECT_THRESHOLD = 0.5

Group = list[dict]


def is_correct(score: float, threshold: float = CORRECT_THRESHOLD) -> bool:
    return score >= threshold


def distinct(group: Group) -> Group:
    """Drop repeated completions, keeping the first occurrence (Xwin-Set's 'unique' responses)."""
    seen, out = set(), []
    for sample in group:
        if sample["completion"] not in seen:
            seen.add(sample["completion"])
            out.append(sample)
    return out


def ranked(group: Group) -> Group:
    """Highest score first; ties keep sample order (stable), so results do not depend on luck."""
    return sorted(group, key=lambda s: -s["score"])


def best_of_n(group: Group) -> dict:
    if not group:
        raise ValueError("best_of_n needs at least one sample")
    return ranked(group)[0]


def accepted(group: Group, threshold: float = CORRECT_THRESHOLD, unique: bool = False) -> Group:
    """The group's correct samples (score >= threshold); with `unique`, each distinct completion once."""
    return [s for s in (distinct(group) if unique else group) if is_correct(s["score"], threshold)]


def verified(
    group: Group, cap: int, rng: random.Random, threshold: float = CORRECT_THRESHOLD, unique: bool = False
) -> Group:
    """Repeats are kept (the paper keeps up to `cap` verified samples a problem; it describes no deduplication):
    deduplicating first keeps the policy's usual right solution once but each rare lucky variant (a right
    answer reached by wrong working) once too, so as the policy improves the kept data fills with the rare
    ones (reports/learning.md shows the share of kept samples whose working is right)."""
    correct = accepted(group, threshold, unique)
    return rng.sample(correct, min(cap, len(correct)))


def random_subset(group: Group, cap: int, rng: random.Random) -> Group:
    return rng.sample(group, min(cap, len(group)))


def pick(
    group: Group,
    rule: str,
    cap: int,
    rng: random.Random,
    threshold: float = CORRECT_THRESHOLD,
    unique: bool = False,
    match_verified: bool = True,
) -> Group:
    """What a per-sample rule keeps of one prompt's group: `best_of_n` (its best), `verified` (at most `cap`
    correct ones, at random) or `random` (the verifier-off control: as many as `verified` would keep, or `cap`
    without `match_verified`, drawn at random with scores ignored). ReST-EM's E-step is `verified`."""
    if rule == "best_of_n":
        return [best_of_n(group)]
    if rule == "verified":
        return verified(group, cap, rng, threshold, unique)
    count = min(cap, len(accepted(group, threshold, unique))) if match_verified else cap
    return random_subset(group, count, rng) if count else []


def ranked_pair(
    group: Group,
    rng: random.Random,
    rejected: Literal["rank", "worst", "random"] = "rank",
    rejected_rank: int = 2,
    num_candidates: int | None = None,
    rejected_pool: Group | None = None,
) -> tuple[dict, dict] | None:
    """(chosen, rejected) or None when the group cannot give a pair with a real preference.

    Candidates are the distinct completions, optionally sub-sampled to `num_candidates` first.
    `rejected_rank` is 1-based (2 = runner-up); a rank beyond the candidates falls back to the last.
    With `rejected_pool` (another policy's scored samples of the same prompt: methods.md's
    `rejected_source: policy`) chosen still comes from `group` and rejected from the pool, ranked as if
    it followed chosen: rank 2 = the pool's best, `worst` = its worst."""
    if rejected == "rank" and rejected_rank < 2:
        raise ValueError("rejected_rank must be >= 2 (rank 1 is the chosen response)")
    candidates = distinct(group)
    if num_candidates is not None and len(candidates) > num_candidates:
        candidates = rng.sample(candidates, num_candidates)
    if not candidates:
        return None
    order = ranked(candidates)
    chosen = order[0]
    others = (
        order[1:]
        if rejected_pool is None
        else ranked([s for s in distinct(rejected_pool) if s["completion"] != chosen["completion"]])
    )
    if not others:
        return None
    if rejected == "worst":
        other = others[-1]
    elif rejected == "random":
        other = rng.choice(others)
    else:
        other = others[min(rejected_rank - 1, len(others)) - 1]
    if other["score"] >= chosen["score"]:
        return None  # a tie carries no preference
    return chosen, other


def all_pairs(group: Group, cap: int, rng: random.Random) -> list[tuple[dict, dict]]:
    """Every (better, worse) pair of distinct completions with different scores, at most `cap` of them
    chosen at random: the dense preference data a reward model learns from (Xwin-Pair's role)."""
    candidates = distinct(group)
    pairs = [(a, b) for a in candidates for b in candidates if a["score"] > b["score"]]
    return rng.sample(pairs, min(cap, len(pairs)))


def source_pairs(chosen: Group, rejected: Group, cap: int, rng: random.Random) -> list[tuple[dict, dict]]:
    """Up to `cap` (chosen, rejected) pairs of one prompt, each response used once, drawn at random from the two
    pools' distinct completions; a pair whose two completions are the same text carries no preference and is
    skipped. Scores are not read."""
    left, right = distinct(chosen), distinct(rejected)
    rng.shuffle(left)
    rng.shuffle(right)
    return [(a, b) for a, b in zip(left, right) if a["completion"] != b["completion"]][:cap]


def group_by_prompt(rows: list[dict], key) -> list[Group]:
    """Groups in first-appearance order; `key(row)` identifies the prompt."""
    groups: dict = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return list(groups.values())
