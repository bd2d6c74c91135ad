"""DeepSpeed ZeRO-2 and ZeRO-3 for real: `sft`, `reward` and `dpo` under torchrun with 2 CPU processes (gloo),
and the same stages' plain 2-process (DDP) runs. Each stage trains, records the ZeRO stage that ran, and
writes a full HF model that loads and differs from where it started."""

import itertools

import pytest

from align.data.jsonl import read_jsonl, write_jsonl
from align.data.rows import prompt_completion
from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from align.world import resolve
from tests.conftest import write_recipe

pytestmark = pytest.mark.slow


def preference_file(tmp_path):
    """Pairs from the world's demos: a demo's completion chosen, the next demo's rejected."""
    demos = [prompt_completion(r) for r in read_jsonl(resolve("world:sft"))[:33]]
    write_jsonl(
        tmp_path / "pairs.jsonl",
        [
            {"prompt": a["prompt"], "chosen": a["completion"], "rejected": b["completion"]}
            for a, b in itertools.pairwise(demos)
        ],
    )
    return tmp_path / "pairs.jsonl"


# CI's 5 minutes: ZeRO-3 runs there (2 processes for each stage); plain DDP and ZeRO-2 run with `-m bench`
@pytest.mark.parametrize(
    "zero", [pytest.param(None, marks=pytest.mark.bench), pytest.param("zero2", marks=pytest.mark.bench), "zero3"]
)
def test_training_stages_under_two_processes(tmp_path, zero):
    if zero:
        pytest.importorskip("deepspeed", reason="DeepSpeed is not installed (pip install deepspeed)")
    from align.loading.digests import weights_digest
    from align.loading.models import load_causal_lm

    pairs = preference_file(tmp_path)
    common = "max_steps: 2, batch_size: 2, logging_steps: 1, max_length: 96, processes: 2" + (
        f", deepspeed: {zero}" if zero else ""
    )
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  sft: {{stage: sft, model: 'world:base', data: 'world:sft', limit: 16, {common}}}
  reward: {{stage: reward, model: '${{sft.model}}', data: {pairs}, {common}}}
  dpo: {{stage: dpo, model: '${{sft.model}}', data: {pairs}, {common}}}
""",
    )
    summaries = {s["name"]: s for s in Engine(load_recipe(str(path)), tmp_path / "run").run()}
    base = weights_digest(load_causal_lm("world:base", dtype="float32"))
    for name in ("sft", "dpo"):
        metrics = summaries[name]["metrics"]
        assert metrics["train/steps"] == 2
        assert metrics.get("train/zero_stage") == ({"zero2": 2.0, "zero3": 3.0}[zero] if zero else None)
        assert weights_digest(load_causal_lm(str(tmp_path / "run" / name / "model"), dtype="float32")) != base
    assert summaries["dpo"]["values"]["start_weights"] != base  # DPO started from the SFT model
    reward = summaries["reward"]["metrics"]
    assert reward["train/steps"] == 2 and 0 <= reward["rm/pair_accuracy"] <= 1
    assert (tmp_path / "run" / "reward" / "model" / "model.safetensors").exists()
