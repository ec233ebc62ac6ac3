"""Layers that act on each element alone: activations, softmax, identity,
PReLU, layer scale and stochastic depth.

Every activation is one kernel (`_activation_kernel`) told which function to apply:
computed in float64 and rounded once to float32. PReLU and layer scale, which read one
learned value per channel, share `_per_channel_kernel`; stochastic depth scales whole
batch items (`_per_item_kernel`). They move no position, so the probe
gives each of them its input's supports (``Positions.kept``). Softmax mixes the channels
of one position, not positions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from convcalc.reference.ops._lift import as_float32
from convcalc.reference.ops._op import Arrays, Op, Outcome, Positions, weightless
from convcalc.reference.ops._threads import in_parallel

if TYPE_CHECKING:
    from convcalc.layers.elementwise import (
        Elu,
        LayerScale,
        LeakyRelu,
        Prelu,
        StochasticDepth,
    )

__all__ = ["elu", "gelu", "hardsigmoid", "hardswish", "identity", "layer_scale",
           "leaky_relu", "mish", "prelu", "relu", "relu6", "sigmoid", "silu", "softmax",
           "stochastic_depth", "tanh"]

# The functions `_activation_kernel` knows, by number.
_RELU, _RELU6, _LEAKY_RELU, _GELU, _SIGMOID, _SILU, _TANH, _HARDSWISH = range(8)
_ELU, _HARDSIGMOID, _MISH = range(8, 11)
# The functions `_per_channel_kernel` knows.
_PRELU, _SCALE = range(2)


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
    of ``x`` (``option``: leaky ReLU's negative slope, ELU's α).

    relu ``max(x, 0)``; relu6 ``min(max(x, 0), 6)``; leaky relu ``x`` where positive,
    ``slope·x`` elsewhere; gelu ``x/2·(1 + erf(x/√2))`` (the exact form); sigmoid
    ``1/(1 + e^−x)``; silu ``x·sigmoid(x)``; tanh; hardswish ``x·relu6(x + 3)/6``;
    elu ``x`` where positive, ``α·(e^x − 1)`` elsewhere; hardsigmoid ``relu6(x + 3)/6``;
    mish ``x·tanh(softplus(x))``, softplus ``log(1 + e^x)`` written so exp cannot
    overflow.
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
        elif function == _HARDSWISH:
            result = value * min(max(value + 3.0, 0.0), 6.0) / 6.0
        elif function == _ELU:
            result = value if value > 0 else option * math.expm1(value)
        elif function == _HARDSIGMOID:
            result = min(max(value + 3.0, 0.0), 6.0) / 6.0
        else:
            softplus = max(value, 0.0) + math.log1p(math.exp(-abs(value)))
            result = value * math.tanh(softplus)
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


@njit(cache=True, nogil=True)
def _per_channel_kernel(x: np.ndarray, weight: np.ndarray, function: int, y: np.ndarray,
                        start: int, stop: int) -> int:
    """Fill planes ``start`` to ``stop`` (batch item, channel) of ``y`` from ``x`` (N, C, S)
    and that channel's ``weight`` (or ``weight[0]`` for all, when it has one value).

    PReLU ``x`` where at least 0, ``weight·x`` elsewhere; scale ``weight·x``.
    """
    channels, positions = x.shape[1:]
    shared = weight.shape[0] == 1
    for plane in range(start, stop):
        n = plane // channels
        c = plane % channels
        factor = float(weight[0] if shared else weight[c])
        for i in range(positions):
            value = float(x[n, c, i])
            if function == _PRELU:
                y[n, c, i] = value if value >= 0 else factor * value
            else:
                y[n, c, i] = factor * value
    return 0


def _per_channel(x: np.ndarray, weight: np.ndarray, function: int, name: str,
                 shared: bool) -> np.ndarray:
    """Return ``function`` of ``x`` (N, C, *spatial) with one ``weight`` per channel, or one
    for all where ``shared`` allows it."""
    x = as_float32(x, "x")
    weight = as_float32(weight, name)
    if x.ndim < 2:
        raise ValueError(f"x must be (N, C, ...), not {x.shape}")
    channels = x.shape[1]
    allowed = {(channels,), (1,)} if shared else {(channels,)}
    if weight.shape not in allowed:
        shapes = " or ".join(str(shape) for shape in sorted(allowed))
        raise ValueError(f"{name} must have shape {shapes}, not {weight.shape}")
    y = np.empty_like(x)
    planes = (x.shape[0], channels, -1)
    in_parallel(_per_channel_kernel, x.shape[0] * channels, x.reshape(planes), weight,
                function, y.reshape(planes))
    return y


def prelu_arrays(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Return PReLU of ``x`` (N, C, *spatial): ``x`` where at least 0, ``weight·x``
    elsewhere, ``weight`` of shape (C,) (a slope per channel) or (1,) (one for all)."""
    return _per_channel(x, weight, _PRELU, "weight", shared=True)


def layer_scaled(x: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Return ``x`` (N, C, *spatial) with each channel multiplied by its ``gamma`` (C,)."""
    return _per_channel(x, gamma, _SCALE, "gamma", shared=False)


@njit(cache=True, nogil=True)
def _per_item_kernel(x: np.ndarray, factor: np.ndarray, y: np.ndarray, start: int,
                     stop: int) -> int:
    """Fill items ``start`` to ``stop`` of ``y`` (N, M) with ``x`` times that item's
    ``factor`` (or ``factor[0]`` for all, when it has one value)."""
    shared = factor.shape[0] == 1
    for n in range(start, stop):
        scale = float(factor[0] if shared else factor[n])
        for i in range(x.shape[1]):
            y[n, i] = scale * float(x[n, i])
    return 0


def stochastic_depth_arrays(x: np.ndarray, p: float, mode: str = "row",
                            keep: np.ndarray | None = None) -> np.ndarray:
    """Return stochastic depth of ``x`` (N, …): the identity at inference (``keep`` None);
    while training, ``x·keep/(1 − p)`` with ``keep`` 0 or 1 per item (mode ``row``, shape
    (N,)) or for the whole batch (mode ``batch``, shape (1,)), 0 throughout when p is 1."""
    x = as_float32(x, "x")
    if not 0 <= p <= 1:
        raise ValueError(f"p must be from 0 to 1, not {p}")
    if mode not in ("row", "batch"):
        raise ValueError(f"mode must be row or batch, not {mode!r}")
    items = x.shape[0]
    if keep is None:
        factor = np.ones(1, np.float32)
    else:
        keep = as_float32(keep, "keep")
        expected = (items,) if mode == "row" else (1,)
        if keep.shape != expected:
            raise ValueError(f"keep must have shape {expected} in mode {mode}, not {keep.shape}")
        survival = 1.0 - p
        factor = (keep / np.float32(survival) if survival > 0 else keep * 0).astype(np.float32)
    y = np.empty_like(x)
    in_parallel(_per_item_kernel, items, x.reshape(items, -1), factor, y.reshape(items, -1))
    return y


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


def _elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Return ``x`` where positive and ``alpha·(e^x − 1)`` elsewhere."""
    return _activated(x, _ELU, alpha)


def _elu_output(layer: Elu, x: np.ndarray) -> np.ndarray:
    return _elu(x, layer.alpha)


# PReLU and layer scale run with their parameters at ``init``, as the exported module
# starts: verify counts the arrays, and a layer scale of random factors would be no
# truer to the network than its own starting value.
def _run_prelu(layer: Prelu, x: np.ndarray, arrays: Arrays, index: int) -> Outcome:
    slopes = x.shape[1] if layer.per_channel else 1
    weight = np.full(slopes, layer.init, np.float32)
    return prelu_arrays(x, weight), weight.size, 0, 0, None


def _run_layer_scale(layer: LayerScale, x: np.ndarray, arrays: Arrays, index: int) -> Outcome:
    gamma = np.full(x.shape[1], layer.init, np.float32)
    return layer_scaled(x, gamma), gamma.size, 0, 0, None


def _stochastic_depth_output(layer: StochasticDepth, x: np.ndarray) -> np.ndarray:
    return stochastic_depth_arrays(x, layer.p, layer.mode)


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
hardsigmoid = _activation(_HARDSIGMOID)
"""``hardsigmoid(x)``: ``relu6(x + 3)/6``."""
mish = _activation(_MISH)
"""``mish(x)``: ``x·tanh(softplus(x))``."""
elu = Op(_elu, weightless(_elu_output), positions=Positions.kept)
"""``elu(x, alpha=1.0)``."""
prelu = Op(prelu_arrays, _run_prelu, positions=Positions.kept)
"""``prelu(x, weight)``: a slope per channel, or one for all."""
layer_scale = Op(layer_scaled, _run_layer_scale, positions=Positions.kept)
"""``layer_scale(x, gamma)``: each channel times its factor."""
stochastic_depth = Op(stochastic_depth_arrays, weightless(_stochastic_depth_output),
                      positions=Positions.kept)
"""``stochastic_depth(x, p, mode="row", keep=None)``: the identity at inference."""
