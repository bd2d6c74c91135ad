import pytest

from align.generation import HFGenerator, SamplingParams, make_generator
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
    from align.generation import HFGenerator

    generator = HFGenerator("world:base")
    outs = generator.generate(["x", "y"], SamplingParams(n=3, temperature=1.0, max_new_tokens=4, seed=0))
    assert [len(o) for o in outs] == [3, 3]
