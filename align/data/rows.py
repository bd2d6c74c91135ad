"""Views of one row in TRL's formats: its prompt as text, its prompt/completion pair, its completion as text."""

from __future__ import annotations


def prompt_text(prompt, roles: bool = True) -> str:
    """A prompt (a string, or a list of chat messages) as text. With `roles`, every turn as `role: content`: what
    identifies a prompt (grouping samples, matching a baseline) and shows it in a message. Without, what the user
    asked: the user turns' text, one per line (a grader's instruction, the world's task parsers)."""
    if isinstance(prompt, str):
        return prompt
    if roles:
        return "\n".join(f"{m['role']}: {m['content']}" for m in prompt)
    return "\n".join(m["content"] for m in prompt if m["role"] == "user")


def prompt_completion(row: dict) -> dict:
    """The prompt/completion view of a `text`, `prompt`/`completion` or `messages` row: a text row is all
    completion (prompt ""); a conversation's completion is its last assistant turn, its prompt what precedes."""
    if "text" in row:
        return {"prompt": "", "completion": row["text"]}
    if "prompt" in row:
        return {"prompt": row["prompt"], "completion": row["completion"]}
    messages = row["messages"]
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return {"prompt": messages[:last], "completion": [messages[last]]}


def completion_text(completion) -> str:
    """The assistant text of a completion given as a string or as messages."""
    if isinstance(completion, str):
        return completion
    return "".join(m["content"] for m in completion if m["role"] == "assistant")


def conversations(row: dict) -> list[tuple[list[dict], bool]]:
    """The conversations a chat template renders for a row, each with whether it ends in a generation prompt: a
    `messages` row whole, a chat prompt with each of its chat completions / chosen / rejected (or alone, to be
    answered), an implicit-prompt pair's two conversations. Plain-text parts render without a template."""
    if isinstance(row.get("messages"), list):
        return [(row["messages"], False)]
    prompt = row.get("prompt") if isinstance(row.get("prompt"), list) else None
    answers = [row[k] for k in ("completion", "chosen", "rejected") if isinstance(row.get(k), list)]
    if prompt is None:
        return [(answer, False) for answer in answers]
    return [(prompt + answer, False) for answer in answers] or [(prompt, True)]
