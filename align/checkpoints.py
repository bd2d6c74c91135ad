"""Trainer checkpoints a killed stage left behind (`checkpoint-N` dirs), so it resumes mid-stage."""
from __future__ import annotations

from pathlib import Path


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest `checkpoint-N` dir, or None."""
    checkpoints = sorted(Path(output_dir).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(checkpoints[-1]) if checkpoints else None


def resumed_step(output_dir: Path) -> int:
    """The optimizer step a resumed trainer continues from (-1 when it starts fresh)."""
    found = last_checkpoint(output_dir)
    return int(found.rsplit("-", 1)[1]) if found else -1
