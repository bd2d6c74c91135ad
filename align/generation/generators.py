"""One generation interface, two backends: HF `generate` (CPU, any GPU) and vLLM (GPU, optional).

`make_generator(model, backend="auto")` picks vLLM when CUDA and vllm are present. Both take prompts in
TRL's two shapes (a string, or a list of chat messages rendered with the tokenizer's chat template) and
return `n` completions per prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import torch

from align.errors import AlignError
from align.generation.decoding import Block, SamplingParams, decode_blocks
from align.generation.prompts import prompt_ids, saved_stop_ids, stop_ids
from align.loading.models import load_causal_lm, load_tokenizer


class Generator(Protocol):
    def generate(
        self, prompts: Sequence, params: SamplingParams, progress: Callable[[int], None] | None = None
    ) -> list[list[str]]:
        """`n` completions per prompt, in prompt order."""


class HFGenerator:
    """Batched sampling with left padding and a KV cache: `generate`'s samples, with less work.

    Prompts go in seeded blocks of `max_rows // n`: a block's samples are those `model.generate` draws for
    it alone after `torch.manual_seed(seed + start)`. The n samples of a prompt share one prefill, and
    blocks share the decoding batch, finished rows leaving it and new blocks joining (align.generation.decoding)."""

    def __init__(
        self, model: str, max_rows: int = 256, batch_rows: int = 512, dtype: str = "auto", device: str = "auto"
    ):
        self.tokenizer = load_tokenizer(model, padding_side="left")
        self.model = load_causal_lm(model, dtype=dtype, device=device).eval()
        self.max_rows = max_rows  # rows per seeded block: it fixes which samples a seed draws
        self.batch_rows = batch_rows  # rows decoded together: speed and memory only

    def prompts_per_block(self, params: SamplingParams) -> int:
        """Prompts per batch; each batch is seeded with `seed + its start` (align.generation.sharding relies on it)."""
        return max(1, self.max_rows // params.n)

    def generate(self, prompts, params: SamplingParams, progress=None) -> list[list[str]]:
        per_block = self.prompts_per_block(params)
        return self.generate_blocks(
            [(prompts[start : start + per_block], params.seed + start) for start in range(0, len(prompts), per_block)],
            params,
            progress,
        )

    def generate_blocks(self, blocks: list[tuple[list, int]], params: SamplingParams, progress=None) -> list[list[str]]:
        """Completions of each (prompts, seed) block, as `generate` on that block alone with that seed draws
        them; the blocks share the decoding batch (align.generation.decoding)."""
        tok, n = self.tokenizer, params.n
        seeded = [Block([prompt_ids(tok, p) for p in prompts], seed) for prompts, seed in blocks]
        on_done = (lambda block: progress(len(block.prompts))) if progress else None
        stops = stop_ids(self.model.generation_config, tok)
        decode_blocks(self.model, seeded, params, stops, tok.pad_token_id, self.batch_rows, on_done=on_done)
        completions = [completion_text(tok, row, stops) for block in seeded for row in block.out.tolist()]
        return [completions[i : i + n] for i in range(0, len(completions), n)]


def completion_text(tokenizer, ids: list[int], stops: list[int]) -> str:
    """A sample's text: its tokens up to its first stop token, special tokens left out."""
    cut = next((i for i, token in enumerate(ids) if token in stops), len(ids))
    return tokenizer.decode(ids[:cut], skip_special_tokens=True)


def vllm_sampling_kwargs(params: SamplingParams, stops: list[int], index: int) -> dict:
    """vLLM's `SamplingParams` for one prompt: the stage's settings, the model's stop tokens, and a seed of its own
    (with one seed for all, every prompt would draw the same random stream)."""
    return {
        "n": params.n,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k if params.top_k > 0 else -1,
        "max_tokens": params.max_new_tokens,
        "seed": params.seed + index,
        "stop_token_ids": stops,
    }


class VLLMGenerator:
    """vLLM's offline `LLM.generate`; `n` samples per prompt share the prefix cache natively."""

    def __init__(self, model: str, gpu_memory_utilization: float = 0.85, dtype: str = "auto"):
        from vllm import LLM  # optional dependency: `pip install align[gpu]`

        from align.loading.models import locate_model

        self.tokenizer = load_tokenizer(model)
        self.llm = LLM(model=locate_model(model), dtype=dtype, gpu_memory_utilization=gpu_memory_utilization)
        self.stops = saved_stop_ids(locate_model(model), self.tokenizer)

    def generate(self, prompts, params: SamplingParams, progress=None) -> list[list[str]]:
        from vllm import SamplingParams as VLLMParams

        stops = self.stops
        requests = [{"prompt_token_ids": prompt_ids(self.tokenizer, p)} for p in prompts]
        sampling = [VLLMParams(**vllm_sampling_kwargs(params, stops, index)) for index in range(len(requests))]
        results = self.llm.generate(requests, sampling)
        if progress:
            progress(len(requests))
        return [[choice.text for choice in result.outputs] for result in results]


def vllm_available() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False
    return True


def require_backend(backend: str) -> None:
    """Asking for vLLM where it cannot run is one clear error (generation stages and TRL's online RL alike)."""
    if backend == "vllm" and not vllm_available():
        raise AlignError("backend vllm needs a CUDA GPU and vllm (pip install 'align[gpu]'); use backend hf here")


def make_generator(model: str, backend: str = "auto", **kwargs) -> Generator:
    """The backend's generator; under torchrun (`processes: N`) each rank draws its share of every call."""
    from align.generation.sharding import ShardedGenerator
    from align.runtime.distributed import world_size

    require_backend(backend)
    if backend == "vllm" or (backend == "auto" and vllm_available()):
        generator = VLLMGenerator(model)
    elif backend in ("auto", "hf"):
        generator = HFGenerator(model, **kwargs)
    else:
        raise ValueError(f"unknown generation backend {backend!r}: use auto, hf or vllm")
    return ShardedGenerator(generator) if world_size() > 1 else generator
