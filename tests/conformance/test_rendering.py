"""One rendering: the token ids a policy is sampled with are the ids it was trained and scored with (TRL's own
tokenisation of the prompt), with exactly one BOS where the family has one and none where it does not; the
reward-model scorer reads a pair as TRL's RewardTrainer did."""

import pytest

from align.generation.prompts import prompt_ids
from align.training.logprobs import encode
from tests.conformance.families import FAMILIES

CHAT = [{"role": "user", "content": "Say hi."}]


def prompts_of(name):
    return [("text", "Say hi:")] + ([("chat", CHAT)] if FAMILIES[name].template else [])


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_sampling_training_and_scoring_read_one_prompt(name, family_dir, tmp_path):
    from align.loading.models import load_causal_lm, load_tokenizer
    from align.stages.base import StageContext
    from align.stages.config import TrainingConfig
    from align.stages.sft import build_trainer

    path, family = str(family_dir(name)), FAMILIES[name]
    tokenizer = load_tokenizer(path, padding_side="right")
    for kind, prompt in prompts_of(name):
        sampled = prompt_ids(tokenizer, prompt)
        completion = " Hello." if kind == "text" else [{"role": "assistant", "content": "Hello."}]
        ids, mask = encode(tokenizer, prompt, completion)  # what distillation and log-probs score
        assert ids[: mask.index(1)] == sampled, kind
        config = TrainingConfig(model=path, max_steps=1, max_length=256)
        ctx = StageContext(out_dir=tmp_path, work_dir=tmp_path, seed=0, log=lambda *a: None)
        row = build_trainer(
            config,
            ctx,
            [{"prompt": prompt, "completion": completion}],
            load_causal_lm(path, dtype="float32"),
            tokenizer,
        ).train_dataset[0]
        first = next(i for i, label in enumerate(row["labels"]) if label != -100)
        assert row["input_ids"][:first] == sampled, kind  # what SFT trains (the prompt carries no loss)
        bos = tokenizer.convert_tokens_to_ids(family.bos) if family.bos else None
        # a plain string gets the BOS its tokenizer adds; a chat prompt the one its template writes (TRL renders it
        # without adding special tokens): one either way, or none, never two
        has_bos = family.adds_bos if kind == "text" else "bos_token" in tokenizer.chat_template
        assert sampled.count(bos) == (1 if has_bos else 0) if bos is not None else True, (kind, sampled)
        if has_bos:
            assert sampled[0] == bos


@pytest.mark.parametrize("name", ["llama3", "qwen2_5", "gemma", "gpt2"])
def test_the_reward_model_scorer_reads_pairs_as_the_reward_trainer_did(name, family_dir, tmp_path):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    from align.loading.models import load_tokenizer
    from rewards.reward_model import reward_input_ids

    path = str(family_dir(name))
    tokenizer = load_tokenizer(path, padding_side="right")
    chat = bool(FAMILIES[name].template)
    pairs = [
        {
            "prompt": CHAT if chat else "Say hi:",
            "chosen": [{"role": "assistant", "content": "Hello."}] if chat else " Hello.",
            "rejected": [{"role": "assistant", "content": "No."}] if chat else " No.",
        }
    ]
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    trainer = RewardTrainer(
        model=model,
        args=RewardConfig(str(tmp_path), use_cpu=True, report_to="none"),
        processing_class=tokenizer,
        train_dataset=Dataset.from_list(pairs),
    )
    row = trainer.train_dataset[0]

    def text(c):
        return c if isinstance(c, str) else c[0]["content"]

    assert reward_input_ids(tokenizer, pairs[0]["prompt"], text(pairs[0]["chosen"])) == row["chosen_ids"]
    assert reward_input_ids(tokenizer, pairs[0]["prompt"], text(pairs[0]["rejected"])) == row["rejected_ids"]
