"""Progress for long runs: rich bars on a terminal, a plain line every ``LOG_EVERY_PERCENT`` % otherwise.

A run logged to a file (CI, nohup, a batch job) must not be silent for minutes, and must not fill the
log with bar redraws: when stderr is not a terminal, each task prints ``label: 30% (180/600)`` lines.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

#: a non-terminal progress line is printed each time a task crosses another multiple of this
LOG_EVERY_PERCENT = 10

Make = Callable[[str, int], Callable[[int], None]]


@contextmanager
def progress_factory(enabled: bool, stream: TextIO | None = None) -> Iterator[Make]:
    """Yield ``make(label, total) -> advance(n)``; output on stderr (bars only for a terminal)."""
    stream = stream or sys.stderr
    if not enabled:
        yield lambda label, total: (lambda n=1: None)
        return
    if not stream.isatty():
        yield lambda label, total: _line_logger(label, total, stream)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                  transient=False) as bar:
        def make(label: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(label, total=total)
            return lambda n=1: bar.advance(task, n)
        yield make


def _line_logger(label: str, total: int, stream: TextIO) -> Callable[[int], None]:
    """``advance(n)`` that prints one line per ``LOG_EVERY_PERCENT`` % crossed (and at 100 %)."""
    state = {"done": 0, "printed": -1, "t0": time.perf_counter()}

    def advance(n: int = 1) -> None:
        state["done"] += n
        if total <= 0:
            return
        pct = min(100, int(100 * state["done"] / total))
        step = pct // LOG_EVERY_PERCENT * LOG_EVERY_PERCENT
        if step > state["printed"] and (step > 0 or state["done"] >= total):
            state["printed"] = step
            elapsed = time.perf_counter() - state["t0"]
            print(f"{label}: {step}% ({state['done']}/{total}, {elapsed:.0f} s)", file=stream, flush=True)
    return advance


def dataset_progress(make: Make) -> Callable[[int, int, str], None]:
    """Adapt ``make(label, total) -> advance(n)`` to the loaders' ``progress(done, total, what)``."""
    bars: dict[str, tuple[Callable[[int], None], list[int]]] = {}

    def progress(done: int, total: int, what: str) -> None:
        if what not in bars:
            bars[what] = (make(f"dataset: {what}", total), [0])
        advance, seen = bars[what]
        advance(done - seen[0])
        seen[0] = done
    return progress
