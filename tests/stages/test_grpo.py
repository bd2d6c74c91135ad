"""The `grpo` stage: TRL's GRPOTrainer rewarded by align's scorers."""

import json
from pathlib import Path

import pytest

from align.engine.recipe import load_recipe
from align.engine.runlog import read_metrics
from align.engine.runner import Engine
from align.errors import AlignError
from align.generation import generators
from align.stages import stage_module
from align.training.online_rl import reward_functions
from rewards import make_scorer
from tests.conftest import write_recipe

pytestmark = pytest.mark.slow


def grpo_recipe(tmp_path, rewards: str, stage_type: str = "grpo", **settings) -> str:
    stage = {
        "model": "'world:base'",
        "data": "world:arith_hard_train",
        "limit": 16,
        "rewards": rewards,
        "num_generations": 4,
        "batch_size": 8,
        "max_steps": 2,
        "logging_steps": 1,
        "learning_rate": 0.0003,
        "max_completion_length": 24,
        **settings,
    }
    body = ", ".join(f"{key}: {value}" for key, value in stage.items())
    return write_recipe(tmp_path, f"tracking: none\nstages:\n  {stage_type}: {{stage: {stage_type}, {body}}}\n")


def test_the_rewards_trl_receives_are_aligns_scorers_on_the_same_completions_weights_applied(tmp_path):
    """Also the per-step metrics users watch: reward per scorer, the share of zero-variance groups and the length once
    per generation (each batch of completions serves num_iterations steps); with beta > 0 the KL to the reference
    and, with num_iterations > 1, the clip ratio at every optimizer step."""
    rows = check_rewards_match(tmp_path, "grpo", beta=0.04, num_iterations=2, max_steps=4)
    logged: dict[str, list[int]] = {}
    for row in rows:
        if row["step"] is not None:
            logged.setdefault(row["name"], []).append(row["step"])
    for name in ("rewards/correct/mean", "rewards/digits/std", "frac_reward_zero_std", "completions/mean_length"):
        assert logged.get(f"train/{name}") == [1, 3], name
    for name in ("kl", "clip_ratio/region_mean", "loss"):
        assert logged.get(f"train/{name}") == [1, 2, 3, 4], name


def check_rewards_match(tmp_path, stage_type: str, **settings) -> list[dict]:
    """Each generation's logged reward is the mean over its completions of sum_i w_i * scorer_i, recomputed here by
    align's own scorers on the decoded completions TRL handed the reward functions. Returns the run's metric rows."""
    log = tmp_path / "calls.jsonl"
    rewards = f"{{correct: math, digits: {{name: 'tests.fake_scorers:recording', path: '{log}'}}}}"
    path = grpo_recipe(tmp_path, rewards, stage_type, reward_weights="{correct: 1.0, digits: 0.25}", **settings)
    Engine(load_recipe(str(path)), tmp_path / "run").run()
    calls = [json.loads(line) for line in log.read_text().splitlines()][1:]  # the first: the pre-run probe
    assert len(calls) == 2 and all(len(c["completions"]) == 8 for c in calls)  # 2 generations x 2 prompts x 4
    math = make_scorer("math")
    rows = read_metrics(tmp_path / "run")
    logged = [r["value"] for r in rows if r["name"] == "train/reward" and r["step"] is not None]
    assert len(logged) == len(calls)
    for value, call in zip(logged, calls):
        assert all("answer" in row for row in call["rows"])  # the dataset's columns reach the scorer
        correct = math(None, call["completions"], call["rows"])
        digits = [float(sum(ch.isdigit() for ch in c)) for c in call["completions"]]
        expected = sum(1.0 * a + 0.25 * b for a, b in zip(correct, digits)) / len(digits)
        assert value == pytest.approx(expected, rel=1e-5)
    return rows


def test_none_means_not_applicable_in_online_rl_only():
    [reward] = reward_functions({"half": "tests.fake_scorers:not_applicable"})
    assert reward(["p"] * 4, ["a", "b", "c", "d"]) == [1.0, None, 1.0, None]
    with pytest.raises(AlignError, match="scores must be finite numbers, or None where they do not apply"):
        reward_functions({"bad": "tests.fake_scorers:text"})[0](["p"], ["a"])


@pytest.mark.parametrize(
    "rewards, settings, message",
    [
        ("{bad: nosuchscorer}", {}, "unknown scorer 'nosuchscorer'"),
        ("{bad: 'tests.fake_scorers:text'}", {}, r"reward 'bad' returned 'high' for completion 0"),
        ("{bad: 'tests.fake_scorers:raises'}", {}, r"scorer reward 'bad' raised KeyError: 'boom'"),
        ("{bad: 'tests.fake_scorers:exits'}", {}, r"scorer reward 'bad' called sys.exit"),
        ("{correct: math}", {"reward_weights": "{corect: 1.0}"}, r"reward_weights names no reward \['corect'\]"),
        ("{correct: math}", {"batch_size": 6}, "num_generations=4 does not divide the completions of a step"),
    ],
)
def test_bad_rewards_and_groups_fail_before_the_run(tmp_path, rewards, settings, message):
    path = grpo_recipe(tmp_path, rewards, **settings)
    with pytest.raises(AlignError, match=message):
        Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert not (tmp_path / "run" / "grpo").exists()


@pytest.mark.parametrize("stage_type", ["grpo", "rloo"])
def test_the_backend_picks_trls_generation(monkeypatch, stage_type):
    """auto = TRL's vLLM (colocate by default) where CUDA and vllm are there, transformers elsewhere; asking for
    vllm where it cannot run is refused before the run; `trainer.use_vllm` is the stage's `backend`."""
    module = stage_module(stage_type)
    monkeypatch.setattr(generators, "vllm_available", lambda: False)
    assert module.Config(model="m", data="d").vllm_args() == {"use_vllm": False}
    with pytest.raises(AlignError, match="backend vllm needs a CUDA GPU and vllm"):
        module.check(module.Config(model="m", data="d", backend="vllm"))
    monkeypatch.setattr(generators, "vllm_available", lambda: True)
    server = module.Config(model="m", data="d", vllm_mode="server", vllm_gpu_memory_utilization=0.5)
    assert server.vllm_args() == {"use_vllm": True, "vllm_mode": "server", "vllm_gpu_memory_utilization": 0.5}
    assert module.Config(model="m", data="d", backend="hf").vllm_args() == {"use_vllm": False}
    with pytest.raises(AlignError, match="trainer.use_vllm: set `backend` in the stage instead"):
        module.Config(model="m", data="d", trainer={"use_vllm": True}).trainer_args(Path("/tmp/unused"), 0)
