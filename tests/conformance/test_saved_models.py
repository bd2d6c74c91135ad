"""A model align trains is saved as an ordinary HF model dir: transformers reloads it with its chat template and
its generation config's stop list."""

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from align.data.jsonl import write_jsonl
from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from tests.conformance.families import FAMILIES
from tests.conftest import write_recipe


@pytest.mark.parametrize("name", ["llama3_1", "qwen3", "mistral_chatml", "gpt2"])
def test_a_trained_model_keeps_its_template_and_stop_tokens(name, family_dir, tmp_path):
    path = family_dir(name)
    chat = bool(FAMILIES[name].template)
    rows = (
        [
            {"messages": [{"role": "user", "content": f"Say {w}."}, {"role": "assistant", "content": w}]}
            for w in ("alpha", "beta", "gamma", "delta")
        ]
        if chat
        else [{"prompt": f"Say {w}:", "completion": f" {w}"} for w in ("alpha", "beta", "gamma", "delta")]
    )
    write_jsonl(tmp_path / "sft.jsonl", rows)
    recipe = write_recipe(
        tmp_path,
        f"tracking: none\nstages:\n  sft: {{stage: sft, model: '{path}', "
        f"data: {tmp_path}/sft.jsonl, max_steps: 2, batch_size: 2, max_length: 128}}\n",
    )
    Engine(load_recipe(str(recipe)), tmp_path / "run").run()
    saved = tmp_path / "run" / "sft" / "model"
    original, reloaded = AutoTokenizer.from_pretrained(path), AutoTokenizer.from_pretrained(saved)
    assert reloaded.chat_template == original.chat_template
    assert reloaded.eos_token == original.eos_token and reloaded.bos_token == original.bos_token
    stops = AutoModelForCausalLM.from_pretrained(path).generation_config.eos_token_id
    assert AutoModelForCausalLM.from_pretrained(saved).generation_config.eos_token_id == stops
