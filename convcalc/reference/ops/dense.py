"""Fully connected layers and flatten: their kernel and their ops.

``linear``: MACs = rows·units·in_features, counted as the kernel runs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from convcalc.reference.ops._dot import DOT_FASTMATH, dot
from convcalc.reference.ops._lift import as_float32, bias_or_zeros
from convcalc.reference.ops._op import Arrays, Op, Outcome, Positions, weightless
from convcalc.reference.ops._threads import in_parallel

if TYPE_CHECKING:
    from convcalc.layers.dense import Flatten, Linear
    from convcalc.results import LayerRow

__all__ = ["flatten", "linear"]

ELEMENT_BYTES = 4


@njit(cache=True, nogil=True, fastmath=DOT_FASTMATH)
def _linear_kernel(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, y: np.ndarray,
                   start: int, stop: int) -> int:
    """Fill units ``start`` to ``stop`` of ``y`` with ``x·weightᵀ + bias`` for ``x``
    (rows, in), ``weight`` (units, in); return the MACs."""
    rows, in_features = x.shape
    macs = 0
    for unit in range(start, stop):
        for row in range(rows):
            y[row, unit] = dot(weight[unit], 0, x[row], 0, in_features) + bias[unit]
            macs += in_features
    return macs


def fully_connected(x: np.ndarray, weight: np.ndarray,
                    bias: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Return ``(y, macs)`` of a fully connected layer on the last dimension of ``x``.

    ``weight`` is (units, in_features) as in PyTorch; ``y`` keeps ``x``'s leading dims.
    """
    x = as_float32(x, "x")
    weight = as_float32(weight, "weight")
    if weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"weight {weight.shape} does not take inputs of shape {x.shape}")
    units = weight.shape[0]
    rows = x.reshape(-1, x.shape[-1])
    y = np.empty((rows.shape[0], units), np.float32)
    macs = in_parallel(_linear_kernel, units, rows, weight, bias_or_zeros(bias, units), y)
    return y.reshape((*x.shape[:-1], units)), int(macs)


def flattened(x: np.ndarray) -> np.ndarray:
    """Return ``x`` (N, …) as (N, everything else), a view."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


def _run_linear(layer: Linear, x: np.ndarray, arrays: Arrays, index: int) -> Outcome:
    weight, bias = arrays.weighted(index, (layer.units, x.shape[-1]), layer.units,
                                   x.shape[-1], layer.bias)
    y, macs = fully_connected(x, weight, bias)
    return y, weight.size + (0 if bias is None else bias.size), 0, macs, None


def _probe_linear(layer: Linear, x: np.ndarray, axis: int, dims: tuple[int, ...]) -> np.ndarray:
    return fully_connected(x, np.ones((1, x.shape[-1]), np.float32), None)[0]


def _linear_scratch(layer: Linear, row: LayerRow, batch: int) -> int:
    return 0 if layer.bias else row.output_shape[0] * ELEMENT_BYTES


def _flatten(layer: Flatten, x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1)


def _probe_flatten(layer: Flatten, x: np.ndarray, axis: int,
                   dims: tuple[int, ...]) -> np.ndarray:
    return flattened(x)


linear = Op(fully_connected, _run_linear, _probe_linear, Positions.mixed,
            value_scratch=_linear_scratch)
"""``linear(x, weight, bias)`` gives ``(y, macs)``."""
flatten = Op(flattened, weightless(_flatten), _probe_flatten, Positions.mixed,
             new_output=False)
"""``flatten(x)``: (N, …) as (N, everything else), a view of ``x``."""
