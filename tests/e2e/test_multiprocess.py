"""`processes: 2` runs a training stage under torchrun (two real processes, gloo on CPU)."""

import json
import math
from pathlib import Path

import pytest
import torch

from align.engine.recipe import load_recipe
from align.engine.runlog import read_metrics
from align.engine.runner import Engine
from tests.conftest import write_recipe

pytestmark = pytest.mark.slow


def test_two_process_sft_trains_logs_once_and_saves(tmp_path):
    from transformers import AutoModelForCausalLM

    from align.world import resolve

    path = write_recipe(
        tmp_path,
        "tracking: none\nstages:\n  two: {stage: sft, model: 'world:base', "
        "data: 'world:sft', limit: 64, max_steps: 6, logging_steps: 1, batch_size: 2, "
        "processes: 2}\n",
    )
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


@pytest.mark.parametrize("method", [pytest.param("kd", marks=pytest.mark.bench), "dpkd"])  # one method in CI
def test_two_process_offline_distillation_on_cached_targets(tmp_path, method):
    """The distill stage's own Trainer subclass and collator (cached teacher targets placed per row, the
    pretraining batch drawn per step) under torchrun with 2 processes, and with LoRA in one process."""
    from align.data.jsonl import read_jsonl, write_jsonl
    from align.loading.digests import weights_digest
    from align.loading.models import load_causal_lm
    from align.world import resolve

    write_jsonl(tmp_path / "refs.jsonl", read_jsonl(resolve("world:reference_train"))[:16])
    refs = f"{tmp_path}/refs.jsonl"
    common = (
        f"method: {method}, model: 'world:base', teacher: 'world:teacher', data: {refs}, "
        f"targets: '${{teacher.references_targets}}', pretrain_data: {refs}, "
        f"pretrain_targets: '${{teacher.references_targets}}', max_steps: 3, logging_steps: 1, batch_size: 2"
    )
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  teacher: {{stage: teacher, model: 'world:teacher', data: {refs}, targets_on: [references], respond: false,
            top_k: 16}}
  two: {{stage: distill, {common}, processes: 2}}
  lora: {{stage: distill, {common}, lora: {{r: 4, alpha: 8}}, learning_rate: 0.01}}
""",
    )
    summaries = {s["name"]: s for s in Engine(load_recipe(str(path)), tmp_path / "run").run()}
    for name in ("two", "lora"):
        metrics = summaries[name]["metrics"]
        assert metrics["train/steps"] == 3 and math.isfinite(metrics["train/loss"])
        tuned = load_causal_lm(str(tmp_path / "run" / name / "model"), dtype="float32")
        assert weights_digest(tuned) != summaries[name]["values"]["start_weights"]  # merged LoRA changed weights
    steps = [
        m["step"]
        for m in read_metrics(tmp_path / "run")
        if m["stage"] == "two" and m["name"] == "train/loss" and m["step"]
    ]
    assert steps == [1, 2, 3]  # rank 0 alone logged, once per step
    assert not (tmp_path / "run" / "lora" / "model" / "adapter_config.json").exists()


def test_two_process_pretraining_from_scratch(tmp_path):
    """`pretrain` from a config under torchrun: both ranks start from the same seeded init, rank 0 saves."""
    from transformers import AutoModelForCausalLM

    path = write_recipe(
        tmp_path,
        "tracking: none\nstages:\n  scratch: {stage: pretrain, init: {model_type: llama, "
        "hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2,"
        " num_key_value_heads: 2}, tokenizer: world:tokenizer, data: world:corpus, limit: 64,"
        " max_steps: 3, batch_size: 4, logging_steps: 1, processes: 2}\n",
    )
    [summary] = Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert summary["metrics"]["train/steps"] == 3 and math.isfinite(summary["metrics"]["train/loss"])
    model = AutoModelForCausalLM.from_pretrained(str(tmp_path / "run" / "scratch" / "model"))
    assert model.config.hidden_size == 32 and summary["metrics"]["train/parameters"] == sum(
        p.numel() for p in model.parameters()
    )


def test_two_process_sampling_draws_the_same_samples_as_one(tmp_path):
    """`sample` and `evaluate` with `processes: 2` shard the prompts over two ranks and gather them: the same
    samples, in the same order, and the same metrics as one process (each block keeps its seed)."""
    from align.data.jsonl import read_jsonl

    def run(processes: int) -> dict:
        path = write_recipe(
            tmp_path,
            f"""tracking: none
stages:
  draw: {{stage: sample, model: 'world:base', prompts: 'world:instruct_train', limit: 20, n: 32, temperature: 1.0,
         max_new_tokens: 24, processes: {processes}}}
  check: {{stage: evaluate, model: 'world:base', verifiable: 'world:arith_test', instruct: null, reference: null,
          limit: 24, samples: 16, max_new_tokens: 32, processes: {processes}}}
""",
            name=f"p{processes}.yaml",
        )
        return {s["name"]: s for s in Engine(load_recipe(str(path)), tmp_path / f"run{processes}").run()}

    one, two = run(1), run(2)
    for stage in ("draw", "check"):  # 32 samples a prompt: 8 prompts per seeded block, blocks on both ranks
        assert read_jsonl(tmp_path / "run2" / stage / "data.jsonl") == read_jsonl(
            tmp_path / "run1" / stage / "data.jsonl"
        )
    assert two["check"]["metrics"] == one["check"]["metrics"] and two["draw"]["metrics"]["sample/completions"] == 640
    assert not list((tmp_path / "run2" / "draw").glob("rank-*"))  # rank 1 wrote nothing into the stage dir


def test_two_nodes_on_localhost_train_one_model(tmp_path):
    """`nnodes: 2`: two `align run` processes, each a node of one process (node 0 hosts the rendezvous), train
    one DDP model together; each node writes its copy, the same weights, into its own run dir."""
    import subprocess
    import sys

    from align.engine.launch import free_port
    from align.loading.digests import weights_digest
    from align.loading.models import load_causal_lm

    endpoint = f"127.0.0.1:{free_port()}"
    path = write_recipe(
        tmp_path,
        "tracking: none\nstages:\n  sft: {stage: sft, model: 'world:base', data: 'world:sft', "
        f"limit: 32, max_steps: 3, batch_size: 2, nnodes: 2, rdzv_endpoint: '{endpoint}'}}\n",
    )
    cli = Path(__file__).resolve().parents[2] / "cli.py"
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                str(cli),
                "run",
                str(path),
                f"stages.sft.node_rank={node}",
                "--run-dir",
                str(tmp_path / f"node{node}"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node in (0, 1)
    ]
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    digests = {
        weights_digest(load_causal_lm(str(tmp_path / f"node{n}" / "sft" / "model"), dtype="float32")) for n in (0, 1)
    }
    base = weights_digest(load_causal_lm("world:base", dtype="float32"))
    assert len(digests) == 1 and base not in digests  # one trained model, the same on both nodes
    metrics = [json.loads((tmp_path / f"node{n}" / "sft" / "stage.json").read_text())["metrics"] for n in (0, 1)]
    assert metrics[0]["train/steps"] == metrics[1]["train/steps"] == 3


def test_nodes_need_a_rendezvous_endpoint():
    from pydantic import ValidationError

    from align.stages.sft import Config

    with pytest.raises(ValidationError, match="rdzv_endpoint"):
        Config(model="world:base", data="world:sft", nnodes=2)
    with pytest.raises(ValidationError, match="node_rank=2 must be below nnodes=2"):
        Config(model="world:base", data="world:sft", nnodes=2, node_rank=2, rdzv_endpoint="host:29500")


def test_two_process_grpo_scores_every_completion_once_and_trains(tmp_path):
    """GRPO under torchrun: each rank generates and rewards its share of the groups; rank 0 alone logs, once per
    step, the reward over all of the step's completions."""
    log = tmp_path / "calls.jsonl"
    path = write_recipe(
        tmp_path,
        "tracking: none\nstages:\n  rl: {stage: grpo, model: 'world:base', data: world:arith_hard_train, limit: 32, "
        f"rewards: {{digits: {{name: 'tests.fake_scorers:recording', path: '{log}'}}}}, num_generations: 4, "
        "batch_size: 4, max_steps: 3, logging_steps: 1, learning_rate: 0.0003, max_completion_length: 16, "
        "processes: 2}\n",
    )
    [summary] = Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert summary["metrics"]["train/steps"] == 3
    steps = [m["step"] for m in read_metrics(tmp_path / "run") if m["name"] == "train/reward" and m["step"]]
    assert steps == [1, 2, 3]
    calls = [json.loads(line) for line in log.read_text().splitlines()][1:]  # the first: the pre-run probe
    assert sum(len(c["completions"]) for c in calls) == 3 * 8  # 3 steps x (4 per rank x 2 ranks), each once
