"""The `sft` stage: LoRA trains and saves a merged model; the evaluate stage's metrics are what its records give."""

import json

import pytest
import torch

from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from tests.conftest import write_recipe


def test_lora_sft_saves_a_merged_model_and_evaluate_reports(tmp_path):
    from transformers import AutoModelForCausalLM

    path = write_recipe(
        tmp_path,
        """
name: lora
tracking: none
stages:
  sft: {stage: sft, model: world:base, data: world:sft, limit: 16, max_steps: 3, batch_size: 4,
        learning_rate: 0.01, lora: {r: 4, alpha: 8}}
  eval: {stage: evaluate, model: "${sft.model}", limit: 3, samples: 2, max_new_tokens: 24}
""",
    )
    summaries = Engine(load_recipe(str(path)), tmp_path / "run").run()
    model_dir = tmp_path / "run" / "sft" / "model"
    assert (model_dir / "model.safetensors").exists() and not (model_dir / "adapter_config.json").exists()
    tuned = AutoModelForCausalLM.from_pretrained(str(model_dir))
    from align.world import resolve

    base = AutoModelForCausalLM.from_pretrained(str(resolve("world:base")))
    diffs = [not torch.allclose(a.float(), b.float()) for a, b in zip(tuned.parameters(), base.parameters())]
    assert any(diffs)
    sft_metrics, eval_metrics = summaries[0]["metrics"], summaries[1]["metrics"]
    assert sft_metrics["train/steps"] == 3 and sft_metrics["train/loss"] > 0
    records = [json.loads(line) for line in (tmp_path / "run" / "eval" / "data.jsonl").read_text().splitlines()]
    by_task = lambda task: [r for r in records if r["task"] == task]  # noqa: E731
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    # the summary metrics are exactly what the recorded completions and scores give
    assert eval_metrics["eval/pass@1"] == mean([r["score"] >= 0.5 for r in by_task("verifiable")])
    assert eval_metrics["eval/pass@2"] == mean([r["samples_correct"] > 0 for r in by_task("verifiable")])
    assert eval_metrics["eval/pass@1_sampled"] == mean([r["samples_correct"] / 2 for r in by_task("verifiable")])
    assert eval_metrics["eval/gold_score"] == mean([r["score"] for r in by_task("instruct")])
    assert eval_metrics["eval/rouge_l"] == mean([r["score"] for r in by_task("reference")])
    assert len(by_task("verifiable")) == len(by_task("instruct")) == len(by_task("reference")) == 3


def test_rows_with_no_room_for_a_completion_are_refused_or_dropped_and_counted(tmp_path):
    """A prompt that fills max_length leaves nothing to train on: by default the stage refuses the data before
    training (TRL would fail later with "num_samples=0", or train on nothing); with `too_long: drop` those rows go
    and are counted."""
    from align.data.jsonl import write_jsonl
    from align.errors import AlignError

    short = [{"prompt": "Say:", "completion": f" {w}"} for w in ("alpha", "beta", "gamma", "delta")]
    long = [{"prompt": "x" * 60 + "Say:", "completion": " omega"} for _ in range(2)]
    write_jsonl(tmp_path / "rows.jsonl", short + long)
    stage = f"sft: {{stage: sft, model: world:base, data: {tmp_path}/rows.jsonl, max_length: 40, max_steps: 1"
    strict = write_recipe(tmp_path, f"tracking: none\nstages:\n  {stage}}}\n", "strict.yaml")
    with pytest.raises(AlignError, match=r"2 of 6 rows keep no completion token within max_length=40 \(record 5"):
        Engine(load_recipe(str(strict)), tmp_path / "strict").run()
    assert not (tmp_path / "strict").exists()
    lenient = write_recipe(tmp_path, f"tracking: none\nstages:\n  {stage}, too_long: drop}}\n", "lenient.yaml")
    metrics = Engine(load_recipe(str(lenient)), tmp_path / "lenient").run()[0]["metrics"]
    assert metrics["train/examples"] == 4 and metrics["train/dropped_too_long"] == 2
