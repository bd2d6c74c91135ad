"""Content hashes that decide whether a stage's finished work can be reused."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

FULL_HASH_LIMIT = 64 * 1024 * 1024  # larger files are fingerprinted by size and mtime


def file_digest(path: Path) -> str:
    stat = path.stat()
    if stat.st_size > FULL_HASH_LIMIT:
        return f"{stat.st_size}-{stat.st_mtime_ns}"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def path_digest(path: Path) -> str:
    """A file's content hash, or a dir's hash over its files' names and content hashes."""
    if path.is_file():
        return file_digest(path)
    h = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(str(item.relative_to(path)).encode())
        h.update(file_digest(item).encode())
    return h.hexdigest()


def referenced_paths(value) -> list[str]:
    """Every string in a config that names an existing local file or dir, or a `world:` asset."""
    from align import world

    if isinstance(value, dict):
        return [p for v in value.values() for p in referenced_paths(v)]
    if isinstance(value, list):
        return [p for v in value for p in referenced_paths(v)]
    if isinstance(value, str):
        if world.is_world_ref(value):
            try:
                return [str(world.resolve(value))]
            except Exception:
                return []
        if len(value) < 4096 and ("/" in value or "." in value) and Path(value).exists():
            return [value]
    return []


def relative_to_run(value, run_dir: str):
    """Paths inside the run dir hash by their place in the run, so a moved or copied run still resumes."""
    if isinstance(value, dict):
        return {k: relative_to_run(v, run_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [relative_to_run(v, run_dir) for v in value]
    if isinstance(value, str) and value.startswith(run_dir + "/"):
        return "<run>" + value[len(run_dir):]
    return value


def stage_hash(stage_type: str, config: dict, upstream: dict[str, str], run_dir: Path, seed: int = 0) -> str:
    """Hash of what a stage computes from: its type, config, seed, upstream stage hashes and input files.

    Outputs of upstream stages (inside the run dir) are covered by their stage hashes, not re-read."""
    inside = Path(run_dir).resolve()
    inputs = {p: path_digest(Path(p)) for p in referenced_paths(config)
              if not Path(p).resolve().is_relative_to(inside)}
    payload = json.dumps({"type": stage_type, "config": relative_to_run(config, str(Path(run_dir))),
                          "seed": seed, "upstream": upstream, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def stage_seed(recipe_seed: int, stage_name: str) -> int:
    """A per-stage seed that depends on the recipe seed and the stage's name, not its position."""
    return int(hashlib.sha256(f"{recipe_seed}:{stage_name}".encode()).hexdigest()[:8], 16)
