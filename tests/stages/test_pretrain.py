"""The `pretrain` stage: from scratch from a config + tokenizer, or continuing a model, on text or chat rows."""

import json
from types import SimpleNamespace

import pytest

from align.data.jsonl import write_jsonl
from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from tests.conftest import write_recipe

pytestmark = pytest.mark.slow
TINY = (
    "{model_type: llama, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, "
    "num_key_value_heads: 2, max_position_embeddings: 128}"
)


def test_from_scratch_on_text_and_continuing_on_chat_rows(tmp_path):
    from transformers import AutoModelForCausalLM

    write_jsonl(tmp_path / "text.jsonl", [{"text": f"{a}+{b}={a + b}"} for a in range(8) for b in range(8)])
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  scratch: {{stage: pretrain, init: {TINY}, tokenizer: world:tokenizer, data: {tmp_path}/text.jsonl,
            max_steps: 4, batch_size: 8, logging_steps: 1}}
  more: {{stage: pretrain, model: '${{scratch.model}}', data: world:corpus, limit: 16, max_steps: 2,
         batch_size: 8}}
""",
    )
    ran = {s["name"]: s for s in Engine(load_recipe(str(path)), tmp_path / "run").run()}
    model = AutoModelForCausalLM.from_pretrained(str(tmp_path / "run" / "scratch" / "model"))
    assert model.config.hidden_size == 32 and model.config.vocab_size == 103
    assert ran["scratch"]["metrics"]["train/parameters"] == sum(p.numel() for p in model.parameters())
    from align.loading.digests import weights_digest
    from align.stages import pretrain

    config = pretrain.Config(**load_recipe(str(path)).stages[0].config)
    digests = [weights_digest(pretrain.load_start(config, SimpleNamespace(seed=seed))[0]) for seed in (0, 0, 1)]
    assert digests[0] == digests[1] != digests[2]  # the init is the stage seed's
    assert ran["more"]["values"]["start_weights"] != ran["scratch"]["values"]["start_weights"]  # it trained
    assert ran["more"]["metrics"]["train/steps"] == 2


def test_a_token_budget_becomes_steps_and_is_what_training_sees(tmp_path):
    """`max_tokens` = two epochs' tokens (measured by a one-epoch run) gives exactly two epochs of steps, and
    the trainer's own count of input tokens (kept across resumes) equals the budget."""
    write_jsonl(tmp_path / "text.jsonl", [{"text": "x" * (1 + i % 5) + f"={i}"} for i in range(16)])
    common = f"init: {TINY}, tokenizer: world:tokenizer, data: {tmp_path}/text.jsonl, batch_size: 4"
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  epoch: {{stage: pretrain, {common}, epochs: 1}}
""",
    )
    one_epoch = Engine(load_recipe(str(path)), tmp_path / "run1").run()[0]["metrics"]
    assert one_epoch["train/steps"] == 4
    budget = int(2 * one_epoch["train/tokens_seen"])
    path.write_text(path.read_text().replace("epochs: 1", f"max_tokens: {budget}"))
    two_epochs = Engine(load_recipe(str(path)), tmp_path / "run2").run()[0]["metrics"]
    assert two_epochs["train/steps"] == 8
    assert two_epochs["train/tokens_seen"] == budget


def test_steps_for_tokens():
    from align.errors import AlignError
    from align.training.run import steps_for_tokens

    assert steps_for_tokens([10, 30], 800, batch=2) == 20  # 40 tokens a step
    assert steps_for_tokens([20, 60], 800, batch=2) == 10  # rows twice as long: half the steps, same tokens
    assert steps_for_tokens([10], 1, batch=8) == 1
    with pytest.raises(AlignError, match="at least one training row"):
        steps_for_tokens([], 100, batch=2)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"data": "world:corpus"}, "exactly one of `model`"),
        ({"data": "world:corpus", "init": {"model_type": "llama"}}, "needs `tokenizer`"),
        (
            {"data": "world:corpus", "init": {"model_type": "llama"}, "tokenizer": "world:tokenizer", "lora": {"r": 4}},
            "LoRA adapts a trained model",
        ),
        ({"data": "world:corpus", "model": "world:base", "max_tokens": 1000, "max_steps": 5}, "one training budget"),
    ],
)
def test_config_errors(config, message):
    from align.stages import pretrain

    with pytest.raises(ValueError, match=message):
        pretrain.Config(**config)


def test_bad_text_rows_are_refused(tmp_path):
    from align.errors import AlignError
    from align.loading.datasets import load_dataset

    (tmp_path / "bad.jsonl").write_text(json.dumps({"text": ""}) + "\n")
    with pytest.raises(AlignError, match="record 1: 'text' is empty"):
        load_dataset(str(tmp_path / "bad.jsonl"), "lm")
