"""The HF decode loop draws `generate`'s samples draw for draw, greedy and sampled, for any block layout."""

from types import SimpleNamespace

import pytest
import torch

from align.generation.generators import HFGenerator, SamplingParams, make_generator
from align.world import tasks

PROMPTS = [tasks.user("Compute 37-8+9."), tasks.user("List 2 fruits."), "raw text prompt"]


@pytest.fixture(scope="module")
def generator():
    return HFGenerator("world:base", max_rows=8)


def test_shared_prefill_matches_independent_greedy(generator):
    one = generator.generate(PROMPTS, SamplingParams(n=1, temperature=0, max_new_tokens=24))
    many = generator.generate(PROMPTS, SamplingParams(n=3, temperature=0, max_new_tokens=24))
    assert [outs[0] for outs in one] == [outs[0] for outs in many]
    assert all(len(set(outs)) == 1 for outs in many)


def test_sampling_is_seeded_and_batched(generator):
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=24, seed=11)
    a = generator.generate(PROMPTS, params)
    b = generator.generate(PROMPTS, params)
    assert a == b and [len(x) for x in a] == [4, 4, 4]
    assert len({o for outs in a for o in outs}) > 3  # samples differ


def test_backend_choice():
    assert isinstance(make_generator("world:base", backend="hf"), HFGenerator)
    with pytest.raises(ValueError):
        make_generator("world:base", backend="nope")


def test_one_token_prompts_sample_n_each():
    """The shared prefill runs the prompt minus its last token: a one-token batch has none to run."""
    from align.generation.generators import HFGenerator

    generator = HFGenerator("world:base")
    outs = generator.generate(["x", "y"], SamplingParams(n=3, temperature=1.0, max_new_tokens=4, seed=0))
    assert [len(o) for o in outs] == [3, 3]


def raw_generate(generator, prompts, params):
    """transformers' own `generate` on each seeded block alone: the samples align must reproduce."""
    from align.generation.decoding import left_padded
    from align.generation.prompts import prompt_ids

    tok, out, per_block = generator.tokenizer, [], generator.prompts_per_block(params)
    sampling = (
        {"do_sample": False}
        if params.temperature == 0
        else {
            "do_sample": True,
            "temperature": params.temperature,
            "top_k": params.top_k or None,
            "top_p": params.top_p,
        }
    )
    for start in range(0, len(prompts), per_block):
        torch.manual_seed(params.seed + start)
        rendered = [prompt_ids(tok, p) for p in prompts[start : start + per_block]]
        input_ids, attention_mask = left_padded(rendered, tok.pad_token_id, generator.model.device)
        enc = SimpleNamespace(input_ids=input_ids)
        ids = generator.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            max_new_tokens=params.max_new_tokens,
            num_return_sequences=params.n,
            pad_token_id=tok.pad_token_id,
            **sampling,
        )
        texts = tok.batch_decode(ids[:, enc.input_ids.shape[1] :], skip_special_tokens=True)
        out += [texts[i : i + params.n] for i in range(0, len(texts), params.n)]
    return out


@pytest.mark.parametrize(
    "params,batch_rows",
    [
        (SamplingParams(n=4, temperature=0.7, max_new_tokens=48, seed=3), 16),
        (SamplingParams(n=4, temperature=0.7, max_new_tokens=48, seed=3), 64),
        (SamplingParams(n=4, temperature=1.0, top_k=20, top_p=0.9, max_new_tokens=48), 64),
        (SamplingParams(n=1, temperature=0, max_new_tokens=48), 16),
    ],
    ids=["T0.7-alone", "T0.7-shared", "top-k-top-p", "greedy"],
)
def test_samples_are_generates_draw_for_draw(params, batch_rows):
    """align's decode loop (blocks sharing a batch, finished rows dropped) draws exactly `generate`'s samples."""
    from align.loading.datasets import load_dataset

    prompts = [row["prompt"] for row in load_dataset("world:instruct_train", "prompts", 14)]
    generator = HFGenerator("world:base", max_rows=16, batch_rows=batch_rows)
    ours = generator.generate(prompts, params)
    assert ours == raw_generate(generator, prompts, params)
    assert len({c for outs in ours for c in outs}) > len(prompts) // 2  # real, varied completions


def test_a_sliding_window_model_samples_as_generate_does(tmp_path):
    """Models whose cache is not one plain static buffer per layer (here Mistral's sliding window, shorter than the
    prompts) decode on transformers' own DynamicCache, and still draw `generate`'s samples."""
    from transformers import MistralConfig, MistralForCausalLM

    from align.loading.datasets import load_dataset
    from align.loading.models import load_tokenizer

    tok = load_tokenizer("world:base")
    torch.manual_seed(0)
    MistralForCausalLM(
        MistralConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            sliding_window=8,
            max_position_embeddings=256,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        )
    ).save_pretrained(str(tmp_path))
    tok.save_pretrained(str(tmp_path))
    prompts = [row["prompt"] for row in load_dataset("world:instruct_train", "prompts", 6)]
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=24, seed=1)
    generator = HFGenerator(str(tmp_path), max_rows=4, batch_rows=8, dtype="float32")
    assert generator.generate(prompts, params) == raw_generate(generator, prompts, params)
