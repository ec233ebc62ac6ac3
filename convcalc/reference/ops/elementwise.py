"""Layers that act on each element alone: activations, softmax, identity.

Every activation is one kernel (`_activation_kernel`) told which function to apply:
computed in float64 and rounded once to float32. They move no position, so the probe
gives each of them its input's supports (``Positions.kept``). Softmax mixes the channels
of one position, not positions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from convcalc.reference.ops._lift import as_float32
from convcalc.reference.ops._op import Op, Positions, weightless
from convcalc.reference.ops._threads import in_parallel

if TYPE_CHECKING:
    from convcalc.layers.elementwise import LeakyRelu

__all__ = ["gelu", "hardswish", "identity", "leaky_relu", "relu", "relu6", "sigmoid", "silu",
           "softmax", "tanh"]

# The functions `_activation_kernel` knows, by number.
_RELU, _RELU6, _LEAKY_RELU, _GELU, _SIGMOID, _SILU, _TANH, _HARDSWISH = range(8)


@njit(cache=True, nogil=True)
def _logistic(value: float) -> float:
    """Return ``1/(1 + e^−value)`` without overflowing ``exp`` for large |value|."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp_value = math.exp(value)
    return exp_value / (1.0 + exp_value)


@njit(cache=True, nogil=True)
def _activation_kernel(x: np.ndarray, y: np.ndarray, function: int, option: float,
                       start: int, stop: int) -> int:
    """Fill elements ``start`` to ``stop`` of the flat ``y`` with activation ``function``
    of ``x`` (``option``: leaky ReLU's negative slope).

    relu ``max(x, 0)``; relu6 ``min(max(x, 0), 6)``; leaky relu ``x`` where positive,
    ``slope·x`` elsewhere; gelu ``x/2·(1 + erf(x/√2))`` (the exact form); sigmoid
    ``1/(1 + e^−x)``; silu ``x·sigmoid(x)``; tanh; hardswish ``x·relu6(x + 3)/6``.
    """
    for i in range(start, stop):
        value = float(x[i])
        if function == _RELU:
            result = value if value > 0 else 0.0
        elif function == _RELU6:
            result = min(max(value, 0.0), 6.0)
        elif function == _LEAKY_RELU:
            result = value if value > 0 else option * value
        elif function == _GELU:
            result = 0.5 * value * (1.0 + math.erf(value / math.sqrt(2.0)))
        elif function == _SIGMOID:
            result = _logistic(value)
        elif function == _SILU:
            result = value * _logistic(value)
        elif function == _TANH:
            result = math.tanh(value)
        else:
            result = value * min(max(value + 3.0, 0.0), 6.0) / 6.0
        y[i] = result
    return 0


def _activated(x: np.ndarray, function: int, option: float = 0.0) -> np.ndarray:
    """Return activation ``function`` of every element of ``x`` (a new array)."""
    x = as_float32(x, "x")
    y = np.empty_like(x)
    in_parallel(_activation_kernel, x.size, x.reshape(-1), y.reshape(-1), function,
                float(option))
    return y


@njit(cache=True, nogil=True)
def _softmax_kernel(x: np.ndarray, y: np.ndarray, start: int, stop: int) -> int:
    """Fill items ``start`` to ``stop`` (batch item, position) of ``y`` with the softmax of
    ``x`` (N, C, S) over C, shifted by the max so exp cannot overflow."""
    channels, positions = x.shape[1:]
    for item in range(start, stop):
        n = item // positions
        i = item % positions
        largest = -np.inf
        for c in range(channels):
            largest = max(largest, float(x[n, c, i]))
        total = 0.0
        for c in range(channels):
            total += math.exp(float(x[n, c, i]) - largest)
        for c in range(channels):
            y[n, c, i] = math.exp(float(x[n, c, i]) - largest) / total
    return 0


def softmax_arrays(x: np.ndarray) -> np.ndarray:
    """Return the softmax of ``x`` (N, C, *spatial) over the channel dimension."""
    x = as_float32(x, "x")
    if x.ndim < 2:
        raise ValueError(f"softmax needs x of shape (N, C, ...), not {x.shape}")
    y = np.empty_like(x)
    planes = (x.shape[0], x.shape[1], -1)
    x3 = x.reshape(planes)
    in_parallel(_softmax_kernel, x3.shape[0] * x3.shape[2], x3, y.reshape(planes))
    return y


def copied(x: np.ndarray) -> np.ndarray:
    """Return a copy of ``x``."""
    return as_float32(x, "x").copy()


# --------------------------------------------------------------------------------------
# The ops


def _activation(function: int) -> Op[[np.ndarray], np.ndarray]:
    def kernel(x: np.ndarray) -> np.ndarray:
        return _activated(x, function)

    def output(layer: Any, x: np.ndarray) -> np.ndarray:
        return _activated(x, function)

    return Op(kernel, weightless(output), positions=Positions.kept)


def _leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Return ``x`` where positive and ``negative_slope·x`` elsewhere."""
    return _activated(x, _LEAKY_RELU, negative_slope)


def _leaky_relu_output(layer: LeakyRelu, x: np.ndarray) -> np.ndarray:
    return _leaky_relu(x, layer.negative_slope)


def _softmax_output(layer: Any, x: np.ndarray) -> np.ndarray:
    return softmax_arrays(x)


def _identity_output(layer: Any, x: np.ndarray) -> np.ndarray:
    return copied(x)


relu = _activation(_RELU)
"""``relu(x)``: ``max(x, 0)``."""
relu6 = _activation(_RELU6)
"""``relu6(x)``: ``min(max(x, 0), 6)``."""
gelu = _activation(_GELU)
"""``gelu(x)``: the exact (erf) GELU, ``x/2·(1 + erf(x/√2))``."""
silu = _activation(_SILU)
"""``silu(x)``: ``x·sigmoid(x)``."""
sigmoid = _activation(_SIGMOID)
"""``sigmoid(x)``: ``1/(1 + e^−x)``."""
tanh = _activation(_TANH)
"""``tanh(x)``."""
hardswish = _activation(_HARDSWISH)
"""``hardswish(x)``: ``x·relu6(x + 3)/6``."""
leaky_relu = Op(_leaky_relu, weightless(_leaky_relu_output), positions=Positions.kept)
"""``leaky_relu(x, negative_slope=0.01)``."""
softmax = Op(softmax_arrays, weightless(_softmax_output), positions=Positions.kept)
"""``softmax(x)``: over the channels of each position."""
identity = Op(copied, weightless(_identity_output), positions=Positions.kept)
"""``identity(x)``: a copy of ``x`` (dropout at inference, too)."""
