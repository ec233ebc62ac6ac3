"""Normalisation layers: batchnorm, layernorm, groupnorm and instancenorm.

Batchnorm (and instancenorm with running statistics) is in inference form, its running
statistics given. Layernorm, groupnorm and instancenorm without running statistics take
the mean and the (biased) variance of each group from the input: two passes in float64,
rounded once to float32. None moves a position, so the probe gives each its input's
supports (``Positions.kept``), the local field the calculator reports.
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
    from convcalc.layers.norm import BatchNorm, GroupNorm, InstanceNorm, LayerNorm

__all__ = ["batchnorm", "groupnorm", "instancenorm", "layernorm"]


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


@njit(cache=True, nogil=True)
def _layernorm_kernel(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, scaled: bool,
                      shifted: bool, eps: float, y: np.ndarray, start: int, stop: int) -> int:
    """Fill items ``start`` to ``stop`` (batch item, position) of ``y`` with ``x`` (N, C, S)
    normalised over its C channels there, then ``·weight[c]`` and ``+ bias[c]`` if asked."""
    channels, positions = x.shape[1:]
    for item in range(start, stop):
        n = item // positions
        i = item % positions
        total = 0.0
        for c in range(channels):
            total += float(x[n, c, i])
        mean = total / channels
        squares = 0.0
        for c in range(channels):
            squares += (float(x[n, c, i]) - mean) ** 2
        deviation = math.sqrt(squares / channels + eps)
        for c in range(channels):
            value = (float(x[n, c, i]) - mean) / deviation
            if scaled:
                value *= weight[c]
            if shifted:
                value += bias[c]
            y[n, c, i] = value
    return 0


@njit(cache=True, nogil=True)
def _groupnorm_kernel(x: np.ndarray, groups: int, weight: np.ndarray, bias: np.ndarray,
                      affine: bool, eps: float, y: np.ndarray, start: int, stop: int) -> int:
    """Fill items ``start`` to ``stop`` (batch item, group) of ``y`` with ``x`` (N, C, S)
    normalised over the group's C/groups channels and S positions, then
    ``·weight[c] + bias[c]`` if ``affine``."""
    channels, positions = x.shape[1:]
    per_group = channels // groups
    count = per_group * positions
    for item in range(start, stop):
        n = item // groups
        first = (item % groups) * per_group
        total = 0.0
        for c in range(first, first + per_group):
            for i in range(positions):
                total += float(x[n, c, i])
        mean = total / count
        squares = 0.0
        for c in range(first, first + per_group):
            for i in range(positions):
                squares += (float(x[n, c, i]) - mean) ** 2
        deviation = math.sqrt(squares / count + eps)
        for c in range(first, first + per_group):
            for i in range(positions):
                value = (float(x[n, c, i]) - mean) / deviation
                if affine:
                    value = value * weight[c] + bias[c]
                y[n, c, i] = value
    return 0


def _per_channel(array: np.ndarray | None, name: str, channels: int) -> np.ndarray:
    """Return a per-channel array checked, or an empty one standing in for None (so a
    kernel compiles once for both cases)."""
    if array is None:
        return np.empty(0, np.float32)
    array = as_float32(array, name)
    if array.shape != (channels,):
        raise ValueError(f"{name} must have shape ({channels},), not {array.shape}")
    return array


def _planes(x: np.ndarray, minimum_rank: int, layer: str) -> np.ndarray:
    """Return float32 ``x`` (N, C, *spatial) checked, as (N, C, S)."""
    x = as_float32(x, "x")
    if x.ndim < minimum_rank:
        shape = "(N, C, ...)" if minimum_rank == 2 else "(N, C, *spatial)"
        raise ValueError(f"{layer} needs x of shape {shape}, not {x.shape}")
    return x.reshape(x.shape[0], x.shape[1], -1)


def layer_normalised(x: np.ndarray, weight: np.ndarray | None = None,
                     bias: np.ndarray | None = None, eps: float = 1e-5) -> np.ndarray:
    """Return ``x`` (N, C, *spatial) or (N, C) normalised over the channels at each
    position, then scaled by ``weight`` and shifted by ``bias`` per channel if given."""
    x = as_float32(x, "x")  # C-contiguous, so that y's reshape is a view
    planes = _planes(x, 2, "layernorm")
    channels = planes.shape[1]
    weight, bias = _per_channel(weight, "weight", channels), _per_channel(bias, "bias", channels)
    y = np.empty_like(x)
    in_parallel(_layernorm_kernel, planes.shape[0] * planes.shape[2], planes, weight, bias,
                weight.size > 0, bias.size > 0, float(eps), y.reshape(planes.shape))
    return y


def group_normalised(x: np.ndarray, groups: int, weight: np.ndarray | None = None,
                     bias: np.ndarray | None = None, eps: float = 1e-5) -> np.ndarray:
    """Return ``x`` (N, C, *spatial) or (N, C) normalised over each of ``groups`` groups
    of channels (and every position), then ``·weight + bias`` per channel if given (both
    or neither)."""
    x = as_float32(x, "x")  # C-contiguous, so that y's reshape is a view
    planes = _planes(x, 2, "groupnorm")
    channels = planes.shape[1]
    if groups < 1 or channels % groups:
        raise ValueError(f"groups must divide the {channels} channels, not be {groups}")
    weight, bias = _per_channel(weight, "weight", channels), _per_channel(bias, "bias", channels)
    if weight.size != bias.size:
        raise ValueError("groupnorm takes both weight and bias, or neither")
    y = np.empty_like(x)
    in_parallel(_groupnorm_kernel, planes.shape[0] * groups, planes, int(groups), weight, bias,
                weight.size > 0, float(eps), y.reshape(planes.shape))
    return y


def instance_normalised(x: np.ndarray, weight: np.ndarray | None = None,
                        bias: np.ndarray | None = None, eps: float = 1e-5) -> np.ndarray:
    """Return ``x`` (N, C, *spatial) with each channel of each sample normalised over its
    positions (groupnorm with one group per channel), then ``·weight + bias`` if given."""
    channels = _planes(x, 3, "instancenorm").shape[1]
    return group_normalised(x, channels, weight, bias, eps)


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


def _run_layernorm(layer: LayerNorm, x: np.ndarray, arrays: Arrays, index: int) -> Outcome:
    channels = x.shape[1]
    weight = arrays.uniform(index, "gamma", (channels,), 0.5, 1.5) if layer.affine else None
    bias = (arrays.uniform(index, "beta", (channels,), -0.1, 0.1)
            if layer.affine and layer.bias else None)
    y = layer_normalised(x, weight, bias, layer.eps)
    return y, sum(a.size for a in (weight, bias) if a is not None), 0, 0, None


def _affine(layer: GroupNorm | InstanceNorm, channels: int, arrays: Arrays,
            index: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Return γ and β of an affine layer from the pass's streams, or None and None."""
    if not layer.affine:
        return None, None
    return (arrays.uniform(index, "gamma", (channels,), 0.5, 1.5),
            arrays.uniform(index, "beta", (channels,), -0.1, 0.1))


def _run_groupnorm(layer: GroupNorm, x: np.ndarray, arrays: Arrays, index: int) -> Outcome:
    weight, bias = _affine(layer, x.shape[1], arrays, index)
    y = group_normalised(x, layer.groups, weight, bias, layer.eps)
    return y, 2 * x.shape[1] if layer.affine else 0, 0, 0, None


def _run_instancenorm(layer: InstanceNorm, x: np.ndarray, arrays: Arrays,
                      index: int) -> Outcome:
    channels = x.shape[1]
    weight, bias = _affine(layer, channels, arrays, index)
    trainable = 2 * channels if layer.affine else 0
    if not layer.track_running_stats:
        return instance_normalised(x, weight, bias, layer.eps), trainable, 0, 0, None
    # inference with the running statistics: batchnorm's form, γ = 1 and β = 0 without affine
    mean = arrays.uniform(index, "running_mean", (channels,), -0.1, 0.1)
    variance = arrays.uniform(index, "running_var", (channels,), 0.5, 1.5)
    y = normalised(x, np.ones(channels, np.float32) if weight is None else weight,
                   np.zeros(channels, np.float32) if bias is None else bias, mean, variance,
                   layer.eps)
    return y, trainable, mean.size + variance.size, 0, None


layernorm = Op(layer_normalised, _run_layernorm, positions=Positions.kept)
"""``layernorm(x, weight=None, bias=None, eps=1e-5)``: over the channels at each position."""
groupnorm = Op(group_normalised, _run_groupnorm, positions=Positions.kept)
"""``groupnorm(x, groups, weight=None, bias=None, eps=1e-5)``."""
instancenorm = Op(instance_normalised, _run_instancenorm, positions=Positions.kept)
"""``instancenorm(x, weight=None, bias=None, eps=1e-5)``, each sample's own statistics (the
op's run uses the running statistics when the layer keeps them)."""
