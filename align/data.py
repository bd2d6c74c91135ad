"""Datasets in TRL's conventions: load from JSONL, a local HF dataset dir or a hub id, then validate.

Validation happens before any training, and every problem is reported with the file, the record and
what is wrong, so a bad row fails in a second instead of an hour into a run.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from align import world
from align.errors import AlignError
from rewards.code import stdio_cases

# What each kind of dataset must contain; alternatives are tried in order.
FORMATS = {
    "sft": [("messages",), ("prompt", "completion")],
    "lm": [("text",), ("messages",), ("prompt", "completion")],
    "preference": [("prompt", "chosen", "rejected")],
    "verifiable": [("prompt", "answer"), ("prompt", "tests")],
    "prompts": [("prompt",)],
    "samples": [("prompt", "completion", "sample_index")],
    "reference": [("prompt", "completion")],
    "any": [()],  # rows copied as they are (split)
}


def read_jsonl(path: Path) -> list[dict]:
    """Strict JSONL: UTF-8, one JSON object per non-empty line."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise AlignError(f"{path}: line {line}: not valid UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise AlignError(f"cannot read {path}: {exc.strerror}") from None
    rows = []
    # split on "\n" only: str.splitlines() also splits on U+2028, U+2029 and NEL, which JSON strings may contain
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AlignError(f"{path}: line {number}: malformed JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise AlignError(f"{path}: line {number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """Write to a temp file and rename, so a crash never leaves a half-written dataset."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def locate(spec: str) -> Path | str:
    """A local path for `world:` names and existing paths; anything else is taken as a hub id."""
    if world.is_world_ref(spec):
        return world.resolve(spec)
    path = Path(spec).expanduser()
    if path.exists():
        return path
    if spec.endswith((".jsonl", ".json")) or spec.startswith(("/", ".", "~")):
        raise AlignError(f"dataset not found: {spec}")
    return spec


def load_rows(spec: str, split: str = "train") -> tuple[list[dict], str]:
    """Rows of a dataset and a short name for it (used in error messages)."""
    where = locate(spec)
    if isinstance(where, Path) and where.is_file():
        return read_jsonl(where), str(where)
    import datasets  # slow import: only when a dataset dir or hub id is used

    try:
        if isinstance(where, Path):
            loaded = datasets.load_from_disk(str(where))
            if isinstance(loaded, datasets.DatasetDict):
                loaded = loaded[split]
        else:
            loaded = datasets.load_dataset(where, split=split)
    except Exception as exc:  # the hub or the disk format: both give their own exception types
        raise AlignError(f"cannot load dataset {spec!r}: {exc}") from None
    return [dict(row) for row in loaded], str(spec)


def _is_messages(value) -> bool:
    return (isinstance(value, list) and len(value) > 0
            and all(isinstance(m, dict) and isinstance(m.get("role"), str)
                    and isinstance(m.get("content"), str) for m in value))


def _is_text(value) -> bool:
    return isinstance(value, str) or _is_messages(value)


def check_row(row: dict, columns: tuple[str, ...]) -> str | None:
    """What is wrong with one row for the given columns, or None."""
    for column in columns:
        value = row[column]
        if column == "messages":
            if not _is_messages(value):
                return "'messages' must be a non-empty list of {role, content} objects with string content"
            if not any(m["role"] == "assistant" for m in value):
                return "'messages' has no assistant turn to learn from"
        elif column in ("prompt", "completion", "chosen", "rejected"):
            if not _is_text(value):
                return f"'{column}' must be a string or a list of {{role, content}} messages, got {type(value).__name__}"
        elif column == "text":
            if not isinstance(value, str) or not value:
                return f"'text' must be a non-empty string, got {type(value).__name__}"
        elif column == "answer":
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                return f"'answer' must be a string or a number, got {type(value).__name__}"
        elif column == "tests":
            asserts = isinstance(value, str) or (isinstance(value, list) and all(isinstance(t, str) for t in value))
            if not asserts and stdio_cases(value) is None:  # the code verifier's own reading of its formats
                return ("'tests' must be Python asserts (a string or a list of strings) or stdin/stdout cases "
                        f"({{inputs, outputs}} or a list of {{input, output}}), got {type(value).__name__}")
        elif column == "sample_index" and (not isinstance(value, int) or isinstance(value, bool)):
            return f"'sample_index' must be an integer, got {type(value).__name__}"
    if "chosen" in columns and row["chosen"] == row["rejected"]:
        return "'chosen' and 'rejected' are identical: the pair carries no preference"
    return None


def validate(rows: list[dict], kind: str, source: str) -> list[dict]:
    """Raise on the first bad record; return the rows unchanged when all are fine."""
    if not rows:
        raise AlignError(f"{source}: the dataset is empty")
    options = FORMATS[kind]
    for index, row in enumerate(rows):
        matching = [cols for cols in options if all(c in row for c in cols)]
        if not matching:
            wanted = " or ".join("/".join(cols) for cols in options)
            raise AlignError(f"{source}: record {index + 1}: missing column(s) for a {kind} dataset: "
                             f"needs {wanted}, has {sorted(row)}")
        problem = check_row(row, matching[0])
        if problem:
            raise AlignError(f"{source}: record {index + 1}: {problem}")
    return rows


def load_dataset(spec: str, kind: str, limit: int | None = None) -> list[dict]:
    """Load and validate; `limit` keeps the first N rows (smoke runs)."""
    rows, source = load_rows(spec)
    validate(rows, kind, source)
    return rows[:limit] if limit else rows


def prompt_text(prompt) -> str:
    """A short human-readable form of a prompt (for tables and dedup keys)."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{m['role']}: {m['content']}" for m in prompt)


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
