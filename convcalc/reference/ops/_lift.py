"""The one lifting helper: 1-D, 2-D and 3-D inputs as the 5-D arrays every kernel takes.

Every windowed kernel is written once, for three spatial dimensions: ``(N, C, D, H, W)``.
`lift` inserts unit dimensions in front of an input's spatial ones, turns its
per-dimension options into triples (an inserted dim gets a neutral value: kernel and
stride 1, no padding) and drops the inserted dims from a result again. Also here: the
checks every wrapper makes on what it is handed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

__all__ = ["KERNEL_RANK", "IntPerDim", "Lifted", "as_float32", "bias_or_zeros", "lift",
           "lift_values", "per_dim"]

KERNEL_RANK = 3
"""Spatial dimensions every windowed kernel works in; 1-D and 2-D inputs are lifted."""

IntPerDim = int | Sequence[int]
Number = TypeVar("Number", int, float)

# Options that may be 0; every other per-dimension option must be at least 1 (a stride of
# 0 would never finish placing windows).
_MAY_BE_ZERO = frozenset({"pad_before", "pad_after", "padding", "output_padding"})


def per_dim(value: IntPerDim, rank: int, name: str) -> tuple[int, ...]:
    """Return ``value`` as one int per spatial dimension (an int is repeated)."""
    if isinstance(value, int | np.integer):
        values: tuple[int, ...] = (int(value),) * rank
    else:
        values = tuple(int(v) for v in value)
    if len(values) != rank:
        raise ValueError(f"{name} needs {rank} values, one per spatial dimension, not {values}")
    smallest = 0 if name in _MAY_BE_ZERO else 1
    if min(values) < smallest:
        raise ValueError(f"{name} must be at least {smallest} in every dimension, not {values}")
    return values


def lift_values(values: Sequence[Number], fill: Number) -> tuple[Number, Number, Number]:
    """Return per-dimension ``values`` prefixed with ``fill`` for the inserted unit dims."""
    lifted = (fill,) * (KERNEL_RANK - len(values)) + tuple(values)
    return lifted[0], lifted[1], lifted[2]


def as_float32(array: np.ndarray, name: str) -> np.ndarray:
    """Return ``array`` C-contiguous, refusing any dtype but float32."""
    if not isinstance(array, np.ndarray) or array.dtype != np.float32:
        raise TypeError(f"{name} must be a float32 numpy array")
    return np.ascontiguousarray(array)


def bias_or_zeros(bias: np.ndarray | None, channels: int) -> np.ndarray:
    """Return the bias vector, or zeros, so a kernel compiles once for both cases."""
    if bias is None:
        return np.zeros(channels, np.float32)
    bias = as_float32(bias, "bias")
    if bias.shape != (channels,):
        raise ValueError(f"bias must have shape ({channels},), not {bias.shape}")
    return bias


@dataclass(frozen=True)
class Lifted:
    """An input seen as ``(N, C, D, H, W)``.

    Attributes:
        x: the input reshaped to five dims (a view).
        rank: its own number of spatial dims.
    """

    x: np.ndarray
    rank: int

    def options(self, value: IntPerDim, name: str, fill: int) -> tuple[int, int, int]:
        """Return a per-dimension option checked and lifted (``fill`` in inserted dims)."""
        return lift_values(per_dim(value, self.rank, name), fill)

    def drop(self, y: np.ndarray) -> np.ndarray:
        """Return a 5-D result without the unit dims `lift` inserted."""
        return y.reshape(y.shape[:2] + y.shape[2 + KERNEL_RANK - self.rank :])


def lift(x: np.ndarray) -> Lifted:
    """Return float32 ``x`` (N, C, *spatial) with 1 to 3 spatial dims, lifted to 5-D."""
    x = as_float32(x, "x")
    rank = x.ndim - 2
    if not 1 <= rank <= KERNEL_RANK:
        raise ValueError(f"x must be (N, C, *spatial) with 1 to 3 spatial dims, not {x.shape}")
    return Lifted(x.reshape(x.shape[:2] + (1,) * (KERNEL_RANK - rank) + x.shape[2:]), rank)
