"""SFT trains only what the policy writes: the assistant turns (their end-of-turn token included) or the completion,
for every family's real chat template, whether TRL can mark assistant turns or align splits the conversation."""

import re

import pytest

from align.stages.base import StageContext
from align.stages.config import TrainingConfig
from align.stages.sft import build_trainer
from tests.conformance.families import CHAT_FAMILIES, FAMILIES

END_OF_TURN = {
    "llama3": "<|eot_id|>",
    "llama3_1": "<|eot_id|>",
    "qwen2_5": "<|im_end|>",
    "qwen3": "<|im_end|>",
    "gemma": "<end_of_turn>",
    "phi3": "<|end|>",
    "mistral_chatml": "<|im_end|>",
    "qwen2_5_marked": "<|im_end|>",
}
# TRL can mask assistant turns for these templates (they carry {% generation %}, or TRL ships a training version)
ASSISTANT_MASKED = {"llama3", "qwen2_5", "qwen3", "gemma", "phi3", "qwen2_5_marked"}


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def trained_text(name, family_dir, tmp_path, rows):
    """The text of every token that carries loss, per row, as align's SFT builds TRL's trainer."""
    from align.loading.models import load_causal_lm, load_tokenizer

    path = str(family_dir(name))
    tokenizer = load_tokenizer(path, padding_side="right")
    config = TrainingConfig(model=path, max_steps=1, max_length=256)
    ctx = StageContext(out_dir=tmp_path, work_dir=tmp_path, seed=0, log=lambda *a: None)
    trainer = build_trainer(config, ctx, rows, load_causal_lm(path, dtype="float32"), tokenizer)
    texts = []
    for row in trainer.train_dataset:  # TRL marks the tokens that carry no loss with label -100
        texts.append(tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label != -100]))
    return texts


def turns(*contents: str, end: str, eos: str = "") -> re.Pattern:
    """Exactly these assistant contents, each closed by the end-of-turn token (the template's newlines around them
    aside); Phi-3's template closes a whole conversation with its eos, which then belongs to the last turn too."""
    think = r"(?:<think>\s*</think>\s*)?"  # Qwen3 writes an empty reasoning block before the answer it trains
    body = "".join(r"\s*" + think + re.escape(c + end) + r"\s*" for c in contents)
    return re.compile(body + (f"(?:{re.escape(eos)})?" if eos else ""))


@pytest.mark.parametrize("name", CHAT_FAMILIES)
def test_conversations_train_the_assistant_turns_and_their_end_of_turn(name, family_dir, tmp_path):
    system = [{"role": "system", "content": "Be brief."}] if FAMILIES[name].system_role else []
    rows = [
        {"messages": [user("Say hi."), assistant("Hello there, friend.")]},
        {"messages": [*system, user("One?"), assistant("alpha"), user("Two?"), assistant("beta gamma")]},
    ]
    single, multi = trained_text(name, family_dir, tmp_path, rows)
    end, eos = END_OF_TURN[name], FAMILIES[name].eos
    assert turns("Hello there, friend.", end=end, eos=eos).fullmatch(single), single
    # TRL masks every assistant turn where it can; otherwise align trains the last turn on the rest as the prompt
    expected = ("alpha", "beta gamma") if name in ASSISTANT_MASKED else ("beta gamma",)
    assert turns(*expected, end=end, eos=eos).fullmatch(multi), multi


@pytest.mark.parametrize("name", CHAT_FAMILIES)
def test_conversational_prompt_completion_rows_train_the_completion(name, family_dir, tmp_path):
    rows = [{"prompt": [user("Say hi.")], "completion": [assistant("Hello there, friend.")]}]
    (text,) = trained_text(name, family_dir, tmp_path, rows)
    assert turns("Hello there, friend.", end=END_OF_TURN[name], eos=FAMILIES[name].eos).fullmatch(text), text


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_plain_text_rows_train_the_completion_and_eos(name, family_dir, tmp_path):
    (text,) = trained_text(name, family_dir, tmp_path, [{"prompt": "Say hi:", "completion": " Hello there."}])
    assert text == " Hello there." + FAMILIES[name].eos
