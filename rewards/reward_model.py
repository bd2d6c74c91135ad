"""`reward_model`: score (prompt, completion) with a trained sequence-classification reward model.

The reward is read where TRL's RewardTrainer trained it: the last non-padding token of the full
conversation (prompt + completion rendered by the chat template)."""
from __future__ import annotations

import torch

from align.errors import AlignError
from align.models import locate_model, pick_device


def conversation_text(tokenizer, prompt, completion: str) -> str:
    if isinstance(prompt, str):
        return prompt + completion
    messages = list(prompt) + [{"role": "assistant", "content": completion}]
    return tokenizer.apply_chat_template(messages, tokenize=False)


def check_reward_model(spec: str) -> str:
    """The model's path, if its config says it is a one-logit sequence classifier (reads no weights)."""
    from transformers import AutoConfig

    path = locate_model(spec)
    config = AutoConfig.from_pretrained(path)
    architectures = config.architectures or []
    if not any(a.endswith("ForSequenceClassification") for a in architectures) or config.num_labels != 1:
        raise AlignError(f"{spec} is not a reward model: expected a *ForSequenceClassification model with one "
                         f"label, found {architectures or 'no architecture'} with {config.num_labels} labels")
    return path


def load_reward_model(spec: str):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = check_reward_model(spec)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "right"
    model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32)
    return model.to(pick_device()).eval(), tokenizer


class RewardModelScorer:
    def __init__(self, spec: str, batch_size: int = 128, max_length: int = 512):
        self.model, self.tokenizer = load_reward_model(spec)
        self.batch_size, self.max_length = batch_size, max_length

    @torch.no_grad()
    def __call__(self, prompts, completions, rows=None) -> list[float]:
        texts = [conversation_text(self.tokenizer, p, c) for p, c in zip(prompts, completions)]
        scores: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(texts[start:start + self.batch_size], return_tensors="pt", padding=True,
                                 truncation=True, max_length=self.max_length, add_special_tokens=False)
            logits = self.model(**enc.to(self.model.device)).logits[:, 0]
            scores += logits.float().cpu().tolist()
        return scores
