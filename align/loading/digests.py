"""Fingerprints of what was loaded: a model's weights and a tokenizer's token ids. They let a run prove where
training started and let a stage refuse a teacher or a cache built for another tokenizer."""

from __future__ import annotations

import hashlib
import json

from align.loading.models import load_tokenizer


def weights_digest(model, full_limit: int = 50_000_000) -> str:
    """A short fingerprint of a model's weights (all of them when small, first/last tensors when big).

    Recorded by training stages at step 0, so a run can show which weights training started from."""
    import torch

    params = list(model.state_dict().items())
    if sum(t.numel() for _, t in params) > full_limit:
        params = params[:3] + params[-3:]
    h = hashlib.sha256()
    for name, tensor in params:
        h.update(name.encode())
        h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def tokenizer_digest(tokenizer) -> str:
    """What decides token ids: the vocabulary, the special tokens and the chat template."""
    described = json.dumps(
        {
            "vocab": sorted(tokenizer.get_vocab().items()),
            "template": tokenizer.chat_template,
            "special": tokenizer.special_tokens_map,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def check_same_tokenizer(model: str, other: str, role: str, why: str) -> None:
    """Fail before any work when `other` (a teacher, a reference) tokenises differently from `model`: token-level
    comparisons between the two would be meaningless. Names both tokenizers."""
    mine, theirs = load_tokenizer(model), load_tokenizer(other)
    if tokenizer_digest(mine) != tokenizer_digest(theirs):
        raise ValueError(
            f"{why}, but the {role} {other!r} ({type(theirs).__name__}, {len(theirs)} tokens) and "
            f"{model!r} ({type(mine).__name__}, {len(mine)} tokens) have different tokenizers"
        )
