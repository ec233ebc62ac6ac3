"""Normalisation layers: batchnorm.

Batchnorm is in inference form, its running statistics given. It moves no position, so
the probe gives it its input's supports (``Positions.kept``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from convcalc.reference.ops._lift import as_float32
from convcalc.reference.ops._op import Arrays, Op, Outcome, Positions
from convcalc.reference.ops._threads import in_parallel

if TYPE_CHECKING:
    from convcalc.layers.norm import BatchNorm

__all__ = ["batchnorm"]


@njit(cache=True, nogil=True)
def _batchnorm_kernel(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      running_mean: np.ndarray, running_var: np.ndarray, eps: float,
                      y: np.ndarray, start: int, stop: int) -> int:
    """Fill planes ``start`` to ``stop`` of ``y`` with ``(x − mean)/sqrt(var + eps)·gamma
    + beta`` per channel of ``x`` (N, C, S)."""
    channels, positions = x.shape[1:]
    for plane in range(start, stop):
        n = plane // channels
        c = plane % channels
        scale = gamma[c] / math.sqrt(running_var[c] + eps)
        for i in range(positions):
            y[n, c, i] = (x[n, c, i] - running_mean[c]) * scale + beta[c]
    return 0


def normalised(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
               running_var: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Return inference-mode batch normalisation of ``x`` (N, C, *spatial) per channel."""
    x = as_float32(x, "x")
    channels = x.shape[1]
    gamma, beta, running_mean, running_var = (
        as_float32(gamma, "gamma"),
        as_float32(beta, "beta"),
        as_float32(running_mean, "running_mean"),
        as_float32(running_var, "running_var"),
    )
    if any(v.shape != (channels,) for v in (gamma, beta, running_mean, running_var)):
        raise ValueError(f"batchnorm statistics must each have shape ({channels},)")
    y = np.empty_like(x)
    in_parallel(_batchnorm_kernel, x.shape[0] * channels, x.reshape(x.shape[0], channels, -1),
                gamma, beta, running_mean, running_var, float(eps),
                y.reshape(x.shape[0], channels, -1))
    return y


# --------------------------------------------------------------------------------------
# The ops


def _run_batchnorm(layer: BatchNorm, x: np.ndarray, arrays: Arrays, index: int) -> Outcome:
    channels = x.shape[1]
    gamma = arrays.uniform(index, "gamma", (channels,), 0.5, 1.5)
    beta = arrays.uniform(index, "beta", (channels,), -0.1, 0.1)
    mean = arrays.uniform(index, "running_mean", (channels,), -0.1, 0.1)
    variance = arrays.uniform(index, "running_var", (channels,), 0.5, 1.5)
    y = normalised(x, gamma, beta, mean, variance, layer.eps)
    return y, gamma.size + beta.size, mean.size + variance.size, 0, None


batchnorm = Op(normalised, _run_batchnorm, positions=Positions.kept)
"""``batchnorm(x, gamma, beta, running_mean, running_var, eps)``, inference mode."""
