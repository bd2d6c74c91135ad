"""Torch threads on a small box: oversubscription (two processes each using every core) costs ~80x here."""

from __future__ import annotations

import os


def configure_threads() -> None:
    """One thread per core, shared among the processes of a torchrun stage, and passive waiting."""
    import torch

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cores = int(os.environ.get("ALIGN_NUM_THREADS", os.cpu_count() or 1))
    wanted = max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
