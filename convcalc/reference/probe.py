"""The receptive-field probe: which input positions reach each output unit, on arrays.

The probe runs the network's geometry with one channel and every weight 1: conv,
conv_transpose and linear with one input and one output channel and groups 1; pools,
pad and upsample as they are; layers that act on each element alone (activations,
batchnorm, dropout) pass their input on, since they move no position; merges add their
branches (a concat is summed into the one channel). For a spatial dim d, item b of a
batch is a "slab": ones at position b along d, at every position of the other dims.

Every value stays ≥ 0 and is reset to 0 or 1 after each layer (a max pool window wholly in
the padding gives −∞, which becomes 0), so an output unit is non-zero exactly when its
support contains b, and nothing overflows however deep the
network. Every layer is separable along each dim, so a unit's support along d is read
from whether it is non-zero anywhere along the other dims (which also keeps a unit that
a transposed convolution leaves empty along another dim from hiding it). The probe
stops at the first layer that mixes all positions (flatten, linear, global pooling),
where it records which slabs reach the output at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numba import njit, prange

from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.dense import Linear
from convcalc.reference import kernels
from convcalc.reference.field import Supports
from convcalc.reference.plan import Block, Leaf, Node, per_dim, window_options
from convcalc.reference.values import ELEMENTWISE, MIXES_ALL_POSITIONS, weightless

__all__ = ["GLOBAL", "Global", "ProbePass"]


class Global:
    """The probe's value past the first layer that mixes all positions."""


GLOBAL = Global()
Value = np.ndarray | Global


@njit(cache=True, parallel=True)
def _binarize_flat(flat: np.ndarray) -> None:
    """Set every positive value of ``flat`` to 1 and every other to 0, in place.

    Probe values are ≥ 0, but a max pool window that lies wholly in the padding gives −∞:
    nothing reaches that unit.
    """
    for index in prange(flat.size):
        flat[index] = 1 if flat[index] > 0 else 0


def _binarized(y: np.ndarray) -> np.ndarray:
    """Return ``y`` with positive values set to 1, others to 0 (in place when contiguous)."""
    y = np.ascontiguousarray(y)
    _binarize_flat(y.reshape(-1))
    return y


class ProbePass:
    """Runs slabs ``start`` to ``stop`` along ``dim`` and folds in each row's supports.

    Attributes:
        supports: per checked-row index, the supports along ``dim`` (shared by the
            chunks of one dim).
        covered: per checked-row index of a layer that mixes all positions, which of the
            ``width`` network-input positions reach its input (row 0) and its output
            (row 1).
    """

    def __init__(self, dim: int, start: int, stop: int, width: int,
                 supports: dict[int, Supports], covered: dict[int, np.ndarray],
                 tick: Callable[[], None]) -> None:
        self.dim, self.start, self.stop, self.width = dim, start, stop, width
        self.supports = supports
        self.covered = covered
        self.tick = tick
        # an elementwise layer passes the same array on: it is read once
        self.last_read: tuple[np.ndarray, np.ndarray] | None = None

    def input(self, spatial: tuple[int, ...]) -> np.ndarray:
        """Return the slabs: item i is ones at position start + i along dim, zeros elsewhere."""
        x = np.zeros((self.stop - self.start, 1, *spatial), np.float32)
        for item in range(self.stop - self.start):
            index: list[Any] = [item, 0] + [slice(None)] * len(spatial)
            index[2 + self.dim] = self.start + item
            x[tuple(index)] = 1
        return x

    def nodes(self, nodes: Sequence[Node], x: Value) -> Value:
        """Return the probe's value after ``nodes``, reading every row on the way."""
        for node in nodes:
            x = self.block(node, x) if isinstance(node, Block) else self.leaf(node, x)
        return x

    def block(self, block: Block, x: Value) -> Value:
        outputs = [self.nodes(body, x) if body else x for body in block.bodies]
        if block.merge is None:
            return outputs[0]
        arrays = [out for out in outputs if isinstance(out, np.ndarray)]
        if len(arrays) < len(outputs):
            self.tick()
            return GLOBAL
        # add and concat alike: the union of the branches' supports, in one channel
        y = _binarized(kernels.add(*arrays))
        self.read(block.merge.index, y)
        return y

    def leaf(self, leaf: Leaf, x: Value) -> Value:
        if isinstance(x, Global):
            self.tick()
            return GLOBAL
        layer = leaf.layer
        if isinstance(layer, ELEMENTWISE):
            y = x
        elif isinstance(layer, Conv):
            options = window_options(layer, x.shape[2:])
            y, _, _ = kernels.conv(x, np.ones((1, 1, *options.kernel), np.float32), None,
                                   options.stride, options.dilation, options.pad_before,
                                   options.pad_after, 1)
        elif isinstance(layer, ConvTranspose):
            options = window_options(layer, x.shape[2:])
            y, _ = kernels.conv_transpose(x, np.ones((1, 1, *options.kernel), np.float32),
                                          None, options.stride, options.dilation,
                                          options.pad_before,
                                          per_dim(layer.output_padding, x.ndim - 2), 1)
        elif isinstance(layer, Linear):
            y, _ = kernels.linear(x, np.ones((1, x.shape[-1]), np.float32), None)
        else:
            y = weightless(layer, x)
        if isinstance(layer, MIXES_ALL_POSITIONS):
            self.cover(leaf.index, x, y)
            return GLOBAL
        if y is not x:
            y = _binarized(y)
        self.read(leaf.index, y)
        return y

    def read(self, index: int, y: np.ndarray) -> None:
        """Fold in which slabs reach each output unit of row ``index`` along the dim."""
        if self.last_read is not None and self.last_read[0] is y:
            reached = self.last_read[1]
        else:
            others = tuple(axis for axis in range(1, y.ndim) if axis != 2 + self.dim)
            reached = np.any(y, axis=others)
            self.last_read = (y, reached)
        if index not in self.supports:
            self.supports[index] = Supports.empty(reached.shape[1])
        self.supports[index].add(reached, self.start)
        self.tick()

    def cover(self, index: int, x: np.ndarray, y: np.ndarray) -> None:
        """Record which slabs reach the input and the output of a layer that mixes all
        positions."""
        if index not in self.covered:
            self.covered[index] = np.zeros((2, self.width), bool)
        for side, array in enumerate((x, y)):
            reached = np.any(array.reshape(array.shape[0], -1), axis=1)
            self.covered[index][side, self.start:self.stop] |= reached
        self.tick()
