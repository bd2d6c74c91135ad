"""Generation across processes: `processes: N` in `sample` and `evaluate` shards the prompts over torchrun ranks.

A generator draws its samples in seeded blocks of prompts (HFGenerator: `max_rows // n` prompts, seeded with
`seed + start`). Block i goes to rank i % N, each rank generates its blocks with the seed that block would
have had in one process, and every rank gets all completions back in prompt order. So the samples are the
same whatever N is, and a resumed run may change N.
"""
from __future__ import annotations

from dataclasses import replace

from align.distributed import is_main_process, rank, world_size


def ensure_process_group() -> None:
    """Join torchrun's process group (gloo: it carries Python objects on CPU and GPU alike)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")


def block_size(generator, params, prompts: int, world: int) -> int:
    """Prompts per seeded block: the generator's own batching (HF), else an equal share per rank (vLLM, whose
    samples then depend on N)."""
    size = getattr(generator, "prompts_per_block", None)
    return size(params) if size else max(1, -(-prompts // world))


def generate(generator, prompts: list, params, progress=None) -> list[list[str]]:
    """`generator.generate` over every rank's share of `prompts`; all ranks return every completion."""
    world = world_size()
    if world == 1:
        return generator.generate(prompts, params, progress)
    size = block_size(generator, params, len(prompts), world)
    import torch.distributed as dist

    ensure_process_group()
    mine, shown = {}, 0
    for index, start in enumerate(range(0, len(prompts), size)):
        if index % world == rank():
            mine[start] = generator.generate(prompts[start:start + size], replace(params, seed=params.seed + start))
            if progress and is_main_process():  # rank 0 stands for the round: every rank did a block
                step = min(size * world, len(prompts) - shown)
                progress(step)
                shown += step
    shares: list = [None] * world
    dist.all_gather_object(shares, mine)
    merged = {start: outs for share in shares for start, outs in share.items()}
    return [outs for start in sorted(merged) for outs in merged[start]]


class ShardedGenerator:
    """A generator that, under torchrun, draws only its rank's share of each call and gathers the rest."""

    def __init__(self, inner):
        self.inner = inner
        self.tokenizer = inner.tokenizer

    def generate(self, prompts, params, progress=None) -> list[list[str]]:
        return generate(self.inner, list(prompts), params, progress)
