"""Content hashes that decide whether a stage's finished work can be reused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from align import world

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
        return "<run>" + value[len(run_dir) :]
    return value


def local_paths(names: list) -> list[str]:
    """The declared inputs (datasets, models, tokenizers) that are local paths, by the loader's rule: a name that
    exists is local, wherever it lives and however it is spelt (`mymodel`, no `/` or `.`, included)."""
    return [n for n in names if isinstance(n, str) and not world.is_world_ref(n) and Path(n).expanduser().exists()]


def stage_inputs(
    stage_type: str, config: dict, upstream: dict[str, str], run_dir: Path, seed: int = 0, declared: list | None = None
) -> dict:
    """What a stage computes from: its type, config, seed, upstream stage hashes and input files' digests.

    Every local input is digested wherever it lives (a user's file inside the run dir too), except the outputs of
    the upstream stages it reads, which their stage hashes cover. Recorded in stage.json, so a re-run can say which
    of these changed."""
    produced = [Path(run_dir).resolve() / name for name in upstream]
    paths = sorted(set(referenced_paths(config)) | set(local_paths(declared or [])))
    files = {
        p: path_digest(Path(p).expanduser())
        for p in paths
        if not any(Path(p).expanduser().resolve().is_relative_to(stage) for stage in produced)
    }
    return {
        "type": stage_type,
        "config": relative_to_run(config, str(Path(run_dir))),
        "seed": seed,
        "upstream": upstream,
        "inputs": files,
    }


def inputs_hash(inputs: dict) -> str:
    payload = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def changes(old: dict | None, new: dict, defaults: dict | None = None) -> list[str]:
    """Why a stage's inputs differ from its last finished run, in words (empty when nothing differs).

    `defaults`: the new config's fields left at their default. A field the old run did not have (added to align
    since) that sits at its default is no change: a new field's default keeps the old behaviour."""
    if not old:
        return ["no finished run of this stage"]
    reasons = []
    if old.get("type") != new["type"]:
        reasons.append(f"stage type {old.get('type')} -> {new['type']}")
    old_config, new_config, defaults = old.get("config", {}), new["config"], defaults or {}
    for key in sorted(set(old_config) | set(new_config)):
        if key not in old_config and key in defaults and new_config.get(key) == defaults[key]:
            continue
        if old_config.get(key, "<unset>") != new_config.get(key, "<unset>"):
            reasons.append(
                f"config {key}: {short(old_config.get(key, '<unset>'))} -> {short(new_config.get(key, '<unset>'))}"
            )
    if old.get("seed") != new["seed"]:
        reasons.append("seed changed")
    for name in sorted(set(old.get("upstream", {})) | set(new["upstream"])):
        if old.get("upstream", {}).get(name) != new["upstream"].get(name):
            reasons.append(f"upstream stage {name} changed")
    for path in sorted(set(old.get("inputs", {})) | set(new["inputs"])):
        if old.get("inputs", {}).get(path) != new["inputs"].get(path):
            reasons.append(f"input {path} changed")
    return reasons


def short(value, width: int = 60) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def stage_seed(recipe_seed: int, stage_name: str) -> int:
    """A per-stage seed that depends on the recipe seed and the stage's name, not its position."""
    return int(hashlib.sha256(f"{recipe_seed}:{stage_name}".encode()).hexdigest()[:8], 16)


def unset_fields(config) -> dict:
    """A stage config's fields left at their default, as JSON (what `changes` may overlook when they are new)."""
    return {k: v for k, v in config.model_dump(mode="json").items() if k not in config.model_fields_set}
