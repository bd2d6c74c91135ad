"""The HF backend's decode loop: `generate`'s samples, draw for draw, with less work per sample.

`model.generate` decodes every row of a batch until its longest row ends; with short, uneven completions
(the world's average 18 of 64 tokens) most of that work is wasted, and at small model sizes each step's
fixed cost dominates. This loop decodes several seeded blocks of prompts in one batch (the fixed cost is
shared) and drops finished rows from the batch and its KV cache (the waste goes). The KV cache is a
preallocated buffer written in place and widened 16 columns at a time (a `DynamicCache` copies itself
on every step, which was 45% of the loop's time); attention runs over the whole buffer, its unused
columns masked, which changes no logit.

The samples stay exactly those of `generate` on each block alone after `torch.manual_seed(block.seed)`.
`torch.multinomial(p, 1)` is argmax(p / q) with q ~ Exp(1) drawn for the whole batch; here each block draws
its own q from its own generator, one draw per step while any of its rows is unfinished, so the rows
beside it change no draw. Extra left padding (blocks padded to a common width) changes no logit. A row ends at
any of the model's stop tokens (`align.generation.prompts.stop_ids`), as `generate` ends it. Tests
(tests/generation/test_generation.py, tests/conformance/test_stop_tokens.py) pin the equality with `generate`; the
logits warpers are transformers' own. What a model's generation_config.json may add beyond the stage's settings and
its stop list (a repetition penalty, say) is not applied: the stage's sampling settings are the whole story.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import (
    DynamicCache,
    LogitsProcessorList,
    StaticCache,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.cache_utils import StaticLayer


@dataclass(frozen=True)
class SamplingParams:
    """What to draw: `n` completions per prompt at `temperature` (0 = greedy), cut by `top_p` and `top_k`
    (0 = no cut), at most `max_new_tokens` each, seeded by `seed`."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 64
    seed: int = 0


@dataclass
class Block:
    """Prompts (token ids) that `generate` would sample in one call, seeded by `seed`."""

    prompts: list[list[int]]
    seed: int
    out: torch.Tensor | None = None  # [rows, max_new_tokens] new tokens, pad after EOS
    rng: torch.Generator = field(init=False)
    live: int = 0  # rows still decoding


def logits_warpers(temperature: float, top_k: int, top_p: float) -> LogitsProcessorList:
    """What `generate(do_sample=True)` applies to the logits, in its order."""
    warpers = LogitsProcessorList()
    if temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k:
        warpers.append(TopKLogitsWarper(top_k=top_k))
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p=top_p))
    return warpers


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids of left-padded rows, numbered as `generate` numbers them."""
    return (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 1)


def gangs(blocks: list[Block], n: int, batch_rows: int) -> list[list[Block]]:
    """Consecutive blocks that decode together, up to `batch_rows` rows (a bigger block goes alone)."""
    groups: list[list[Block]] = []
    for block in blocks:
        if groups and (sum(len(b.prompts) for b in groups[-1]) + len(block.prompts)) * n <= batch_rows:
            groups[-1].append(block)
        else:
            groups.append([block])
    return groups


GROW = 16  # static cache columns added at a time


def left_padded(prompts: list[list[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask of prompts padded on the left to one width."""
    width = max(map(len, prompts))
    ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    return ids, mask


def prefill(model, pad: int, prompts: list[list[int]], n: int):
    """Left-padded ids and mask of every prompt, repeated n times, and a KV cache of all but the last token,
    computed once per prompt and shared by its n rows (empty for one-token prompts: nothing to cache)."""
    ids, mask = left_padded(prompts, pad, model.device)
    cache = StaticCache(config=model.config, max_cache_len=ids.shape[1] + GROW)
    if not all(type(layer) is StaticLayer for layer in cache.layers):  # sliding windows etc.: transformers' own
        cache = DynamicCache(config=model.config)
    if ids.shape[1] > 1:
        model(
            input_ids=ids[:, :-1],
            attention_mask=mask[:, :-1],
            past_key_values=cache,
            use_cache=True,
            position_ids=(mask[:, :-1].long().cumsum(-1) - 1).clamp(min=0),
        )
        select_rows(cache, torch.arange(len(prompts), device=ids.device).repeat_interleave(n))
    return ids.repeat_interleave(n, 0), mask.repeat_interleave(n, 0), cache


def make_room(cache, length: int) -> None:
    """Widen a static cache to hold `length` tokens, GROW columns at a time: attention runs over the whole
    buffer (the unused tail masked), so it should not be much wider than needed, and widening copies it,
    so not every step."""
    for layer in cache.layers:
        if isinstance(layer, StaticLayer) and layer.is_initialized and layer.max_cache_len < length:
            extra = length - layer.max_cache_len + GROW - 1
            layer.keys, layer.values = (
                torch.cat([t, t.new_zeros((*t.shape[:2], extra, t.shape[3]))], 2) for t in (layer.keys, layer.values)
            )
            layer.max_cache_len += extra


def select_rows(cache, rows: torch.Tensor) -> None:
    """Keep (or repeat) these batch rows of the cache."""
    for layer in cache.layers:
        if layer.is_initialized and layer.keys is not None:
            layer.keys, layer.values = layer.keys[rows], layer.values[rows]
            layer.batch_size = len(rows)


@torch.no_grad()
def decode_blocks(
    model,
    blocks: list[Block],
    params: SamplingParams,
    stops: list[int],
    pad: int,
    batch_rows: int = 512,
    drop_fraction: float = 0.25,
    on_done: Callable[[Block], None] | None = None,
) -> list[Block]:
    """Sample `params.n` completions of every block's prompts into `block.out` (the blocks' own seeds, not
    `params.seed`), each row ending at its first token in `stops`; finished rows leave the batch once they are
    `drop_fraction` of it. `pad` fills a row's tail after it ends."""
    for gang in gangs(blocks, params.n, batch_rows):
        decode_gang(model, gang, params, torch.tensor(stops, device=model.device), pad, drop_fraction, on_done)
    return blocks


def decode_gang(
    model, gang: list[Block], params: SamplingParams, stops: torch.Tensor, pad: int, drop_fraction: float, on_done
) -> None:
    """Decode one gang of blocks. A block's rows stay contiguous in the batch (rows only ever leave it, in
    order), so each block is a slice: `spans` holds (block, start, end)."""
    n, max_new_tokens, temperature = params.n, params.max_new_tokens, params.temperature
    ids, mask, cache = prefill(model, pad, [p for block in gang for p in block.prompts], n)
    device = ids.device
    owner = torch.cat([torch.full((len(b.prompts) * n,), i, device=device) for i, b in enumerate(gang)])
    row = torch.cat([torch.arange(len(b.prompts) * n, device=device) for b in gang])
    for block in gang:
        block.live = len(block.prompts) * n
        block.out = torch.full((block.live, max_new_tokens), pad, dtype=torch.long, device=device)
        block.rng = torch.Generator(device).manual_seed(block.seed)
    warpers = LogitsProcessorList() if temperature == 0 else logits_warpers(temperature, params.top_k, params.top_p)
    done = torch.zeros(len(owner), dtype=torch.bool, device=device)
    step_ids, position = ids[:, -1:], positions(mask)[:, -1:]
    spans = block_spans(owner, gang)
    for step in range(max_new_tokens):
        make_room(cache, mask.shape[1])
        logits = (
            model(input_ids=step_ids, attention_mask=mask, position_ids=position, past_key_values=cache, use_cache=True)
            .logits[:, -1]
            .float()
        )
        scores = warpers(None, logits)
        tokens = scores.argmax(-1) if temperature == 0 else sample_per_block(scores, row, spans)
        tokens = tokens.masked_fill(done, pad)
        finished = torch.isin(tokens, stops) | (step == max_new_tokens - 1)
        for block, start, end in spans:
            block.out[row[start:end], step] = tokens[start:end]
            ended = int((finished[start:end] & ~done[start:end]).sum())
            block.live -= ended
            if ended and block.live == 0 and on_done:
                on_done(block)
        done |= finished
        if bool(done.all()):
            break
        if done.sum() >= drop_fraction * len(done):
            keep = (~done).nonzero().squeeze(1)
            select_rows(cache, keep)
            owner, row, done, tokens, mask, position = (t[keep] for t in (owner, row, done, tokens, mask, position))
            spans = block_spans(owner, gang)
        mask = torch.cat([mask, mask.new_ones((len(owner), 1))], dim=1)
        step_ids, position = tokens[:, None], position + 1


def block_spans(owner: torch.Tensor, gang: list[Block]) -> list[tuple[Block, int, int]]:
    """(block, start, end) of each block's rows in the batch."""
    counts, spans, start = torch.bincount(owner, minlength=len(gang)).tolist(), [], 0
    for block, count in zip(gang, counts):
        if count:
            spans.append((block, start, start + count))
        start += count
    return spans


def sample_per_block(scores: torch.Tensor, row: torch.Tensor, spans: list[tuple[Block, int, int]]) -> torch.Tensor:
    """`torch.multinomial(softmax(scores), 1)` as each block alone draws it, from the block's own generator."""
    probs = torch.softmax(scores, -1)
    tokens = torch.zeros(len(row), dtype=torch.long, device=scores.device)
    for block, start, end in spans:
        if block.live == 0:  # a finished block draws no more; its rows' tokens are discarded
            continue
        noise = torch.empty(
            (block.out.shape[0], scores.shape[-1]), dtype=probs.dtype, device=scores.device
        ).exponential_(1, generator=block.rng)
        tokens[start:end] = (probs[start:end] / noise[row[start:end]]).argmax(-1)
    return tokens
