"""Merges: the sum, the channel concatenation and the broadcasting product of a block's
branches."""

from __future__ import annotations

import numpy as np

from convcalc.reference.ops._lift import as_float32
from convcalc.reference.ops._op import MergeOp

__all__ = ["add", "concat", "mul"]


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


def broadcast_shape(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """Return the shape the arrays broadcast to: equal rank, and in every dimension each
    one the largest size or 1; raise ValueError otherwise (stricter than numpy, which
    also pads the rank)."""
    if len({len(shape) for shape in shapes}) != 1:
        raise ValueError(f"mul needs arrays of equal rank, not {shapes}")
    out = tuple(max(sizes) for sizes in zip(*shapes, strict=True))
    if any(size not in (1, top) for shape in shapes for size, top in zip(shape, out,
                                                                          strict=True)):
        raise ValueError(f"mul needs sizes that are the largest or 1, not {shapes}")
    return out


def multiplied(*xs: np.ndarray) -> np.ndarray:
    """Return the elementwise product of arrays that broadcast (see broadcast_shape)."""
    arrays = [as_float32(x, "x") for x in xs]
    out = broadcast_shape([a.shape for a in arrays])
    total = np.empty(out, np.float32)
    total[...] = arrays[0]  # written into the output: no temporary of the input's size
    for array in arrays[1:]:
        total *= array
    return total


add = MergeOp(summed, summed)
"""``add(*xs)``: the elementwise sum."""
concat = MergeOp(joined, summed)
"""``concat(*xs)``: joined along the channels; the probe sums its one-channel branches."""
mul = MergeOp(multiplied, summed, holds_broadcast=True)
"""``mul(*xs)``: the broadcasting product; the probe unites the branches not broadcast
along the probed dim, holding the broadcast ones fixed (their dependence on every
position is the probe's ``scale``)."""
