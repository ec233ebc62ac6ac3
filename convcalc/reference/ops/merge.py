"""Merges: the sum and the channel concatenation of a block's branches."""

from __future__ import annotations

import numpy as np

from convcalc.reference.ops._lift import as_float32
from convcalc.reference.ops._op import MergeOp

__all__ = ["add", "concat"]


def summed(*xs: np.ndarray) -> np.ndarray:
    """Return the elementwise sum of equally shaped arrays."""
    arrays = [as_float32(x, "x") for x in xs]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(f"add needs equal shapes, not {[a.shape for a in arrays]}")
    total = arrays[0].copy()
    for array in arrays[1:]:
        total += array
    return total


def joined(*xs: np.ndarray) -> np.ndarray:
    """Return the arrays joined along the channel dimension (axis 1)."""
    return np.concatenate([as_float32(x, "x") for x in xs], axis=1)


add = MergeOp(summed, summed)
"""``add(*xs)``: the elementwise sum."""
concat = MergeOp(joined, summed)
"""``concat(*xs)``: joined along the channels; the probe sums its one-channel branches."""
