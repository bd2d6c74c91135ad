"""Generation across processes: `processes: N` in `sample` and `evaluate` shards the prompts over torchrun ranks.

A generator draws its samples in seeded blocks of prompts (HFGenerator: `max_rows // n` prompts, seeded with
`seed + start`). Block i goes to rank i % N, each rank generates its blocks with the seed that block would
have had in one process, and every rank gets all completions back in prompt order. So the samples are the
same whatever N is, and a resumed run may change N.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import accumulate

from align.runtime.distributed import is_main_process, rank, world_size


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
    starts = [start for index, start in enumerate(range(0, len(prompts), size)) if index % world == rank()]
    blocks = [(prompts[start : start + size], params.seed + start) for start in starts]
    shown = 0

    def advance(count: int) -> None:  # rank 0 stands for all: every rank finishes blocks at about its pace
        nonlocal shown
        step = min(count * world, len(prompts) - shown)
        progress(step)
        shown += step

    report = advance if progress and is_main_process() else None
    if hasattr(generator, "generate_blocks"):  # the rank's blocks share one decoding batch
        outs = generator.generate_blocks(blocks, params, report)
        ends = list(accumulate(len(block) for block, _ in blocks))
        mine = {start: outs[end - len(block) : end] for start, (block, _), end in zip(starts, blocks, ends)}
    else:
        mine = {}
        for start, (block, seed) in zip(starts, blocks):
            mine[start] = generator.generate(block, replace(params, seed=seed))
            if report:
                report(len(block))
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
