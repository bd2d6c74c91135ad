"""The real stages, in-process at tiny sizes."""
import pytest
import torch

from align.engine import Engine
from align.recipe import load_recipe
from align.stages.sft import training_rows
from tests.conftest import write_recipe


def test_training_rows_pick_the_loss_mode():
    from align.models import load_tokenizer

    tok = load_tokenizer("world:base")
    messages = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                              {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]}]
    rows, assistant_only = training_rows(messages, tok)
    assert assistant_only and rows == messages
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"  # no generation marks
    rows, assistant_only = training_rows(messages, tok)
    assert not assistant_only
    assert rows[0]["completion"] == [{"role": "assistant", "content": "a2"}] and len(rows[0]["prompt"]) == 3


def test_lora_sft_saves_a_merged_model_and_evaluate_reports(tmp_path):
    from transformers import AutoModelForCausalLM

    path = write_recipe(tmp_path, """
name: lora
tracking: none
stages:
  sft: {stage: sft, model: world:base, data: world:sft, limit: 16, max_steps: 3, batch_size: 4,
        learning_rate: 0.01, lora: {r: 4, alpha: 8}}
  eval: {stage: evaluate, model: "${sft.model}", limit: 3, samples: 2, max_new_tokens: 24}
""")
    summaries = Engine(load_recipe(str(path)), tmp_path / "run").run()
    model_dir = tmp_path / "run" / "00-sft" / "model"
    assert (model_dir / "model.safetensors").exists() and not (model_dir / "adapter_config.json").exists()
    tuned = AutoModelForCausalLM.from_pretrained(str(model_dir))
    from align.world import resolve

    base = AutoModelForCausalLM.from_pretrained(str(resolve("world:base")))
    diffs = [not torch.allclose(a.float(), b.float()) for a, b in zip(tuned.parameters(), base.parameters())]
    assert any(diffs)
    sft_metrics, eval_metrics = summaries[0]["metrics"], summaries[1]["metrics"]
    assert sft_metrics["train/steps"] == 3 and sft_metrics["train/loss"] > 0
    for key in ("eval/pass@1", "eval/pass@2", "eval/pass@1_sampled", "eval/gold_score", "eval/rouge_l"):
        assert 0.0 <= eval_metrics[key] <= 1.0
    assert eval_metrics["eval/pass@2"] >= eval_metrics["eval/pass@1_sampled"]
