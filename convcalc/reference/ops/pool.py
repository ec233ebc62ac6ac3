"""Pooling: max, average, adaptive and global, their kernels and their ops.

Padding counts as −∞ for a max pool and, by ``count_include_pad``, in an average's
divisor or not, as in PyTorch; the windows are placed by `place_windows` on the padded
input, not by the calculator's formula. Adaptive windows are PyTorch's,
``[floor(o·L/O), ceil((o+1)·L/O))``; a global pool is an adaptive one to size 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from convcalc.reference.ops._lift import KERNEL_RANK, IntPerDim, lift
from convcalc.reference.ops._op import Op, Positions, weightless
from convcalc.reference.ops._threads import in_parallel
from convcalc.reference.ops._window import (
    only,
    place_windows,
    spatial_per_dim,
    window_options,
)

if TYPE_CHECKING:
    from convcalc.layers.pool import AdaptivePool, AvgPool, GlobalPool, MaxPool
    from convcalc.results import LayerRow

__all__ = ["WINDOW_BOUND_BYTES", "adaptive_avg_pool", "adaptive_bounds", "adaptive_max_pool",
           "avg_pool", "global_avg_pool", "global_max_pool", "max_pool"]

WINDOW_BOUND_BYTES = 2 * 8
"""Adaptive pooling's window bounds per output index of a dim: int64 start and end."""


def _planes(x5: np.ndarray) -> int:
    """Return the work items of a pool: one per (batch item, channel) plane."""
    return int(x5.shape[0] * x5.shape[1])


@njit(cache=True, nogil=True)
def _max_pool_kernel(
    x: np.ndarray,
    y: np.ndarray,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int],
    dilation: tuple[int, int, int],
    pad_before: tuple[int, int, int],
    start: int,
    stop: int,
) -> int:
    """Fill planes ``start`` to ``stop`` of ``y`` with the 3-D max pool of ``x``
    (N, C, D, H, W); padding counts as −∞.

    A NaN in a window wins, as in PyTorch.
    """
    channels, depth, height, width = x.shape[1:]
    out_d, out_h, out_w = y.shape[2:]
    for plane in range(start, stop):
        n = plane // channels
        c = plane % channels
        for od in range(out_d):
            for oh in range(out_h):
                for ow in range(out_w):
                    largest = np.float32(-np.inf)
                    for kd in range(kernel[0]):
                        i_d = od * stride[0] + kd * dilation[0] - pad_before[0]
                        if i_d < 0 or i_d >= depth:
                            continue
                        for kh in range(kernel[1]):
                            i_h = oh * stride[1] + kh * dilation[1] - pad_before[1]
                            if i_h < 0 or i_h >= height:
                                continue
                            for kw in range(kernel[2]):
                                i_w = ow * stride[2] + kw * dilation[2] - pad_before[2]
                                if i_w < 0 or i_w >= width:
                                    continue
                                value = x[n, c, i_d, i_h, i_w]
                                if value > largest or np.isnan(value):
                                    largest = value
                    y[n, c, od, oh, ow] = largest
    return 0


def _pooled(
    x5: np.ndarray,
    span: tuple[int, int, int],
    stride: tuple[int, int, int],
    pad_before: tuple[int, int, int],
    pad_after: tuple[int, int, int],
    ceil_mode: bool,
) -> np.ndarray:
    """Return an empty output for windows of ``span`` placed on the padded ``x5``."""
    out_size = tuple(
        place_windows(length, before, after, window, step, ceil_mode)
        for length, before, after, window, step in zip(
            x5.shape[2:], pad_before, pad_after, span, stride, strict=True
        )
    )
    return np.empty(x5.shape[:2] + out_size, np.float32)


def max_pool_arrays(
    x: np.ndarray,
    kernel: IntPerDim,
    stride: IntPerDim,
    dilation: IntPerDim,
    pad_before: IntPerDim,
    pad_after: IntPerDim,
    ceil_mode: bool,
) -> np.ndarray:
    """Return the max pool of ``x`` with PyTorch's semantics, padding allowed per side."""
    lifted = lift(x)
    x5 = lifted.x
    lifted_kernel = lifted.options(kernel, "kernel", 1)
    lifted_stride = lifted.options(stride, "stride", 1)
    lifted_dilation = lifted.options(dilation, "dilation", 1)
    before = lifted.options(pad_before, "pad_before", 0)
    after = lifted.options(pad_after, "pad_after", 0)
    span = (
        lifted_dilation[0] * (lifted_kernel[0] - 1) + 1,
        lifted_dilation[1] * (lifted_kernel[1] - 1) + 1,
        lifted_dilation[2] * (lifted_kernel[2] - 1) + 1,
    )
    y = _pooled(x5, span, lifted_stride, before, after, bool(ceil_mode))
    in_parallel(_max_pool_kernel, _planes(x5), x5, y, lifted_kernel, lifted_stride,
                lifted_dilation, before)
    return lifted.drop(y)


@njit(cache=True, nogil=True)
def _avg_pool_kernel(
    x: np.ndarray,
    y: np.ndarray,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int],
    pad_before: tuple[int, int, int],
    pad_after: tuple[int, int, int],
    count_include_pad: bool,
    start: int,
    stop: int,
) -> int:
    """Fill planes ``start`` to ``stop`` of ``y`` with the 3-D average pool of ``x``
    (N, C, D, H, W) with PyTorch's divisor.

    The divisor is the window clipped to the padded input with ``count_include_pad``
    (so a ceil-mode window hanging past the padding is not divided by the full kernel),
    and the window clipped to the real input without it.
    """
    channels = x.shape[1]
    size = x.shape[2:]
    out_d, out_h, out_w = y.shape[2:]
    for plane in range(start, stop):
        n = plane // channels
        c = plane % channels
        for out in range(out_d * out_h * out_w):
            index = (out // (out_h * out_w), out // out_w % out_h, out % out_w)
            # per dim: the window's first index, and its end clipped to the padded input
            first_d = index[0] * stride[0] - pad_before[0]
            first_h = index[1] * stride[1] - pad_before[1]
            first_w = index[2] * stride[2] - pad_before[2]
            end_d = min(first_d + kernel[0], size[0] + pad_after[0])
            end_h = min(first_h + kernel[1], size[1] + pad_after[1])
            end_w = min(first_w + kernel[2], size[2] + pad_after[2])
            divisor = (end_d - first_d) * (end_h - first_h) * (end_w - first_w)
            first_d, first_h, first_w = max(first_d, 0), max(first_h, 0), max(first_w, 0)
            end_d, end_h, end_w = min(end_d, size[0]), min(end_h, size[1]), min(end_w, size[2])
            if not count_include_pad:
                divisor = (end_d - first_d) * (end_h - first_h) * (end_w - first_w)
            total = 0.0
            for i_d in range(first_d, end_d):
                for i_h in range(first_h, end_h):
                    for i_w in range(first_w, end_w):
                        total += x[n, c, i_d, i_h, i_w]
            y[n, c, index[0], index[1], index[2]] = total / divisor
    return 0


def avg_pool_arrays(
    x: np.ndarray,
    kernel: IntPerDim,
    stride: IntPerDim,
    pad_before: IntPerDim,
    pad_after: IntPerDim,
    ceil_mode: bool,
    count_include_pad: bool,
) -> np.ndarray:
    """Return the average pool of ``x`` with PyTorch's semantics, padding allowed per side."""
    lifted = lift(x)
    x5 = lifted.x
    lifted_kernel = lifted.options(kernel, "kernel", 1)
    lifted_stride = lifted.options(stride, "stride", 1)
    before = lifted.options(pad_before, "pad_before", 0)
    after = lifted.options(pad_after, "pad_after", 0)
    y = _pooled(x5, lifted_kernel, lifted_stride, before, after, bool(ceil_mode))
    in_parallel(_avg_pool_kernel, _planes(x5), x5, y, lifted_kernel, lifted_stride, before,
                after, bool(count_include_pad))
    return lifted.drop(y)


def adaptive_bounds(length: int, out_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Return PyTorch's adaptive windows: ``[floor(o·L/O), ceil((o+1)·L/O))`` for each o."""
    outputs = np.arange(out_length, dtype=np.int64)
    return outputs * length // out_length, -(-(outputs + 1) * length // out_length)


@njit(cache=True, nogil=True)
def _adaptive_pool_kernel(
    x: np.ndarray,
    y: np.ndarray,
    start_d: np.ndarray,
    end_d: np.ndarray,
    start_h: np.ndarray,
    end_h: np.ndarray,
    start_w: np.ndarray,
    end_w: np.ndarray,
    take_max: bool,
    start: int,
    stop: int,
) -> int:
    """Fill planes ``start`` to ``stop`` of ``y`` with the adaptive max (``take_max``) or
    average pool of ``x`` (N, C, D, H, W) over the windows ``[start, end)`` per output
    index of each dim."""
    channels = x.shape[1]
    output_size = y.shape[2:]
    for plane in range(start, stop):
        n = plane // channels
        c = plane % channels
        for od in range(output_size[0]):
            for oh in range(output_size[1]):
                for ow in range(output_size[2]):
                    largest = np.float32(-np.inf)
                    total = 0.0
                    for i_d in range(start_d[od], end_d[od]):
                        for i_h in range(start_h[oh], end_h[oh]):
                            for i_w in range(start_w[ow], end_w[ow]):
                                value = x[n, c, i_d, i_h, i_w]
                                total += value
                                if value > largest or np.isnan(value):
                                    largest = value
                    if take_max:
                        y[n, c, od, oh, ow] = largest
                    else:
                        count = (
                            (end_d[od] - start_d[od])
                            * (end_h[oh] - start_h[oh])
                            * (end_w[ow] - start_w[ow])
                        )
                        y[n, c, od, oh, ow] = total / count
    return 0


def adaptive_pool_arrays(x: np.ndarray, output_size: IntPerDim, take_max: bool) -> np.ndarray:
    """Return the adaptive max (``take_max``) or average pool of ``x`` to ``output_size``
    (PyTorch's windows)."""
    lifted = lift(x)
    x5 = lifted.x
    size = lifted.options(output_size, "output_size", 1)
    bounds = [adaptive_bounds(length, out) for length, out in zip(x5.shape[2:], size,
                                                                   strict=True)]
    y = np.empty(x5.shape[:2] + size, np.float32)
    in_parallel(_adaptive_pool_kernel, _planes(x5), x5, y, *bounds[0], *bounds[1], *bounds[2],
                take_max)
    return lifted.drop(y)


def global_pool_arrays(x: np.ndarray, take_max: bool) -> np.ndarray:
    """Return the largest value (``take_max``) or the mean of each channel over all spatial
    positions, shape (N, C)."""
    return adaptive_pool_arrays(x, 1, take_max).reshape(x.shape[:2])


# --------------------------------------------------------------------------------------
# The ops


def _lifted_tables(row: LayerRow) -> int:
    """Return adaptive pooling's window bounds for every output index of every dim."""
    out = row.output_shape[1:]
    return WINDOW_BOUND_BYTES * (sum(out) + KERNEL_RANK - len(out))


def _max_pool(layer: MaxPool, x: np.ndarray) -> np.ndarray:
    options = window_options(layer, x.shape[2:], default_stride=True)
    return max_pool_arrays(x, options.kernel, options.stride, options.dilation,
                           options.pad_before, options.pad_after, layer.ceil_mode)


def _probe_max_pool(layer: MaxPool, x: np.ndarray, axis: int,
                    dims: tuple[int, ...]) -> np.ndarray:
    options = window_options(layer, dims, default_stride=True)
    return max_pool_arrays(x, only(options.kernel, axis, 1), only(options.stride, axis, 1),
                           only(options.dilation, axis, 1), only(options.pad_before, axis, 0),
                           only(options.pad_after, axis, 0), layer.ceil_mode)


def _avg_pool(layer: AvgPool, x: np.ndarray) -> np.ndarray:
    options = window_options(layer, x.shape[2:], default_stride=True, dilated=False)
    return avg_pool_arrays(x, options.kernel, options.stride, options.pad_before,
                           options.pad_after, layer.ceil_mode, layer.count_include_pad)


def _probe_avg_pool(layer: AvgPool, x: np.ndarray, axis: int,
                    dims: tuple[int, ...]) -> np.ndarray:
    options = window_options(layer, dims, default_stride=True, dilated=False)
    return avg_pool_arrays(x, only(options.kernel, axis, 1), only(options.stride, axis, 1),
                           only(options.pad_before, axis, 0), only(options.pad_after, axis, 0),
                           layer.ceil_mode, layer.count_include_pad)


def _max_pool_taps(layer: MaxPool, dims: tuple[int, ...], dim: int) -> int:
    return window_options(layer, dims, default_stride=True).kernel[dim]


def _avg_pool_taps(layer: AvgPool, dims: tuple[int, ...], dim: int) -> int:
    return window_options(layer, dims, default_stride=True, dilated=False).kernel[dim]


def _adaptive_op(take_max: bool) -> Op[[np.ndarray, IntPerDim], np.ndarray]:
    def output(layer: AdaptivePool, x: np.ndarray) -> np.ndarray:
        return adaptive_pool_arrays(x, spatial_per_dim(layer.output, x.ndim - 2), take_max)

    def probe(layer: AdaptivePool, x: np.ndarray, axis: int,
              dims: tuple[int, ...]) -> np.ndarray:
        return adaptive_pool_arrays(x, only(spatial_per_dim(layer.output, len(dims)), axis, 1),
                                    take_max)

    def kernel(x: np.ndarray, output_size: IntPerDim) -> np.ndarray:
        return adaptive_pool_arrays(x, output_size, take_max)

    def tables(layer: AdaptivePool, row: LayerRow) -> int:
        return _lifted_tables(row)

    def scratch(layer: AdaptivePool, row: LayerRow, batch: int) -> int:
        return _lifted_tables(row)

    return Op(kernel, weightless(output), probe, tables=tables, value_scratch=scratch)


def _global_op(take_max: bool) -> Op[[np.ndarray], np.ndarray]:
    def output(layer: GlobalPool, x: np.ndarray) -> np.ndarray:
        return global_pool_arrays(x, take_max)

    def mixed(layer: GlobalPool, x: np.ndarray, axis: int, dims: tuple[int, ...]
              ) -> np.ndarray:
        return global_pool_arrays(x, take_max)

    def kernel(x: np.ndarray) -> np.ndarray:
        return global_pool_arrays(x, take_max)

    def tables(layer: GlobalPool, row: LayerRow) -> int:
        return WINDOW_BOUND_BYTES * KERNEL_RANK

    def scratch(layer: GlobalPool, row: LayerRow, batch: int) -> int:
        return WINDOW_BOUND_BYTES * KERNEL_RANK

    return Op(kernel, weightless(output), mixed, Positions.mixed, tables=tables,
              value_scratch=scratch)


max_pool = Op(max_pool_arrays, weightless(_max_pool), _probe_max_pool, taps=_max_pool_taps)
"""``max_pool(x, kernel, stride, dilation, pad_before, pad_after, ceil_mode)``."""
avg_pool = Op(avg_pool_arrays, weightless(_avg_pool), _probe_avg_pool, taps=_avg_pool_taps)
"""``avg_pool(x, kernel, stride, pad_before, pad_after, ceil_mode, count_include_pad)``."""
adaptive_avg_pool = _adaptive_op(take_max=False)
"""``adaptive_avg_pool(x, output_size)``: the mean over PyTorch's adaptive windows."""
adaptive_max_pool = _adaptive_op(take_max=True)
"""``adaptive_max_pool(x, output_size)``: the largest value in each adaptive window."""
global_avg_pool = _global_op(take_max=False)
"""``global_avg_pool(x)``: the mean of each channel over all positions, shape (N, C)."""
global_max_pool = _global_op(take_max=True)
"""``global_max_pool(x)``: the largest value of each channel, shape (N, C)."""
