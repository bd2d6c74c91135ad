"""One `align run` per run dir at a time: an exclusive OS lock on `<run>/.lock`, held for the whole run.

The kernel drops the lock when the process ends, however it ends (kill -9 included), so a dead run never
blocks the next one; the pid written into the file only names the holder in the error message."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from align.errors import AlignError


class RunLock:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self.handle = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlignError(
                f"{self.path.parent} is in use by another `align run` (pid {holder}): wait for it, "
                f"or stop it, then run again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.handle = handle
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            self.handle.close()  # closing releases the lock
            self.handle = None
