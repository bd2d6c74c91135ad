"""The vLLM backend behind the same interface: it runs only with a CUDA GPU and vllm installed (`align[gpu]`);
elsewhere these tests skip, saying so, and asking for it is one clear error."""

import pytest

from align.errors import AlignError
from align.generation.generators import SamplingParams, make_generator, vllm_available

needs_vllm = pytest.mark.skipif(not vllm_available(), reason="vLLM needs a CUDA GPU and `pip install 'align[gpu]'`")


@pytest.mark.skipif(vllm_available(), reason="vLLM is available here")
def test_asking_for_vllm_without_it_is_one_clear_error():
    with pytest.raises(AlignError, match="backend vllm needs a CUDA GPU and vllm"):
        make_generator("world:base", backend="vllm")


@needs_vllm
def test_vllm_samples_n_per_prompt_seeded_and_like_hf():
    """n completions per prompt in prompt order, the same for the same seed, and the same distribution as the HF
    backend's (mean completion length within 15%)."""
    from align.loading.datasets import load_dataset

    prompts = [r["prompt"] for r in load_dataset("world:instruct_train", "prompts", 64)]
    params = SamplingParams(n=8, temperature=0.7, max_new_tokens=64, seed=3)
    vllm = make_generator("world:base", backend="vllm")
    first, again = vllm.generate(prompts, params), vllm.generate(prompts, params)
    assert [len(outs) for outs in first] == [8] * len(prompts) and first == again
    hf = make_generator("world:base", backend="hf").generate(prompts, params)
    mean = lambda outs: sum(len(c) for o in outs for c in o) / sum(len(o) for o in outs)  # noqa: E731
    assert abs(mean(first) - mean(hf)) <= 0.15 * mean(hf)


@needs_vllm
def test_grpo_trains_with_trls_vllm_colocate(tmp_path):
    """`backend: vllm` in an online-RL stage: TRL generates with vLLM inside the training process (colocate), and
    align's scorers reward vLLM's completions at every step."""
    from align.engine.recipe import load_recipe
    from align.engine.runlog import read_metrics
    from align.engine.runner import Engine
    from tests.stages.test_grpo import grpo_recipe

    path = grpo_recipe(tmp_path, "{correct: math}", backend="vllm", vllm_mode="colocate", max_steps=4)
    Engine(load_recipe(str(path)), tmp_path / "run").run()
    steps = [r["step"] for r in read_metrics(tmp_path / "run") if r["name"] == "train/reward" and r["step"]]
    assert steps == [1, 2, 3, 4]
