"""One generation interface, two backends: HF `generate` (CPU, any GPU) and vLLM (GPU, optional).

`make_generator(model, backend="auto")` picks vLLM when CUDA and vllm are present. Both take prompts in
TRL's two shapes (a string, or a list of chat messages rendered with the tokenizer's chat template) and
return `n` completions per prompt.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import torch

from align.models import load_causal_lm, load_tokenizer


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 means no top-k cut
    max_new_tokens: int = 64
    seed: int = 0


class Generator(Protocol):
    def generate(self, prompts: Sequence, params: SamplingParams,
                 progress: Callable[[int], None] | None = None) -> list[list[str]]:
        """`n` completions per prompt, in prompt order."""


def render_prompt(tokenizer, prompt) -> str:
    """Chat prompts go through the chat template; plain strings are used as they are (TRL's rule)."""
    if isinstance(prompt, str):
        return prompt
    return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)


class HFGenerator:
    """Batched `generate` with left padding and a KV cache.

    The n samples of a prompt share one prefill: the prompt is run once, its cache is repeated n
    times, and decoding continues from there, instead of recomputing the prompt n times."""

    def __init__(self, model: str, max_rows: int = 256, dtype: str = "auto", device: str = "auto"):
        self.tokenizer = load_tokenizer(model, padding_side="left")
        self.model = load_causal_lm(model, dtype=dtype, device=device).eval()
        self.max_rows = max_rows

    def prompts_per_block(self, params: SamplingParams) -> int:
        """Prompts per batch; each batch is seeded with `seed + its start` (align.sharding relies on it)."""
        return max(1, self.max_rows // params.n)

    @torch.no_grad()
    def generate(self, prompts, params: SamplingParams, progress=None) -> list[list[str]]:
        texts = [render_prompt(self.tokenizer, p) for p in prompts]
        per_batch = self.prompts_per_block(params)
        out: list[list[str]] = []
        for start in range(0, len(texts), per_batch):
            batch = texts[start:start + per_batch]
            torch.manual_seed(params.seed + start)  # same seed, same batch -> same samples
            out.extend(self._generate_batch(batch, params))
            if progress:
                progress(len(batch))
        return out

    def _generate_batch(self, texts: list[str], params: SamplingParams) -> list[list[str]]:
        tok, model = self.tokenizer, self.model
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        ids, mask = enc.input_ids, enc.attention_mask
        cache = None
        if params.n > 1 and ids.shape[1] > 1:  # a one-token prompt has nothing to prefill
            from transformers import DynamicCache

            cache = DynamicCache(config=model.config)
            positions = (mask.long().cumsum(-1) - 1).clamp(min=0)  # as generate() numbers left-padded rows
            model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1],
                  past_key_values=cache, use_cache=True)
            cache.batch_repeat_interleave(params.n)
        if params.n > 1:
            ids, mask = ids.repeat_interleave(params.n, 0), mask.repeat_interleave(params.n, 0)
        greedy = params.temperature == 0
        sampling = {} if greedy else {"temperature": params.temperature, "top_p": params.top_p,
                                      "top_k": params.top_k or None}
        generated = model.generate(
            input_ids=ids, attention_mask=mask, past_key_values=cache, do_sample=not greedy,
            max_new_tokens=params.max_new_tokens, pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id, **sampling,
        )
        completions = tok.batch_decode(generated[:, ids.shape[1]:], skip_special_tokens=True)
        return [completions[i:i + params.n] for i in range(0, len(completions), params.n)]


class VLLMGenerator:
    """vLLM's offline `LLM.generate`; `n` samples per prompt share the prefix cache natively."""

    def __init__(self, model: str, gpu_memory_utilization: float = 0.85, dtype: str = "auto"):
        from vllm import LLM  # optional dependency: `pip install align[gpu]`

        from align.models import locate_model

        self.tokenizer = load_tokenizer(model)
        self.llm = LLM(model=locate_model(model), dtype=dtype, gpu_memory_utilization=gpu_memory_utilization)

    def generate(self, prompts, params: SamplingParams, progress=None) -> list[list[str]]:
        from vllm import SamplingParams as VLLMParams

        texts = [render_prompt(self.tokenizer, p) for p in prompts]
        sampling = VLLMParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                              top_k=params.top_k if params.top_k > 0 else -1,
                              max_tokens=params.max_new_tokens, seed=params.seed)
        results = self.llm.generate(texts, sampling)
        if progress:
            progress(len(texts))
        return [[choice.text for choice in result.outputs] for result in results]


def vllm_available() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False
    return True


def make_generator(model: str, backend: str = "auto", **kwargs) -> Generator:
    """The backend's generator; under torchrun (`processes: N`) each rank draws its share of every call."""
    from align.distributed import world_size
    from align.sharding import ShardedGenerator

    if backend == "vllm" or (backend == "auto" and vllm_available()):
        generator = VLLMGenerator(model)
    elif backend in ("auto", "hf"):
        generator = HFGenerator(model, **kwargs)
    else:
        raise ValueError(f"unknown generation backend {backend!r}: use auto, hf or vllm")
    return ShardedGenerator(generator) if world_size() > 1 else generator
