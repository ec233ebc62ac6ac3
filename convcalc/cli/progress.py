"""The progress bar a long command shows on stderr: only on a terminal, only after a second."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from convcalc.cli.app import console

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["PROGRESS_AFTER", "LazyProgress", "lazy_progress"]

PROGRESS_AFTER = 1.0
"""Seconds a command runs before its progress bar appears."""


class LazyProgress:
    """A transient progress bar on stderr that appears once the work has taken a second.

    Called with (done, total) as the work goes; rich is imported only when a bar is shown.
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self.started = time.perf_counter()
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if time.perf_counter() - self.started < PROGRESS_AFTER:
                return
            from rich.progress import Progress  # only long work needs it

            self.bar = Progress(console=console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=total)
        if self.task is not None:
            self.bar.update(self.task, completed=done)

    def stop(self) -> None:
        """Take the bar off the terminal, if it was shown."""
        if self.bar is not None:
            self.bar.stop()


@contextmanager
def lazy_progress(description: str) -> Iterator[LazyProgress | None]:
    """Yield a progress callback when stderr is a terminal, else None."""
    if not sys.stderr.isatty():
        yield None
        return
    progress = LazyProgress(description)
    try:
        yield progress
    finally:
        progress.stop()
