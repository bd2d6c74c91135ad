"""Trainer checkpoints a killed stage left behind (`checkpoint-N` dirs), so it resumes mid-stage."""

from __future__ import annotations

import json
from pathlib import Path


def complete(checkpoint: Path) -> bool:
    """HF Trainer writes trainer_state.json last (after weights, optimizer, scheduler, RNG state): a checkpoint
    without a readable one was cut short by a kill and cannot be resumed from."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest complete `checkpoint-N` dir, or None."""
    found = [p for p in Path(output_dir).glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and complete(p)]
    return str(max(found, key=lambda p: int(p.name.split("-")[-1]))) if found else None


def resumed_step(output_dir: Path) -> int:
    """The optimizer step a resumed trainer continues from (-1 when it starts fresh)."""
    found = last_checkpoint(output_dir)
    return int(found.rsplit("-", 1)[1]) if found else -1
