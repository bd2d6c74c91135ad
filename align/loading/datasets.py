"""Datasets by name, loaded and validated: `.jsonl`, `.jsonl.gz`, `.json` (an array of objects, or one object a
line), `.parquet` and `.csv` files, a `save_to_disk` dir, a hub id (`owner/name?split=test&name=config`) or
`world:<name>`. Every problem names the file and, where there is one, the line or record."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from align.data.formats import validate
from align.data.jsonl import parse_jsonl, read_jsonl
from align.errors import AlignError
from align.loading.names import hub_id, locate

TABULAR = {".parquet": "parquet", ".csv": "csv"}  # read with pyarrow, as the `datasets` library reads them


def read_json(path: Path) -> list[dict]:
    """A `.json` file: an array of objects, or JSON lines (what `datasets` accepts under that name too)."""
    text = decoded(path, path.read_bytes())
    if not text.lstrip().startswith("["):
        return parse_jsonl(text, path)
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AlignError(f"{path}: line {exc.lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None
    bad = next((i for i, row in enumerate(rows) if not isinstance(row, dict)), None)
    if bad is not None:
        raise AlignError(f"{path}: record {bad + 1}: expected a JSON object, got {type(rows[bad]).__name__}")
    return rows


def decoded(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise AlignError(f"{path}: line {line}: not valid UTF-8 ({exc.reason})") from None


def read_gzip(path: Path) -> list[dict]:
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise AlignError(f"{path}: not a readable gzip file ({exc})") from None
    return parse_jsonl(decoded(path, data), path)


def read_tabular(path: Path, kind: str) -> list[dict]:
    import pyarrow.csv
    import pyarrow.parquet

    try:
        table = pyarrow.parquet.read_table(str(path)) if kind == "parquet" else pyarrow.csv.read_csv(str(path))
    except Exception as exc:  # pyarrow raises its own types for a bad file
        raise AlignError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {exc})") from None
    return table.to_pylist()


def read_file(path: Path) -> list[dict]:
    name = path.name
    if name.endswith(".jsonl"):
        return read_jsonl(path)
    if name.endswith((".jsonl.gz", ".json.gz")):
        return read_gzip(path)
    if name.endswith(".json"):
        return read_json(path)
    if path.suffix in TABULAR:
        return read_tabular(path, TABULAR[path.suffix])
    raise AlignError(f"{path}: unknown data file type (use .jsonl, .jsonl.gz, .json, .parquet or .csv)")


def load_rows(spec: str) -> tuple[list[dict], str]:
    """Rows of a dataset and a short name for it (used in error messages)."""
    where = locate(spec, "dataset")
    if isinstance(where, Path) and where.is_file():
        return read_file(where), str(where)
    import datasets  # slow import: only when a dataset dir or hub id is used

    if isinstance(where, Path):
        try:
            loaded = datasets.load_from_disk(str(where))
        except Exception as exc:
            raise AlignError(f"{where}: not a dataset dir saved with save_to_disk ({exc})") from None
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded["train"]
        return [dict(row) for row in loaded], str(where)
    repo, split, config = hub_id(where)
    try:
        loaded = datasets.load_dataset(repo, name=config, split=split)
    except Exception as exc:
        raise AlignError(f"cannot load dataset {spec!r} from the hub: {type(exc).__name__}: {exc}") from None
    return [dict(row) for row in loaded], str(spec)


def load_dataset(spec: str, kind: str, limit: int | None = None) -> list[dict]:
    """Load and validate (`kind`: see `align.data.formats.FORMATS`); `limit` keeps the first N rows (smoke runs)."""
    rows, source = load_rows(spec)
    validate(rows, kind, source)
    rows = rows[:limit] if limit else rows
    if kind == "preference":  # TRL's implicit prompt (whole conversations): the shared prefix is the prompt
        from trl.data_utils import maybe_extract_prompt

        rows = [maybe_extract_prompt(row) for row in rows]
    return rows


def locate_dataset(spec: str) -> Path | str:
    """A dataset's local path (or hub id)."""
    return locate(spec, "dataset")


def conversational(rows: list[dict]) -> bool:
    """Whether rows hold chat messages (a `messages` column, or a prompt/completion/chosen/rejected given as a list
    of messages), which only a tokenizer with a chat template can render."""
    columns = ("messages", "prompt", "completion", "chosen", "rejected")
    return any(isinstance(row.get(column), list) for row in rows for column in columns)
