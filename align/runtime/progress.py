"""Rich progress bars for long work (generation, training), shared by every stage."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


@contextmanager
def track(description: str, total: int):
    """`with track("sampling", total=n) as advance: advance(k)` shows one bar until the block ends."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        try:
            yield lambda n=1: progress.advance(task, n)
        except BaseException:
            progress.live.transient = True  # a failed step's half bar goes: the error line is what matters
            raise
