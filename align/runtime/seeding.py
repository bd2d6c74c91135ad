"""Every stage starts from its own RNG state (Python, numpy, torch), derived from the recipe seed and the
stage's name: a reward head's fresh weights or a sampler's first draw never depend on what ran before, so a
resume that starts at any stage computes what an uninterrupted run computes."""

from __future__ import annotations


def seed_everything(seed: int) -> None:
    from transformers import set_seed  # seeds random, numpy and torch (all devices) in one call

    set_seed(seed % 2**32)
