"""Layers that move or select channels: the channel shuffle and the channel slice.

Each copies values and computes nothing; the output is a new array, channels first like
the input. They move no position, so the probe gives each of them its input's supports
(``Positions.kept``): its one-channel arrays have no channels to move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from convcalc.reference.ops._lift import as_float32
from convcalc.reference.ops._op import Op, Positions, weightless
from convcalc.reference.ops._threads import in_parallel

if TYPE_CHECKING:
    from convcalc.layers.channels import ChannelShuffle, Slice

__all__ = ["channel_shuffle", "channel_slice"]


@njit(cache=True, nogil=True)
def _shuffle_kernel(x: np.ndarray, y: np.ndarray, groups: int, start: int, stop: int) -> int:
    """Fill planes ``start`` to ``stop`` (batch item, output channel) of ``y`` (N, C, S)
    with input channel ``(c mod groups)·(C/groups) + c div groups`` of ``x``."""
    channels = x.shape[1]
    per_group = channels // groups
    for plane in range(start, stop):
        n = plane // channels
        c = plane % channels
        source = (c % groups) * per_group + c // groups
        for i in range(x.shape[2]):
            y[n, c, i] = x[n, source, i]
    return 0


def shuffled(x: np.ndarray, groups: int) -> np.ndarray:
    """Return ``x`` (N, C, *spatial) with its channels as ``groups`` × C/groups, transposed."""
    x = as_float32(x, "x")
    if x.ndim < 3:
        raise ValueError(f"channel_shuffle needs x of shape (N, C, *spatial), not {x.shape}")
    channels = x.shape[1]
    if groups < 1 or channels % groups:
        raise ValueError(f"groups={groups} must divide the {channels} channels")
    y = np.empty_like(x)
    planes = (x.shape[0], channels, -1)
    in_parallel(_shuffle_kernel, x.shape[0] * channels, x.reshape(planes), y.reshape(planes),
                int(groups))
    return y


@njit(cache=True, nogil=True)
def _slice_kernel(x: np.ndarray, y: np.ndarray, first: int, start: int, stop: int) -> int:
    """Fill planes ``start`` to ``stop`` (batch item, output channel) of ``y`` (N, K, S)
    with channel ``first + c`` of ``x`` (N, C, S)."""
    kept = y.shape[1]
    for plane in range(start, stop):
        n = plane // kept
        c = plane % kept
        for i in range(x.shape[2]):
            y[n, c, i] = x[n, first + c, i]
    return 0


def sliced(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Return channels ``start`` to ``stop`` (stop exclusive) of ``x`` (N, C, …), a copy."""
    x = as_float32(x, "x")
    if x.ndim < 2:
        raise ValueError(f"slice needs x of shape (N, C, ...), not {x.shape}")
    channels = x.shape[1]
    if not 0 <= start < stop <= channels:
        raise ValueError(f"channels [{start}, {stop}] must satisfy 0 ≤ start < stop ≤ "
                         f"{channels}")
    y = np.empty((x.shape[0], stop - start, *x.shape[2:]), np.float32)
    in_parallel(_slice_kernel, x.shape[0] * (stop - start), x.reshape(x.shape[0], channels, -1),
                y.reshape(x.shape[0], stop - start, -1), int(start))
    return y


def _shuffle_output(layer: ChannelShuffle, x: np.ndarray) -> np.ndarray:
    return shuffled(x, layer.groups)


def _slice_output(layer: Slice, x: np.ndarray) -> np.ndarray:
    start, stop = layer.channels
    return sliced(x, start, stop)


channel_shuffle = Op(shuffled, weightless(_shuffle_output), positions=Positions.kept)
"""``channel_shuffle(x, groups)``: output channel ``i`` is input channel
``(i mod groups)·(C/groups) + ⌊i/groups⌋``."""
channel_slice = Op(sliced, weightless(_slice_output), positions=Positions.kept)
"""``channel_slice(x, start, stop)``: channels ``start`` to ``stop``, stop exclusive."""
