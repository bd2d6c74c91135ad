"""`reward_model`: score (prompt, completion) with a trained sequence-classification reward model.

The text is tokenised exactly as TRL's RewardTrainer tokenised it in training (its own `_tokenize`):
conversational rows render prompt + the assistant turn with the chat template; plain-text rows are
`prompt + completion + eos` through the tokenizer with its special tokens. Batches are right-padded with
the pad token, so the model reads the reward at the last real token, as in training. Sequences longer
than `max_length` are cut at the end (training dropped such pairs instead)."""

from __future__ import annotations

import torch

from align.errors import AlignError
from align.loading.models import check_weights, locate_model, pick_device


def reward_input_ids(tokenizer, prompt, completion: str) -> list[int]:
    """Token ids of one (prompt, completion) as TRL's RewardTrainer builds them for a `chosen` side."""
    from trl.data_utils import _tokenize

    if isinstance(prompt, str):
        text = prompt + completion
        if not text.endswith(tokenizer.eos_token):
            text += tokenizer.eos_token
        return _tokenize(tokenizer, text)["input_ids"]
    messages = list(prompt) + [{"role": "assistant", "content": completion}]
    return _tokenize(tokenizer, messages)["input_ids"]


def check_reward_model(spec: str) -> str:
    """The model's path, if its config says it is a one-logit sequence classifier (reads no weights)."""
    from transformers import AutoConfig

    path = locate_model(spec)
    check_weights(spec)
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise AlignError(f"{spec}: cannot read the model config ({exc})") from None
    architectures = config.architectures or []
    if not any(a.endswith("ForSequenceClassification") for a in architectures) or config.num_labels != 1:
        raise AlignError(
            f"{spec} is not a reward model: expected a *ForSequenceClassification model with one "
            f"label, found {architectures or 'no architecture'} with {config.num_labels} labels"
        )
    return path


def load_reward_model(spec: str):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = check_reward_model(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise AlignError(f"{spec}: cannot load its tokenizer ({exc})") from None
    try:
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32)
    except Exception as exc:
        raise AlignError(f"{spec}: cannot load the reward model ({type(exc).__name__}: {exc})") from None
    return model.to(pick_device()).eval(), tokenizer


class RewardModelScorer:
    def __init__(self, model: str, batch_size: int = 128, max_length: int = 512):
        self.model, self.tokenizer = load_reward_model(model)
        self.batch_size, self.max_length = batch_size, max_length
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id

    @torch.no_grad()
    def __call__(self, prompts, completions, rows=None) -> list[float]:
        """One score per (prompt, completion). Rows are batched by length, so a batch pads little, and the
        scores come back in input order (padding on the right changes no score)."""
        ids = [reward_input_ids(self.tokenizer, p, c)[: self.max_length] for p, c in zip(prompts, completions)]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        scores = [0.0] * len(ids)
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            batch = [ids[i] for i in chosen]
            width = max(map(len, batch))
            input_ids = torch.tensor([row + [self.pad_id] * (width - len(row)) for row in batch])
            mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in batch])
            device = self.model.device
            logits = self.model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits[:, 0]
            for i, score in zip(chosen, logits.float().cpu().tolist()):
                scores[i] = score
        return scores
