"""Resampling: zero padding and upsampling, their kernels and their ops."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from convcalc.reference.ops._lift import KERNEL_RANK, IntPerDim, lift, lift_values, per_dim
from convcalc.reference.ops._op import Op, weightless
from convcalc.reference.ops._threads import in_parallel
from convcalc.reference.ops._window import only, padded, spatial_per_dim, window_options

if TYPE_CHECKING:
    from convcalc.layers.resample import Pad, Upsample
    from convcalc.results import LayerRow

__all__ = ["TAP_TABLE_BYTES", "pad", "tap_tables", "upsample"]

TAP_TABLE_BYTES = 2 * (8 + 8)
"""Resampling's tables per output index of a dim: two int64 sources, two float64 weights."""


def zero_padded(x: np.ndarray, pad_before: IntPerDim, pad_after: IntPerDim) -> np.ndarray:
    """Return ``x`` with ``pad_before``/``pad_after`` zeros on each side of each spatial dim."""
    lifted = lift(x)
    before = lifted.options(pad_before, "pad_before", 0)
    after = lifted.options(pad_after, "pad_after", 0)
    return lifted.drop(padded(lifted.x, before, after))


@njit(cache=True, nogil=True)
def _source_taps(
    in_length: int, source_scale: float, linear: bool, index: np.ndarray, weight: np.ndarray
) -> None:
    """Fill ``index`` and ``weight`` (zeros, each (2, out)): output o is the weighted sum of
    2 inputs.

    ``source_scale`` is input length per output element. Both rules are PyTorch's, in its
    float32 arithmetic: ``nearest`` reads ``min(floor(o·scale), L − 1)``; ``linear``
    (align_corners=False) reads around ``max(scale·(o + ½) − ½, 0)``.

    Where a scale factor that is not 1 still gives an output as long as the input, PyTorch's
    linear modes copy that dimension, and so does this kernel. PyTorch's 2-D nearest
    kernel alone also short-cuts that case and an output twice the input (``o >> 1``); its
    1-D and 3-D nearest kernels follow the rule above, and so does this one.
    """
    out_length = index.shape[1]
    scale = np.float32(source_scale)
    for o in range(out_length):
        if not linear:
            source = min(math.floor(np.float32(o) * scale), in_length - 1)
            index[0, o] = source
            index[1, o] = source
            weight[0, o] = 1.0
        elif out_length == in_length:
            index[0, o] = o
            index[1, o] = o
            weight[0, o] = 1.0
        else:
            position = scale * (np.float32(o) + np.float32(0.5)) - np.float32(0.5)
            position = max(position, np.float32(0.0))
            below = min(int(position), in_length - 1)
            above = below + 1 if below < in_length - 1 else below
            above_weight = min(max(float(position) - below, 0.0), 1.0)
            index[0, o] = below
            index[1, o] = above
            weight[0, o] = 1.0 - above_weight
            weight[1, o] = above_weight


def tap_tables(
    in_length: int, out_length: int, source_scale: float, linear: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(index, weight)``, each (2, out), of one dim (see `_source_taps`)."""
    index = np.zeros((2, out_length), np.int64)
    weight = np.zeros((2, out_length), np.float64)
    _source_taps(in_length, source_scale, linear, index, weight)
    return index, weight


@njit(cache=True, nogil=True)
def _upsample_kernel(
    x: np.ndarray,
    y: np.ndarray,
    index_d: np.ndarray,
    weight_d: np.ndarray,
    index_h: np.ndarray,
    weight_h: np.ndarray,
    index_w: np.ndarray,
    weight_w: np.ndarray,
    start: int,
    stop: int,
) -> int:
    """Fill planes ``start`` to ``stop`` of ``y`` with ``x`` (N, C, D, H, W) resampled by
    the tap tables of each dim."""
    channels = x.shape[1]
    output_size = y.shape[2:]
    for plane in range(start, stop):
        n = plane // channels
        c = plane % channels
        for od in range(output_size[0]):
            for oh in range(output_size[1]):
                for ow in range(output_size[2]):
                    total = 0.0
                    for a in range(2):
                        for b in range(2):
                            for e in range(2):
                                total += (
                                    weight_d[a, od]
                                    * weight_h[b, oh]
                                    * weight_w[e, ow]
                                    * x[n, c, index_d[a, od], index_h[b, oh], index_w[e, ow]]
                                )
                    y[n, c, od, oh, ow] = total
    return 0


def resampled(
    x: np.ndarray,
    scale: float | Sequence[float] | None = None,
    size: IntPerDim | None = None,
    mode: str = "nearest",
) -> np.ndarray:
    """Return ``x`` resized by ``scale`` or to ``size`` as PyTorch's ``interpolate`` does.

    ``mode`` is ``nearest`` or ``linear`` (linear, bilinear or trilinear by the rank of
    ``x``, align_corners=False). With ``scale`` the output is ``floor(in·scale)`` and the
    source index uses ``1/scale``; with ``size`` it uses ``in/out``.
    """
    if mode not in ("nearest", "linear"):
        raise ValueError(f"mode must be 'nearest' or 'linear', not {mode!r}")
    if (scale is None) == (size is None):
        raise ValueError("give exactly one of scale and size")
    lifted = lift(x)
    x5, rank = lifted.x, lifted.rank
    in_size = x.shape[2:]
    if size is not None:
        out_size = per_dim(size, rank, "size")
        source_scales = tuple(length / out for length, out in zip(in_size, out_size, strict=True))
    elif scale is not None:
        if isinstance(scale, int | float):
            scales: tuple[float, ...] = (float(scale),) * rank
        else:
            scales = tuple(float(s) for s in scale)
        if len(scales) != rank:
            raise ValueError(f"scale needs {rank} values, one per spatial dimension")
        out_size = tuple(math.floor(length * s) for length, s in zip(in_size, scales, strict=True))
        source_scales = tuple(1.0 / s for s in scales)
    lifted_size = lift_values(out_size, 1)
    tables = [tap_tables(length, out, scale_of, mode == "linear") for length, out, scale_of
              in zip(x5.shape[2:], lifted_size, lift_values(source_scales, 1.0), strict=True)]
    y = np.empty(x5.shape[:2] + lifted_size, np.float32)
    in_parallel(_upsample_kernel, x5.shape[0] * x5.shape[1], x5, y, *tables[0], *tables[1],
                *tables[2])
    return lifted.drop(y)


# --------------------------------------------------------------------------------------
# The ops


def _pad(layer: Pad, x: np.ndarray) -> np.ndarray:
    options = window_options(layer, x.shape[2:], padding_only=True)
    return zero_padded(x, options.pad_before, options.pad_after)


def _probe_pad(layer: Pad, x: np.ndarray, axis: int, dims: tuple[int, ...]) -> np.ndarray:
    options = window_options(layer, dims, padding_only=True)
    return zero_padded(x, only(options.pad_before, axis, 0), only(options.pad_after, axis, 0))


def _scales(layer: Upsample, rank: int) -> tuple[float, ...]:
    assert layer.scale is not None
    return tuple(float(s) for s in spatial_per_dim(layer.scale, rank))


def _upsample(layer: Upsample, x: np.ndarray) -> np.ndarray:
    rank = x.ndim - 2
    if layer.size is not None:
        return resampled(x, size=spatial_per_dim(layer.size, rank), mode=layer.mode)
    return resampled(x, scale=_scales(layer, rank), mode=layer.mode)


def _probe_upsample(layer: Upsample, x: np.ndarray, axis: int,
                    dims: tuple[int, ...]) -> np.ndarray:
    if layer.size is not None:
        return resampled(x, size=only(spatial_per_dim(layer.size, len(dims)), axis, 1),
                         mode=layer.mode)
    return resampled(x, scale=only(_scales(layer, len(dims)), axis, 1.0), mode=layer.mode)


def _tap_table_bytes(layer: Upsample, row: LayerRow) -> int:
    out = row.output_shape[1:]
    return TAP_TABLE_BYTES * (sum(out) + KERNEL_RANK - len(out))


def _upsample_scratch(layer: Upsample, row: LayerRow, batch: int) -> int:
    return _tap_table_bytes(layer, row)


pad = Op(zero_padded, weightless(_pad), _probe_pad)
"""``pad(x, pad_before, pad_after)``: zeros on each side of each spatial dim."""
upsample = Op(resampled, weightless(_upsample), _probe_upsample, tables=_tap_table_bytes,
              value_scratch=_upsample_scratch)
"""``upsample(x, scale=None, size=None, mode="nearest")``: PyTorch's ``interpolate``."""
