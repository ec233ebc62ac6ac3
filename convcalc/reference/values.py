"""The value pass: every layer run by its kernel on random float32 arrays.

Inputs are uniform with unit variance, weights He-uniform (±√(6/fan_in), so activations
keep their scale through deep stacks of ReLU layers), biases ±1/√fan_in as PyTorch
initialises them, BatchNorm statistics near the identity. All come from `arrays.uniform`
with a stream per row and array, so a seed gives the same arrays on any machine.

For each row the pass records what the arrays show: the output's shape, the sizes of the
parameter arrays handed to the kernel, the MACs the kernel counted, the taps that read
padding, and whether every output value is finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from convcalc.layers import LayerSpec
from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.dense import Flatten, Linear
from convcalc.layers.elementwise import Activation, BatchNorm, Dropout, LeakyRelu
from convcalc.layers.pool import AdaptivePool, AvgPool, GlobalPool, MaxPool
from convcalc.layers.resample import Pad, Upsample
from convcalc.reference import kernels
from convcalc.reference.arrays import stream_key, uniform
from convcalc.reference.plan import Block, Leaf, Merge, Node, per_dim, window_options
from convcalc.reference.results import ParamCount

__all__ = ["ELEMENTWISE", "MIXES_ALL_POSITIONS", "KernelFailed", "Measured", "ValuePass",
           "weightless"]

MIXES_ALL_POSITIONS = (Flatten, Linear, GlobalPool)
"""Layers after which no output depends on one position more than another."""
ELEMENTWISE = (Activation, LeakyRelu, BatchNorm, Dropout)
"""Layers that act on each element alone: they move no position."""


class KernelFailed(Exception):
    """A kernel refused a layer the calculator accepted; the pass stops there."""


@dataclass(frozen=True)
class Measured:
    """What one row's kernel did.

    Attributes:
        shape: the output array's shape.
        params: the elements of the parameter arrays handed to the kernel.
        macs: the kernel's MAC counter (0 for kernels that do no weight MACs).
        padded_taps: MACs that read a padding zero (conv only).
        finite: no output value is NaN or infinite.
    """

    shape: tuple[int, ...]
    params: ParamCount
    macs: int
    padded_taps: int | None
    finite: bool


# (output, trainable elements, non-trainable elements, MACs, padded taps)
Outcome = tuple[np.ndarray, int, int, int, int | None]


class ValuePass:
    """Runs every layer on real arrays and records what each row's kernel did.

    Attributes:
        measured: per checked-row index, what its kernel did.
        errors: per checked-row index, why its kernel refused the layer.
    """

    def __init__(self, seed: int, tick: Callable[[], None]) -> None:
        self.seed = seed
        self.tick = tick
        self.measured: dict[int, Measured] = {}
        self.errors: dict[int, str] = {}

    def input(self, shape: tuple[int, ...]) -> np.ndarray:
        """Return the network input: ``shape`` with the batch, uniform with unit variance."""
        bound = math.sqrt(3)
        return uniform(shape, stream_key(self.seed, "input"), -bound, bound)

    def nodes(self, nodes: Sequence[Node], x: np.ndarray) -> np.ndarray:
        """Return the output of ``nodes`` run on ``x``; raises KernelFailed."""
        for node in nodes:
            x = self.block(node, x) if isinstance(node, Block) else self.leaf(node, x)
        return x

    def block(self, block: Block, x: np.ndarray) -> np.ndarray:
        outputs = [self.nodes(body, x) if body else x for body in block.bodies]
        if block.merge is None:
            return outputs[0]
        merge = kernels.add if block.merge.kind == "add" else kernels.concat
        return self.record(block.merge, lambda: (merge(*outputs), 0, 0, 0, None))

    def leaf(self, leaf: Leaf, x: np.ndarray) -> np.ndarray:
        return self.record(leaf, lambda: self.run(leaf.layer, x, leaf.index))

    def record(self, step: Leaf | Merge, run: Callable[[], Outcome]) -> np.ndarray:
        try:
            y, trainable, non_trainable, macs, padded_taps = run()
        except (ValueError, TypeError, IndexError, ZeroDivisionError) as error:
            self.errors[step.index] = str(error)
            raise KernelFailed from None
        # min and max carry a NaN or an infinity through, without a temporary array
        finite = y.size == 0 or bool(np.isfinite(y.min()) and np.isfinite(y.max()))
        params = ParamCount(trainable=trainable, non_trainable=non_trainable)
        self.measured[step.index] = Measured(tuple(y.shape), params, macs, padded_taps,
                                             finite)
        self.tick()
        return y

    def uniform(self, index: int, name: str, shape: tuple[int, ...], low: float,
                high: float) -> np.ndarray:
        """Return row ``index``'s array ``name``: uniform in [low, high), from the seed."""
        return uniform(shape, stream_key(self.seed, index, name), low, high)

    def weighted(self, index: int, weight_shape: tuple[int, ...], units: int, fan_in: int,
                 bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Return He-uniform weights and, if asked, PyTorch-style biases for row ``index``."""
        weight = self.uniform(index, "weight", weight_shape, -math.sqrt(6 / fan_in),
                              math.sqrt(6 / fan_in))
        if not bias:
            return weight, None
        bound = 1 / math.sqrt(fan_in)
        return weight, self.uniform(index, "bias", (units,), -bound, bound)

    def run(self, layer: LayerSpec, x: np.ndarray, index: int) -> Outcome:
        """Return the output and what the kernel needed and counted for one layer."""
        channels = x.shape[1]
        if isinstance(layer, Conv):
            options = window_options(layer, x.shape[2:])
            per_group = channels // layer.groups
            weight, bias = self.weighted(index, (layer.filters, per_group, *options.kernel),
                                         layer.filters, per_group * math.prod(options.kernel),
                                         layer.bias)
            y, macs, padded_taps = kernels.conv(x, weight, bias, options.stride,
                                                options.dilation, options.pad_before,
                                                options.pad_after, layer.groups)
            return y, weight.size + _size(bias), 0, macs, padded_taps
        if isinstance(layer, ConvTranspose):
            options = window_options(layer, x.shape[2:])
            # each output sums about C/groups·∏K/∏S products
            fan_in = max(channels // layer.groups * math.prod(options.kernel)
                         // math.prod(options.stride), 1)
            weight, bias = self.weighted(
                index, (channels, layer.filters // layer.groups, *options.kernel),
                layer.filters, fan_in, layer.bias)
            y, macs = kernels.conv_transpose(x, weight, bias, options.stride,
                                             options.dilation, options.pad_before,
                                             per_dim(layer.output_padding, x.ndim - 2),
                                             layer.groups)
            return y, weight.size + _size(bias), 0, macs, None
        if isinstance(layer, Linear):
            weight, bias = self.weighted(index, (layer.units, x.shape[-1]), layer.units,
                                         x.shape[-1], layer.bias)
            y, macs = kernels.linear(x, weight, bias)
            return y, weight.size + _size(bias), 0, macs, None
        if isinstance(layer, BatchNorm):
            gamma = self.uniform(index, "gamma", (channels,), 0.5, 1.5)
            beta = self.uniform(index, "beta", (channels,), -0.1, 0.1)
            mean = self.uniform(index, "running_mean", (channels,), -0.1, 0.1)
            variance = self.uniform(index, "running_var", (channels,), 0.5, 1.5)
            y = kernels.batchnorm(x, gamma, beta, mean, variance, layer.eps)
            return y, gamma.size + beta.size, mean.size + variance.size, 0, None
        return weightless(layer, x), 0, 0, 0, None


def _size(array: np.ndarray | None) -> int:
    return 0 if array is None else array.size


def weightless(layer: LayerSpec, x: np.ndarray) -> np.ndarray:
    """Return the output of a layer without parameters (the probe runs these too).

    Raises ValueError for a layer type that has no reference kernel.
    """
    rank = x.ndim - 2
    if isinstance(layer, MaxPool):
        options = window_options(layer, x.shape[2:])
        return kernels.max_pool(x, options.kernel, options.stride, options.dilation,
                                options.pad_before, options.pad_after, layer.ceil_mode)
    if isinstance(layer, AvgPool):
        options = window_options(layer, x.shape[2:])
        return kernels.avg_pool(x, options.kernel, options.stride, options.pad_before,
                                options.pad_after, layer.ceil_mode, layer.count_include_pad)
    if isinstance(layer, AdaptivePool):
        adaptive = (kernels.adaptive_avg_pool if layer.type == "adaptive_avgpool"
                    else kernels.adaptive_max_pool)
        return adaptive(x, per_dim(layer.output, rank))
    if isinstance(layer, GlobalPool):
        pool = (kernels.global_avg_pool if layer.type == "global_avgpool"
                else kernels.global_max_pool)
        return pool(x)
    if isinstance(layer, Flatten):
        return x.reshape(x.shape[0], -1)
    if isinstance(layer, Pad):
        options = window_options(layer, x.shape[2:])
        return kernels.pad(x, options.pad_before, options.pad_after)
    if isinstance(layer, Upsample):
        if layer.size is not None:
            return kernels.upsample(x, size=per_dim(layer.size, rank), mode=layer.mode)
        scale = tuple(float(s) for s in per_dim(layer.scale, rank))  # type: ignore[arg-type]
        return kernels.upsample(x, scale=scale, mode=layer.mode)
    if isinstance(layer, Dropout):
        return kernels.identity(x)
    if isinstance(layer, LeakyRelu):
        return kernels.leaky_relu(x, layer.negative_slope)
    if isinstance(layer, Activation):
        activation: Callable[[np.ndarray], np.ndarray] = getattr(kernels, layer.type)
        return activation(x)
    raise ValueError(f"verify has no reference kernel for layer type {layer.type}")
