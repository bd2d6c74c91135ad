"""Sampling ends where `model.generate` ends: at every stop token of the model's generation config, not only at the
tokenizer's eos. Each family's model is memorised so that each of its stop tokens really ends a row."""

import pytest
import torch

from align.generation.generators import HFGenerator, SamplingParams
from align.generation.prompts import prompt_ids, stop_ids
from tests.conformance.families import FAMILIES, memorised_texts


def left_padded(rows: list[list[int]], pad: int) -> dict:
    width = max(map(len, rows))
    return {
        "input_ids": torch.tensor([[pad] * (width - len(r)) + r for r in rows]),
        "attention_mask": torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows]),
    }


def reference(generator: HFGenerator, prompts: list, params: SamplingParams) -> tuple[list, list[int]]:
    """transformers' `generate` on the prompts' TRL token ids: each row's text up to its first stop token, and the
    stop token that ended each row (None when it ran to max_new_tokens)."""
    tok, model = generator.tokenizer, generator.model
    sampling = (
        {"do_sample": False}
        if params.temperature == 0
        else {"do_sample": True, "temperature": params.temperature, "top_k": None, "top_p": 1.0}
    )
    torch.manual_seed(params.seed)
    enc = left_padded([prompt_ids(tok, p) for p in prompts], tok.pad_token_id)
    out = model.generate(
        **enc,
        max_new_tokens=params.max_new_tokens,
        num_return_sequences=params.n,
        pad_token_id=tok.pad_token_id,
        **sampling,
    )[:, enc["input_ids"].shape[1] :].tolist()
    stops, texts, ended = set(stop_ids(model.generation_config, tok)), [], []
    for row in out:
        cut = next((i for i, t in enumerate(row) if t in stops), None)
        texts.append(tok.decode(row if cut is None else row[:cut], skip_special_tokens=True))
        ended.append(None if cut is None else row[cut])
    return [texts[i : i + params.n] for i in range(0, len(texts), params.n)], ended


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_sampling_stops_at_every_stop_token_as_generate_does(name, family_dir):
    family = FAMILIES[name]
    generator = HFGenerator(str(family_dir(name)))
    assert stop_ids(
        generator.model.generation_config, generator.tokenizer
    ) == generator.tokenizer.convert_tokens_to_ids(
        list(family.stops)
    )  # the generation config's list, as token strings name it
    prompts = [prompt for prompt, _ in memorised_texts(family)]
    greedy = SamplingParams(n=1, temperature=0, max_new_tokens=12)
    expected, ended = reference(generator, prompts, greedy)
    assert generator.generate(prompts, greedy) == expected
    # not a trivial check: each stop token of the family ends one of these rows
    assert sorted(ended) == sorted(generator.tokenizer.convert_tokens_to_ids(list(family.stops)))
    sampled = SamplingParams(n=3, temperature=1.0, max_new_tokens=12, seed=4)
    assert generator.generate(prompts, sampled) == reference(generator, prompts, sampled)[0]


def test_vllm_gets_the_same_stop_list(family_dir):
    """vLLM's sampling parameters carry the model's stop tokens (built without vLLM, which needs a GPU)."""
    from align.generation.generators import vllm_sampling_kwargs

    generator = HFGenerator(str(family_dir("llama3_1")))
    stops = stop_ids(generator.model.generation_config, generator.tokenizer)
    kwargs = vllm_sampling_kwargs(SamplingParams(n=2, temperature=0.7, top_k=0, max_new_tokens=5, seed=3), stops, 1)
    assert kwargs == {
        "n": 2,
        "temperature": 0.7,
        "top_p": 1.0,
        "top_k": -1,
        "max_tokens": 5,
        "seed": 4,
        "stop_token_ids": stops,
    }
    assert len(stops) == 3
