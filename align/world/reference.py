"""The `reference` family: word transformations with one reference answer (`Reverse: cat fig red`), scored by
Rouge-L against it."""

from __future__ import annotations

import random

from align.world.instruct import ALL_WORDS
from align.world.tasks import assistant, user

REFERENCE_OPS = {
    "Reverse": lambda ws: ws[::-1],
    "Sort": sorted,
    "Double": lambda ws: [w for w in ws for _ in (0, 1)],
    "Drop first": lambda ws: ws[1:],
}


def make_reference_problem(rng: random.Random) -> dict:
    op = rng.choice(list(REFERENCE_OPS))
    words = rng.sample(ALL_WORDS, rng.randint(3, 5))
    reference = " ".join(REFERENCE_OPS[op](words))
    return {"prompt": user(f"{op}: {' '.join(words)}"), "completion": assistant(reference), "words": words, "op": op}


# The base's reference answers: a roll below each bound picks that error (echo 20%, drop 15%, replace 15%).
REFERENCE_NOISE = {"echo": 0.2, "drop": 0.35, "replace": 0.5}


def reference_response_noisy(problem: dict, rng: random.Random) -> str:
    """Mostly right, sometimes a word dropped, swapped for another, or the input echoed back."""
    words = REFERENCE_OPS[problem["op"]](list(problem["words"]))
    roll = rng.random()
    if roll < REFERENCE_NOISE["echo"]:
        words = list(problem["words"])  # echoes the input instead of transforming it
    elif roll < REFERENCE_NOISE["drop"] and len(words) > 1:
        del words[rng.randrange(len(words))]
    elif roll < REFERENCE_NOISE["replace"]:
        words[rng.randrange(len(words))] = rng.choice(ALL_WORDS)
    return " ".join(words)
