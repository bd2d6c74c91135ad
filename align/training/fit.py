"""Rows that fit: a row whose prompt fills `max_length` keeps no completion token after truncation, so it trains
nothing (and a dataset of only such rows ends in TRL's "num_samples=0"). Counted here, on TRL's own tokenisation."""

from __future__ import annotations

from align.data.rows import prompt_completion
from align.training.logprobs import encode


def first_turn(row: dict) -> dict:
    """A conversation's first assistant turn as prompt/completion: the earliest tokens assistant-only loss trains."""
    messages = row["messages"]
    first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return {"prompt": messages[:first], "completion": [messages[first]]}


def views(row: dict, assistant_masked: bool) -> list[dict]:
    """The prompt/completion pairs of a row that must keep a trained token: both sides of a preference pair, a
    conversation's first trained turn (every assistant turn trains where TRL masks them, else the last)."""
    if "completion" not in row and "messages" not in row and "chosen" not in row:
        return []  # prompts for online RL: the policy writes the completions
    if "chosen" in row:
        prompt = row.get("prompt", [])
        return [{"prompt": prompt, "completion": row[side]} for side in ("chosen", "rejected")]
    if "messages" in row and assistant_masked:
        return [first_turn(row)]
    return [prompt_completion(row)]


def rows_without_room(tokenizer, rows: list[dict], max_length: int, assistant_masked: bool = False) -> list[int]:
    """Indices of the rows with no completion token within the first `max_length` tokens."""
    lacking = []
    for index, row in enumerate(rows):
        if "text" in row:
            continue  # language modelling: every token trains
        for view in views(row, assistant_masked):
            _, mask = encode(tokenizer, view["prompt"], view["completion"])
            if not any(mask[:max_length]):
                lacking.append(index)
                break
    return lacking
