"""Dot products over contiguous runs: linear's inner loop, and register-blocked forms.

Reassociation lets LLVM split a dot product over vector lanes; contraction lets it fuse
multiply and add. No other fast-math flag: NaN and infinity must keep their meaning (the
conv kernel, which sums in locals over a whole window, uses the same flags).

Each is compiled on first use only: a kernel that calls one pays for compiling it once
per argument types, so call them with the same types everywhere.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["DOT_FASTMATH", "dot", "dot_4x1", "dot_4x2"]

DOT_FASTMATH = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=DOT_FASTMATH)
def dot_4x2(
    weight: np.ndarray,
    w_start: int,
    filter_step: int,
    x: np.ndarray,
    x_start: int,
    position_step: int,
    length: int,
) -> tuple[np.float32, ...]:
    """Return the dot products of 4 filters with 2 inputs: filter 0..3 at a, then at b.

    Filter ``t``'s run starts at ``w_start + t·filter_step``; input a's at ``x_start``,
    input b's ``position_step`` further. Slices give LLVM unit-stride loops from index 0.
    """
    w0 = weight[w_start : w_start + length]
    w1 = weight[w_start + filter_step : w_start + filter_step + length]
    w2 = weight[w_start + 2 * filter_step : w_start + 2 * filter_step + length]
    w3 = weight[w_start + 3 * filter_step : w_start + 3 * filter_step + length]
    xa = x[x_start : x_start + length]
    xb = x[x_start + position_step : x_start + position_step + length]
    s0a = s1a = s2a = s3a = s0b = s1b = s2b = s3b = np.float32(0.0)
    for j in range(length):
        a = xa[j]
        b = xb[j]
        s0a += w0[j] * a
        s1a += w1[j] * a
        s2a += w2[j] * a
        s3a += w3[j] * a
        s0b += w0[j] * b
        s1b += w1[j] * b
        s2b += w2[j] * b
        s3b += w3[j] * b
    return s0a, s1a, s2a, s3a, s0b, s1b, s2b, s3b


@njit(cache=True, nogil=True, fastmath=DOT_FASTMATH)
def dot_4x1(
    weight: np.ndarray, w_start: int, filter_step: int, x: np.ndarray, x_start: int, length: int
) -> tuple[np.float32, ...]:
    """Return the dot products of 4 filters' runs with one input run (see `dot_4x2`)."""
    w0 = weight[w_start : w_start + length]
    w1 = weight[w_start + filter_step : w_start + filter_step + length]
    w2 = weight[w_start + 2 * filter_step : w_start + 2 * filter_step + length]
    w3 = weight[w_start + 3 * filter_step : w_start + 3 * filter_step + length]
    xa = x[x_start : x_start + length]
    s0 = s1 = s2 = s3 = np.float32(0.0)
    for j in range(length):
        a = xa[j]
        s0 += w0[j] * a
        s1 += w1[j] * a
        s2 += w2[j] * a
        s3 += w3[j] * a
    return s0, s1, s2, s3


@njit(cache=True, nogil=True, fastmath=DOT_FASTMATH)
def dot(a: np.ndarray, a_start: int, b: np.ndarray, b_start: int, length: int) -> np.float32:
    """Return the dot product of ``length`` values of ``a`` and ``b`` from the given starts."""
    a_run = a[a_start : a_start + length]
    b_run = b[b_start : b_start + length]
    total = np.float32(0.0)
    for j in range(length):
        total += a_run[j] * b_run[j]
    return total
