"""The dot product over contiguous runs: linear's inner loop.

Reassociation lets LLVM split a dot product over vector lanes; contraction lets it fuse
multiply and add. No other fast-math flag: NaN and infinity must keep their meaning (the
conv kernel, which sums in locals over a whole window, uses the same flags).

It is compiled on first use only: a kernel that calls it pays for compiling it once per
argument types, so call it with the same types everywhere. (The conv kernel sums four
filters by two positions in locals itself, `ops/conv.py`.)
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["DOT_FASTMATH", "dot"]

DOT_FASTMATH = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=DOT_FASTMATH)
def dot(a: np.ndarray, a_start: int, b: np.ndarray, b_start: int, length: int) -> np.float32:
    """Return the dot product of ``length`` values of ``a`` and ``b`` from the given starts."""
    a_run = a[a_start : a_start + length]
    b_run = b[b_start : b_start + length]
    total = np.float32(0.0)
    for j in range(length):
        total += a_run[j] * b_run[j]
    return total
