"""Progress bars for long runs (rich), silent when output is not a terminal or when disabled."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def progress_factory(enabled: bool) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Yield ``make(label, total) -> advance(n)``; bars are drawn on stderr only for a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield lambda label, total: (lambda n=1: None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                  transient=False) as bar:
        def make(label: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(label, total=total)
            return lambda n=1: bar.advance(task, n)
        yield make
