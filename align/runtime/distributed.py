"""Which process this is under torchrun: only rank 0 logs, shows progress and writes outputs (on several
nodes, each node's local rank 0 does, into that node's own run dir)."""

from __future__ import annotations

import os


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return rank() == 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_node_main() -> bool:
    """The process that writes this machine's copy of a stage's outputs (rank 0 on a single node)."""
    return local_rank() == 0


def nodes() -> int:
    """Machines in this torchrun job (torchrun gives every node the same number of processes)."""
    return world_size() // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
