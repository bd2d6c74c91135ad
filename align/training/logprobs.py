"""Per-token log-probabilities of any causal LM on prompt/completion rows, masked to the completion.

One implementation for everything that needs a likelihood: distillation targets (the teacher's log-probs and top-k
distributions), data filters (perplexity, likelihood differences), evaluation (held-out NLL, teacher agreement).
Rows are encoded exactly as TRL's SFTTrainer encodes prompt/completion data (its own `_tokenize`: chat rows through
the chat template with the generation prompt, plain rows as `prompt + completion + eos`; the completion starts where
the tokenised prompt and prompt+completion diverge), so a log-prob here is the one training optimises.

Shapes: B rows, T positions, V vocabulary, k kept classes. Position t of the outputs scores token t+1 of the
input (the usual shift); `mask` is 1 where that token belongs to the completion.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from align.generation.prompts import prompt_ids


def encode(tokenizer, prompt, completion) -> tuple[list[int], list[int]]:
    """(input ids, completion mask) of one row, as TRL's SFTTrainer builds them."""
    from trl.data_utils import _tokenize, common_prefix_length

    if isinstance(prompt, str):
        text = completion if isinstance(completion, str) else "".join(m["content"] for m in completion)
        if not text.endswith(tokenizer.eos_token):
            text += tokenizer.eos_token
        full = _tokenize(tokenizer, prompt + text)["input_ids"]
    else:
        turns = completion if isinstance(completion, list) else [{"role": "assistant", "content": completion}]
        full = _tokenize(tokenizer, list(prompt) + list(turns))["input_ids"]
    start = common_prefix_length(prompt_ids(tokenizer, prompt), full)
    return full, [0] * start + [1] * (len(full) - start)


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, L], right-padded
    attention_mask: torch.Tensor  # [B, L]
    mask: torch.Tensor  # [B, L-1]: 1 where position t predicts a completion token


def collate(encoded: list[tuple[list[int], list[int]]], pad_id: int, max_length: int | None = None) -> Batch:
    """Right-pad encoded rows into one batch (cut at `max_length` tokens)."""
    rows = [(ids[:max_length], m[:max_length]) if max_length else (ids, m) for ids, m in encoded]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    completion = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, m) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        completion[i, : len(m)] = torch.tensor(m)
    return Batch(input_ids, attention, completion[:, 1:])


def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """log p(token t+1 | tokens ≤ t) for every position: logits [B, L, V], ids [B, L] -> [B, L-1]."""
    logps = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return logps.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)


def topk_logprobs(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k most likely next tokens at every position and their log-probs: ([B, L-1, k], [B, L-1, k])."""
    logps = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    values, indices = logps.topk(min(k, logps.shape[-1]), dim=-1)
    return values, indices


@dataclass
class RowLogprobs:
    """One row's completion: each token's log-prob, and optionally the top-k next-token distribution there."""

    token_logprobs: list[float]
    topk_logprobs: list[list[float]] | None = None
    topk_ids: list[list[int]] | None = None


def model_logprobs(
    spec: str, rows: list[dict], batch_size: int = 32, max_length: int | None = None, progress=None
) -> list[RowLogprobs]:
    """`completion_logprobs` under the model `spec` (HF dir, hub id or world:<name>), loaded in float32."""
    from align.loading.models import load_causal_lm, load_tokenizer

    model, tokenizer = load_causal_lm(spec, dtype="float32"), load_tokenizer(spec, padding_side="right")
    return completion_logprobs(model, tokenizer, rows, batch_size, 0, max_length, progress)


def mean_token_logprob(spec: str, rows: list[dict], progress=None) -> float:
    """Mean log-prob under the model `spec` of the rows' completion tokens, over all their tokens (a held-out NLL,
    or a teacher's agreement with what a student wrote)."""
    tokens = [lp for s in model_logprobs(spec, rows, progress=progress) for lp in s.token_logprobs]
    return sum(tokens) / max(len(tokens), 1)


@torch.no_grad()
def completion_logprobs(
    model,
    tokenizer,
    rows: list[dict],
    batch_size: int = 32,
    top_k: int = 0,
    max_length: int | None = None,
    progress=None,
) -> list[RowLogprobs]:
    """Log-probs of each row's completion tokens under `model` (rows: prompt/completion), batched."""
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: list[RowLogprobs] = []
    model.eval()
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        batch = collate([encode(tokenizer, r["prompt"], r["completion"]) for r in chunk], pad_id, max_length)
        logits = model(
            input_ids=batch.input_ids.to(model.device), attention_mask=batch.attention_mask.to(model.device)
        ).logits.cpu()
        per_token = token_logprobs(logits, batch.input_ids)
        top = topk_logprobs(logits, top_k) if top_k else None
        for i in range(len(chunk)):
            keep = batch.mask[i].bool()
            out.append(
                RowLogprobs(
                    per_token[i][keep].tolist(),
                    top[0][i][keep].tolist() if top else None,
                    top[1][i][keep].tolist() if top else None,
                )
            )
        if progress:
            progress(len(chunk))
    return out
