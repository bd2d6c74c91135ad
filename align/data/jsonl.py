"""JSONL, the format every stage reads and writes: strict on read (one clear error per bad line), atomic on write."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from align.errors import AlignError


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
    return parse_jsonl(text, path)


def parse_jsonl(text: str, path) -> list[dict]:
    """One JSON object per non-empty line of `text` (read from `path`, named in errors)."""
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
