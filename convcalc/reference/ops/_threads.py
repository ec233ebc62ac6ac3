"""Running a compiled loop over its work items on every core, from Python threads.

Each kernel is compiled once, plainly (``nogil=True``, no ``parallel=True``), taking the
range of work items it is to do; `in_parallel` cuts the items into one contiguous range
per thread and runs the ranges at once. Compiling a loop with ``parallel=True`` costs
about twice as long as compiling it plainly, on every first run; the work is the same.
Work items never share an output element, so the result does not depend on the number
of threads.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from numba import config

__all__ = ["in_numbered_parts", "in_parallel", "parts", "threads"]


def threads() -> int:
    """Return how many threads share a kernel's work: numba's own setting (one per core)."""
    # numba.config makes its settings at import time, out of mypy's sight
    return max(1, int(config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="convcalc-kernel")


def parts(items: int) -> int:
    """Return how many ranges `in_parallel` cuts ``items`` work items into."""
    return max(1, min(threads(), items))


def in_parallel(kernel: Callable[..., Any], items: int, *args: Any) -> int:
    """Return the sum of ``kernel(*args, start, stop)`` over ranges covering ``items``.

    The kernel returns what it counted (MACs) or 0; the ranges run on separate threads.
    """
    return in_numbered_parts(lambda *call: kernel(*call[:-3], *call[-2:]), items, *args)


def in_numbered_parts(kernel: Callable[..., Any], items: int, *args: Any) -> int:
    """Return the sum of ``kernel(*args, part, start, stop)`` over `parts` ranges covering
    ``items``, as `in_parallel` runs them; ``part`` numbers the range from 0, so a kernel
    can give each range its own scratch."""
    count = parts(items)
    if count == 1:
        return int(kernel(*args, 0, 0, items))
    bounds = [items * part // count for part in range(count + 1)]
    futures = [_pool().submit(kernel, *args, part, bounds[part], bounds[part + 1])
               for part in range(1, count)]
    # this thread does the first range itself
    counted = int(kernel(*args, 0, bounds[0], bounds[1]))
    return counted + sum(int(future.result()) for future in futures)
