"""A stage's folder in the run dir, written so that a kill at any moment leaves either the last finished outputs or
none, never half-written ones that look finished.

    <stage>/.out/     the attempt's outputs, promoted into <stage>/ when it succeeds
    <stage>/.work/    checkpoints and finished chunks, kept across kills while the stage's hash stays the same
    <stage>/stage.json, DONE   written last; DONE (atomic) marks the stage finished
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from align.engine import fingerprint
from align.engine.runlog import write_json


def prepare(stage_dir: Path, digest: str) -> None:
    """Clear a killed attempt's temp output; keep its checkpoints only if they were made for this hash.
    The previous finished outputs stay until the new ones are promoted."""
    work = stage_dir / ".work"
    keep_work = (work / "HASH").exists() and (work / "HASH").read_text() == digest
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(stage_dir / ".out", ignore_errors=True)
    (stage_dir / ".out").mkdir(parents=True)
    work.mkdir(exist_ok=True)
    (work / "HASH").write_text(digest)


def promote(stage_dir: Path, info: dict, digest: str) -> None:
    """Replace the stage's old outputs by the new ones in `.out`: DONE goes first and comes back last
    (atomically), so a kill in between leaves a stage that re-runs, never one that looks finished with mixed
    outputs."""
    out_tmp = stage_dir / ".out"
    (stage_dir / "DONE").unlink(missing_ok=True)
    for item in stage_dir.iterdir():
        if item.name not in (".out", ".work"):
            remove(item)
    for item in sorted(out_tmp.iterdir()):
        os.replace(item, stage_dir / item.name)
    out_tmp.rmdir()
    write_json(stage_dir / "stage.json", info)
    write_json(stage_dir / "DONE", {"hash": digest, "finished": time.time()})


def output_problems(stage_dir: Path, info: dict) -> list[str]:
    """Why a finished stage's recorded outputs cannot be trusted: gone, or not what was recorded."""
    problems = []
    for key, rel in info.get("outputs", {}).items():
        path = stage_dir / rel
        if not path.exists():
            problems.append(f"output {key} is missing")
        elif info.get("output_digests", {}).get(key) not in (None, fingerprint.path_digest(path)):
            problems.append(f"output {key} was changed")
    return problems


def missing_outputs(stage_dir: Path, outputs: dict[str, str]) -> list[str]:
    """The outputs a stage said it wrote into `.out` that are not there."""
    return sorted(key for key, rel in outputs.items() if not (stage_dir / ".out" / rel).exists())


def discard_attempt(stage_dir: Path) -> None:
    """Nothing half-written survives a failure: the attempt's temp outputs go (its checkpoints stay)."""
    shutil.rmtree(stage_dir / ".out", ignore_errors=True)


def remove(item: Path) -> None:
    shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
