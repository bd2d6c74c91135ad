"""Datasets by name: a JSONL file, a local HF dataset dir, a hub id or `world:<name>`, loaded and validated."""

from __future__ import annotations

from pathlib import Path

from align import world
from align.data.formats import validate
from align.data.jsonl import read_jsonl
from align.errors import AlignError


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


def load_dataset(spec: str, kind: str, limit: int | None = None) -> list[dict]:
    """Load and validate (`kind`: see `align.data.formats.FORMATS`); `limit` keeps the first N rows (smoke runs)."""
    rows, source = load_rows(spec)
    validate(rows, kind, source)
    return rows[:limit] if limit else rows


def conversational(rows: list[dict]) -> bool:
    """Whether rows hold chat messages (a `messages` column, or a prompt/completion/chosen/rejected given as a list
    of messages), which only a tokenizer with a chat template can render."""
    columns = ("messages", "prompt", "completion", "chosen", "rejected")
    return any(isinstance(row.get(column), list) for row in rows for column in columns)
