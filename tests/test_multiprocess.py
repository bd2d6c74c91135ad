"""`processes: 2` runs a training stage under torchrun (two real processes, gloo on CPU)."""
import json
import math

import pytest
import torch

from align.engine import Engine
from align.recipe import load_recipe
from align.runlog import read_metrics
from tests.conftest import write_recipe

pytestmark = pytest.mark.slow


def test_two_process_sft_trains_logs_once_and_saves(tmp_path):
    from transformers import AutoModelForCausalLM

    from align.world import resolve

    path = write_recipe(tmp_path, "tracking: none\nstages:\n  two: {stage: sft, model: 'world:base', "
                                  "data: 'world:sft', limit: 64, max_steps: 6, logging_steps: 1, batch_size: 2, "
                                  "processes: 2}\n")
    [summary] = Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert summary["metrics"]["train/steps"] == 6 and math.isfinite(summary["metrics"]["train/loss"])
    steps = [m["step"] for m in read_metrics(tmp_path / "run") if m["name"] == "train/loss" and m["step"]]
    assert steps == [1, 2, 3, 4, 5, 6]  # rank 0 alone logged, once per step
    stage = tmp_path / "run" / "two"
    assert not (stage / ".result.json").exists() and (stage / "DONE").exists()
    assert json.loads((stage / "stage.json").read_text())["config"]["processes"] == 2
    tuned = AutoModelForCausalLM.from_pretrained(str(stage / "model"))
    base = AutoModelForCausalLM.from_pretrained(str(resolve("world:base")))
    assert any(not torch.allclose(a.float(), b.float()) for a, b in zip(tuned.parameters(), base.parameters()))
