"""Each family's train and held-out problems, drawn from a seed and separated by a hash of the prompt."""

from __future__ import annotations

import random

from align.world.instruct import make_instruct_problem
from align.world.reference import make_reference_problem
from align.world.tasks import is_held_out, make_arith_hard_problem, make_arith_problem

FAMILIES = {
    "arith": make_arith_problem,
    "arith_hard": make_arith_hard_problem,
    "instruct": make_instruct_problem,
    "reference": make_reference_problem,
}


def generate_split(family: str, seed: int, n_train: int, n_test: int) -> tuple[list[dict], list[dict]]:
    """Unique problems of one family, split train/held-out by prompt hash; deterministic per seed."""
    rng = random.Random(f"{family}-{seed}")
    make = FAMILIES[family]
    train, test, seen = [], [], set()
    attempts = 0
    while len(train) < n_train or len(test) < n_test:
        attempts += 1
        if attempts > 50 * (n_train + n_test) + 1000:
            raise RuntimeError(f"cannot draw {n_train}+{n_test} unique {family} problems")
        problem = make(rng)
        text = problem["prompt"][0]["content"]
        if text in seen:
            continue
        seen.add(text)
        bucket = test if is_held_out(text) else train
        limit = n_test if bucket is test else n_train
        if len(bucket) < limit:
            bucket.append(problem)
    return train, test
