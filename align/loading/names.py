"""Where a name points, by one rule for datasets and models alike.

A name is a `world:` asset, an existing local path, or a hub id. A name that looks local (it starts with `/`, `./`,
`../` or `~`, has more than one `/`, or ends in a data or weights file extension) but does not exist is "not found",
never a hub lookup, so a typo'd path says what is wrong. Anything else is a hub id (`owner/name` of letters,
digits, `-`, `_` and `.`, as the hub allows), for datasets with an optional `?split=...&name=...` (the split,
default `train`, and the config); a name that is none of these (a scorer spec given as a model, say) is refused
with what it is not.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

from align import world
from align.errors import AlignError

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
FILE_SUFFIXES = (
    ".jsonl",
    ".jsonl.gz",
    ".json",
    ".json.gz",
    ".parquet",
    ".csv",
    ".arrow",
    ".txt",
    ".safetensors",
    ".bin",
    ".yaml",
    ".yml",
)


def looks_local(spec: str) -> bool:
    base = spec.split("?", 1)[0]
    return base.startswith(("/", "./", "../", "~")) or base.count("/") > 1 or base.endswith(FILE_SUFFIXES)


def locate(spec: str, what: str) -> Path | str:
    """The local path a name points to, or the hub id it is; `what` names it in the error ("dataset", "model dir")."""
    if not isinstance(spec, str) or not spec.strip():
        raise AlignError(f"{what} not given (an empty name)")
    if world.is_world_ref(spec):
        return world.resolve(spec)
    path = Path(spec).expanduser()
    if path.exists():
        return path
    if looks_local(spec):
        raise AlignError(f"{what} not found: {spec}")
    if not HUB_ID.fullmatch(spec.split("?", 1)[0]):
        raise AlignError(
            f"{what} not found: {spec} is no local path, and not a hub id ('owner/name' of letters, digits, "
            "'-', '_' and '.')"
        )
    return spec


def hub_id(spec: str) -> tuple[str, str, str | None]:
    """(repo id, split, config) of `owner/name?split=test&name=config`."""
    repo, _, query = spec.partition("?")
    options = {key: values[-1] for key, values in parse_qs(query).items()}
    unknown = sorted(set(options) - {"split", "name"})
    if unknown:
        raise AlignError(f"dataset {spec!r}: unknown option(s) {unknown} (a hub id takes ?split=...&name=...)")
    return repo, options.get("split", "train"), options.get("name")
