"""Reference kernels: each layer written as plain numba loops, for `convcalc verify`.

Arrays are float32, batch first and channels first: ``x`` is ``(N, C, *spatial)`` with one,
two or three spatial dimensions, and per-dimension options are tuples in spatial order
(an int stands for the same value in every dimension). Each windowed operation has one
kernel, written for three spatial dimensions; its public wrapper lifts a 1-D or 2-D input
by inserting unit dimensions in front of the spatial ones and drops them from the result.

Counting conventions, the same as the calculator's:

* ``conv``: MACs = N·C_out·prod(out)·(C_in/groups)·prod(K). Every tap is counted, also a
  tap that falls on zero padding; ``padded_taps`` is how many of those MACs read a padding
  zero, so ``macs − padded_taps`` is the work done on real input.
* ``conv_transpose``: MACs = N·C_in·prod(in)·(C_out/groups)·prod(K), every input element
  times every weight it meets, also where the product lands in the part that ``padding``
  crops away.
* ``linear``: MACs = rows·units·in_features.

The kernels count MACs as they run (each inner loop adds its trip length) rather than
evaluating those formulas, and windowed kernels find their output size by placing
windows (`_place_windows`) rather than by the calculator's output-size formula: `verify`
compares both against the calculator, so they must not share its arithmetic.

No kernel calls BLAS or a framework; each can be checked line by line against its
formula. Compiled kernels are cached on disk, so only the first run pays for compiling.

Every array a kernel needs, its output, scratch and index tables, is allocated by numpy in
the public wrapper and handed to the compiled loop, which allocates nothing of size: so
`tracemalloc` sees every byte (numba's own allocator does not report to it), and
`verify`'s memory estimate (memory.py) can be checked against what the kernels allocate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from numba import njit, prange

__all__ = [
    "adaptive_avg_pool",
    "adaptive_max_pool",
    "add",
    "avg_pool",
    "batchnorm",
    "concat",
    "conv",
    "conv_transpose",
    "gelu",
    "global_avg_pool",
    "global_max_pool",
    "hardswish",
    "identity",
    "leaky_relu",
    "linear",
    "max_pool",
    "pad",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "tanh",
    "upsample",
]

KERNEL_RANK = 3
"""Spatial dimensions every windowed kernel works in; 1-D and 2-D inputs are lifted."""

FILTER_TILE = 4
"""Filters one conv work item computes together, so each input value loaded feeds four."""

# Reassociation lets LLVM split a dot product over vector lanes; contraction lets it fuse
# multiply and add. No other fast-math flag: NaN and infinity must keep their meaning.
_DOT_FASTMATH = {"reassoc", "contract"}

IntPerDim = int | Sequence[int]
Number = TypeVar("Number", int, float)


# --------------------------------------------------------------------------------------
# Lifting to three spatial dimensions


# Options that may be 0; every other per-dimension option must be at least 1 (a stride of
# 0 would never finish placing windows).
_MAY_BE_ZERO = frozenset({"pad_before", "pad_after", "padding", "output_padding"})


def _per_dim(value: IntPerDim, rank: int, name: str) -> tuple[int, ...]:
    """Return ``value`` as one int per spatial dimension (an int is repeated)."""
    if isinstance(value, int | np.integer):
        values: tuple[int, ...] = (int(value),) * rank
    else:
        values = tuple(int(v) for v in value)
    if len(values) != rank:
        raise ValueError(f"{name} needs {rank} values, one per spatial dimension, not {values}")
    smallest = 0 if name in _MAY_BE_ZERO else 1
    if min(values) < smallest:
        raise ValueError(f"{name} must be at least {smallest} in every dimension, not {values}")
    return values


def _lift(values: tuple[Number, ...], fill: Number) -> tuple[Number, Number, Number]:
    """Return per-dimension ``values`` prefixed with ``fill`` for the inserted unit dims."""
    lifted = (fill,) * (KERNEL_RANK - len(values)) + values
    return lifted[0], lifted[1], lifted[2]


def _as_float32(array: np.ndarray, name: str) -> np.ndarray:
    """Return ``array`` C-contiguous, refusing any dtype but float32."""
    if not isinstance(array, np.ndarray) or array.dtype != np.float32:
        raise TypeError(f"{name} must be a float32 numpy array")
    return np.ascontiguousarray(array)


def _as_5d(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Return ``x`` reshaped to ``(N, C, D, H, W)`` and its own spatial rank."""
    x = _as_float32(x, "x")
    rank = x.ndim - 2
    if not 1 <= rank <= KERNEL_RANK:
        raise ValueError(f"x must be (N, C, *spatial) with 1 to 3 spatial dims, not {x.shape}")
    return x.reshape(x.shape[:2] + (1,) * (KERNEL_RANK - rank) + x.shape[2:]), rank


def _drop_lifted(y: np.ndarray, rank: int) -> np.ndarray:
    """Return a ``(N, C, D, H, W)`` result without the unit dims `_as_5d` inserted."""
    return y.reshape(y.shape[:2] + y.shape[2 + KERNEL_RANK - rank :])


def _bias_or_zeros(bias: np.ndarray | None, channels: int) -> np.ndarray:
    """Return the bias vector, or zeros, so a kernel compiles once for both cases."""
    if bias is None:
        return np.zeros(channels, np.float32)
    bias = _as_float32(bias, "bias")
    if bias.shape != (channels,):
        raise ValueError(f"bias must have shape ({channels},), not {bias.shape}")
    return bias


# --------------------------------------------------------------------------------------
# Window placement


@njit(cache=True)
def _place_windows(
    length: int, pad_before: int, pad_after: int, span: int, stride: int, ceil_mode: bool
) -> int:
    """Return how many windows of ``span`` elements are placed along one padded dimension.

    Windows start at 0, S, 2·S, … of the padded input and are kept while they fit in it.
    With ``ceil_mode`` one more, partial window is kept when the last full one left
    elements uncovered, unless it would start in the right padding (PyTorch's rule); and
    when none fits, one partial window if the span overhangs by less than a stride.
    """
    padded_length = pad_before + length + pad_after
    count = 0
    start = 0
    while start + span <= padded_length:
        count += 1
        start += stride
    if count == 0:
        # No window fits; in ceil mode PyTorch still places one partial window when the
        # kernel overhangs the padded input by less than a stride.
        return 1 if ceil_mode and span - padded_length < stride else 0
    last_full_window_end = start - stride + span
    if ceil_mode and last_full_window_end < padded_length and start < pad_before + length:
        count += 1
    return count


@njit(cache=True)
def _taps_on_input(
    out_count: int, kernel: int, stride: int, dilation: int, length: int, pad_before: int
) -> int:
    """Return how many (window, tap) pairs along one dimension read the input, not padding."""
    taps = 0
    for window in range(out_count):
        for tap in range(kernel):
            position = window * stride + tap * dilation - pad_before
            if 0 <= position < length:
                taps += 1
    return taps


# --------------------------------------------------------------------------------------
# Padding


@njit(cache=True, parallel=True)
def _pad_kernel(x: np.ndarray, y: np.ndarray, pad_before: tuple[int, int, int]) -> None:
    """Copy ``x`` (N, C, D, H, W) into the zeros ``y`` at ``pad_before`` in each spatial dim."""
    batch, channels, depth, height, width = x.shape
    for plane in prange(batch * channels):
        n = plane // channels
        c = plane % channels
        for d in range(depth):
            for h in range(height):
                for w in range(width):
                    y[n, c, pad_before[0] + d, pad_before[1] + h, pad_before[2] + w] = x[
                        n, c, d, h, w
                    ]


def _padded(
    x5: np.ndarray, before: tuple[int, int, int], after: tuple[int, int, int]
) -> np.ndarray:
    """Return the 5-D ``x5`` with zeros added before and after each spatial dim."""
    shape = tuple(b + size + a for b, size, a in zip(before, x5.shape[2:], after, strict=True))
    y = np.zeros(x5.shape[:2] + shape, np.float32)
    _pad_kernel(x5, y, before)
    return y


def pad(x: np.ndarray, pad_before: IntPerDim, pad_after: IntPerDim) -> np.ndarray:
    """Return ``x`` with ``pad_before``/``pad_after`` zeros on each side of each spatial dim."""
    x5, rank = _as_5d(x)
    before = _lift(_per_dim(pad_before, rank, "pad_before"), 0)
    after = _lift(_per_dim(pad_after, rank, "pad_after"), 0)
    return _drop_lifted(_padded(x5, before, after), rank)


# --------------------------------------------------------------------------------------
# Convolution
#
# The conv kernel reads a padded input laid out channels last within each group,
# (N, G, D, H, W, C/G), and weights in the same order, (G, F, KD, KH, KW, C/G). Then the
# C/G channels under one tap are contiguous in both, and with unit width dilation so is
# a whole kernel row (KW·C/G values): a "run". A dot product over a run is a unit-stride
# loop LLVM vectorises. Four filters and two neighbouring output positions share each
# run, so each loaded input value feeds four multiplies and each weight two, which keeps
# the loop on arithmetic rather than on loads.


@njit(cache=True, fastmath=_DOT_FASTMATH)
def _dot_4x2(
    weight: np.ndarray,
    w_start: int,
    filter_step: int,
    x: np.ndarray,
    x_start: int,
    position_step: int,
    length: int,
) -> tuple[np.float32, ...]:
    """Return the dot products of 4 filters with 2 inputs: filter 0..3 at a, then at b.

    Filter ``t``'s run starts at ``w_start + t·filter_step``; input a's at ``x_start``,
    input b's ``position_step`` further. Slices give LLVM unit-stride loops from index 0.
    """
    w0 = weight[w_start : w_start + length]
    w1 = weight[w_start + filter_step : w_start + filter_step + length]
    w2 = weight[w_start + 2 * filter_step : w_start + 2 * filter_step + length]
    w3 = weight[w_start + 3 * filter_step : w_start + 3 * filter_step + length]
    xa = x[x_start : x_start + length]
    xb = x[x_start + position_step : x_start + position_step + length]
    s0a = s1a = s2a = s3a = s0b = s1b = s2b = s3b = np.float32(0.0)
    for j in range(length):
        a = xa[j]
        b = xb[j]
        s0a += w0[j] * a
        s1a += w1[j] * a
        s2a += w2[j] * a
        s3a += w3[j] * a
        s0b += w0[j] * b
        s1b += w1[j] * b
        s2b += w2[j] * b
        s3b += w3[j] * b
    return s0a, s1a, s2a, s3a, s0b, s1b, s2b, s3b


@njit(cache=True, fastmath=_DOT_FASTMATH)
def _dot_4x1(
    weight: np.ndarray, w_start: int, filter_step: int, x: np.ndarray, x_start: int, length: int
) -> tuple[np.float32, ...]:
    """Return the dot products of 4 filters' runs with one input run (see `_dot_4x2`)."""
    w0 = weight[w_start : w_start + length]
    w1 = weight[w_start + filter_step : w_start + filter_step + length]
    w2 = weight[w_start + 2 * filter_step : w_start + 2 * filter_step + length]
    w3 = weight[w_start + 3 * filter_step : w_start + 3 * filter_step + length]
    xa = x[x_start : x_start + length]
    s0 = s1 = s2 = s3 = np.float32(0.0)
    for j in range(length):
        a = xa[j]
        s0 += w0[j] * a
        s1 += w1[j] * a
        s2 += w2[j] * a
        s3 += w3[j] * a
    return s0, s1, s2, s3


@njit(cache=True, fastmath=_DOT_FASTMATH)
def _dot(a: np.ndarray, a_start: int, b: np.ndarray, b_start: int, length: int) -> np.float32:
    """Return the dot product of ``length`` values of ``a`` and ``b`` from the given starts."""
    a_run = a[a_start : a_start + length]
    b_run = b[b_start : b_start + length]
    total = np.float32(0.0)
    for j in range(length):
        total += a_run[j] * b_run[j]
    return total


@njit(cache=True, parallel=True)
def _conv_kernel(
    x_padded: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    y: np.ndarray,
    stride: tuple[int, int, int],
    dilation: tuple[int, int, int],
    input_shape: tuple[int, int, int],
    pad_before: tuple[int, int, int],
) -> tuple[int, int]:
    """Fill ``y`` with a grouped 3-D convolution; return ``(macs, padded_taps)``.

    ``x_padded`` is (N, G, D, H, W, C/G), already zero padded; ``weight`` is
    (G, F, KD, KH, KW, C/G); ``y`` is (N, G·F, OD, OH, OW), its window counts placed by
    `_place_windows`. ``input_shape`` and ``pad_before`` say where the real input sits
    inside ``x_padded``, to count padded taps.
    """
    batch, groups, padded_d, padded_h, padded_w, group_channels = x_padded.shape
    filters_per_group, kernel_d, kernel_h, kernel_w = weight.shape[1:5]
    out_d, out_h, out_w = y.shape[2:]

    x_flat = x_padded.reshape(-1)
    w_flat = weight.reshape(-1)
    x_row_step = padded_w * group_channels
    x_plane_step = padded_h * x_row_step
    x_group_step = padded_d * x_plane_step
    filter_step = kernel_d * kernel_h * kernel_w * group_channels
    position_step = stride[2] * group_channels
    if dilation[2] == 1:
        runs_per_row = 1
        run_length = kernel_w * group_channels
    else:
        runs_per_row = kernel_w
        run_length = group_channels
    x_run_step = dilation[2] * group_channels

    tiles_per_group = (filters_per_group + FILTER_TILE - 1) // FILTER_TILE
    macs = 0
    for item in prange(batch * groups * tiles_per_group):
        n = item // (groups * tiles_per_group)
        g = item // tiles_per_group % groups
        first_filter = item % tiles_per_group * FILTER_TILE
        tile_filters = min(FILTER_TILE, filters_per_group - first_filter)
        first_channel = g * filters_per_group + first_filter
        x_group = (n * groups + g) * x_group_step
        w_tile = (g * filters_per_group + first_filter) * filter_step
        for od in range(out_d):
            for oh in range(out_h):
                for ow in range(0, out_w, 2):
                    has_pair = ow + 1 < out_w
                    for t in range(tile_filters):
                        y[n, first_channel + t, od, oh, ow] = bias[first_channel + t]
                        if has_pair:
                            y[n, first_channel + t, od, oh, ow + 1] = bias[first_channel + t]
                    for kd in range(kernel_d):
                        for kh in range(kernel_h):
                            x_row = (
                                x_group
                                + (od * stride[0] + kd * dilation[0]) * x_plane_step
                                + (oh * stride[1] + kh * dilation[1]) * x_row_step
                                + ow * position_step
                            )
                            w_row = w_tile + (kd * kernel_h + kh) * kernel_w * group_channels
                            for run in range(runs_per_row):
                                x_start = x_row + run * x_run_step
                                w_start = w_row + run * group_channels
                                if tile_filters == FILTER_TILE and has_pair:
                                    sums8 = _dot_4x2(
                                        w_flat,
                                        w_start,
                                        filter_step,
                                        x_flat,
                                        x_start,
                                        position_step,
                                        run_length,
                                    )
                                    for t in range(FILTER_TILE):
                                        y[n, first_channel + t, od, oh, ow] += sums8[t]
                                        y[n, first_channel + t, od, oh, ow + 1] += sums8[
                                            FILTER_TILE + t
                                        ]
                                    macs += 2 * FILTER_TILE * run_length
                                elif tile_filters == FILTER_TILE:
                                    sums4 = _dot_4x1(
                                        w_flat, w_start, filter_step, x_flat, x_start, run_length
                                    )
                                    for t in range(FILTER_TILE):
                                        y[n, first_channel + t, od, oh, ow] += sums4[t]
                                    macs += FILTER_TILE * run_length
                                else:
                                    # A tile short of filters (depthwise, or F not a
                                    # multiple of four): one filter, one position at a time.
                                    for t in range(tile_filters):
                                        w_filter = w_start + t * filter_step
                                        y[n, first_channel + t, od, oh, ow] += _dot(
                                            w_flat, w_filter, x_flat, x_start, run_length
                                        )
                                        macs += run_length
                                        if has_pair:
                                            y[n, first_channel + t, od, oh, ow + 1] += _dot(
                                                w_flat,
                                                w_filter,
                                                x_flat,
                                                x_start + position_step,
                                                run_length,
                                            )
                                            macs += run_length

    # A tap reads real input only if it does in every dimension, so the taps on input over
    # all output positions are the product of the per-dimension counts.
    taps_on_input = (
        _taps_on_input(out_d, kernel_d, stride[0], dilation[0], input_shape[0], pad_before[0])
        * _taps_on_input(out_h, kernel_h, stride[1], dilation[1], input_shape[1], pad_before[1])
        * _taps_on_input(out_w, kernel_w, stride[2], dilation[2], input_shape[2], pad_before[2])
    )
    all_taps = out_d * kernel_d * out_h * kernel_h * out_w * kernel_w
    padded_taps = batch * groups * filters_per_group * group_channels * (all_taps - taps_on_input)
    return macs, padded_taps


def conv(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: IntPerDim,
    dilation: IntPerDim,
    pad_before: IntPerDim,
    pad_after: IntPerDim,
    groups: int,
) -> tuple[np.ndarray, int, int]:
    """Return ``(y, macs, padded_taps)`` of a zero-padded, strided, dilated, grouped conv.

    ``weight`` is (C_out, C_in/groups, *K) as in PyTorch; padding may differ per side.
    ``macs`` counts every tap the kernel multiplied, padding included, and ``padded_taps``
    how many of those read a padding zero.
    """
    x5, rank = _as_5d(x)
    batch, in_channels = x5.shape[:2]
    weight = _as_float32(weight, "weight")
    if weight.ndim != rank + 2:
        raise ValueError(f"weight must be (C_out, C_in/groups, *K), not {weight.shape}")
    out_channels, group_channels = weight.shape[:2]
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide C_in={in_channels} and C_out={out_channels}")
    if group_channels != in_channels // groups:
        raise ValueError(f"weight has {group_channels} input channels, expected C_in/groups")
    before = _lift(_per_dim(pad_before, rank, "pad_before"), 0)
    after = _lift(_per_dim(pad_after, rank, "pad_after"), 0)
    padded = _padded(x5, before, after)
    x_channels_last = np.ascontiguousarray(
        padded.reshape(batch, groups, group_channels, *padded.shape[2:]).transpose(0, 1, 3, 4, 5, 2)
    )
    kernel_shape = _lift(weight.shape[2:], 1)
    w_channels_last = np.ascontiguousarray(
        weight.reshape(groups, out_channels // groups, group_channels, *kernel_shape).transpose(
            0, 1, 3, 4, 5, 2
        )
    )
    lifted_stride = _lift(_per_dim(stride, rank, "stride"), 1)
    lifted_dilation = _lift(_per_dim(dilation, rank, "dilation"), 1)
    out_size = tuple(
        _place_windows(length, 0, 0, d * (k - 1) + 1, s, False)
        for length, k, s, d in zip(padded.shape[2:], kernel_shape, lifted_stride, lifted_dilation,
                                   strict=True)
    )
    y = np.empty((batch, out_channels, *out_size), np.float32)
    macs, padded_taps = _conv_kernel(
        x_channels_last,
        w_channels_last,
        _bias_or_zeros(bias, out_channels),
        y,
        lifted_stride,
        lifted_dilation,
        _lift(x5.shape[2:][KERNEL_RANK - rank :], 1),
        before,
    )
    return _drop_lifted(y, rank), int(macs), int(padded_taps)


@njit(cache=True, parallel=True)
def _conv_transpose_kernel(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    full: np.ndarray,
    y: np.ndarray,
    groups: int,
    stride: tuple[int, int, int],
    dilation: tuple[int, int, int],
    padding: tuple[int, int, int],
) -> int:
    """Fill ``y`` with a grouped 3-D transposed convolution, PyTorch's meaning; return MACs.

    Each input element at ``i`` scatters ``x·w[k]`` to ``i·S + k·D`` of the full result
    ``full`` (zeros; ``output_padding`` makes it longer at the end), and ``padding`` crops
    it on both sides into ``y``. ``x`` is (N, C_in, D, H, W); ``weight`` is
    (C_in, C_out/groups, KD, KH, KW).
    """
    batch, in_channels, in_d, in_h, in_w = x.shape
    filters_per_group, kernel_d, kernel_h, kernel_w = weight.shape[1:]
    group_channels = in_channels // groups
    out_channels = groups * filters_per_group

    macs = 0
    # Each work item owns one output plane, so the scatters of different items never meet.
    for item in prange(batch * out_channels):
        n = item // out_channels
        out_channel = item % out_channels
        g = out_channel // filters_per_group
        f = out_channel % filters_per_group
        for in_channel in range(g * group_channels, (g + 1) * group_channels):
            for kd in range(kernel_d):
                for kh in range(kernel_h):
                    for kw in range(kernel_w):
                        w = weight[in_channel, f, kd, kh, kw]
                        for i_d in range(in_d):
                            o_d = i_d * stride[0] + kd * dilation[0]
                            for i_h in range(in_h):
                                o_h = i_h * stride[1] + kh * dilation[1]
                                for i_w in range(in_w):
                                    full[
                                        n, out_channel, o_d, o_h, i_w * stride[2] + kw * dilation[2]
                                    ] += x[n, in_channel, i_d, i_h, i_w] * w
                                macs += in_w

    for item in prange(batch * out_channels):
        n = item // out_channels
        out_channel = item % out_channels
        for o_d in range(y.shape[2]):
            for o_h in range(y.shape[3]):
                for o_w in range(y.shape[4]):
                    y[n, out_channel, o_d, o_h, o_w] = (
                        full[n, out_channel, o_d + padding[0], o_h + padding[1], o_w + padding[2]]
                        + bias[out_channel]
                    )
    return macs


def conv_transpose(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: IntPerDim,
    dilation: IntPerDim,
    padding: IntPerDim,
    output_padding: IntPerDim,
    groups: int,
) -> tuple[np.ndarray, int]:
    """Return ``(y, macs)`` of a transposed convolution as PyTorch's ``conv_transpose``.

    ``weight`` is (C_in, C_out/groups, *K); ``padding`` is symmetric per dimension and
    crops the result; ``macs`` counts every input element times every weight it meets.
    """
    x5, rank = _as_5d(x)
    in_channels = x5.shape[1]
    weight = _as_float32(weight, "weight")
    if weight.ndim != rank + 2 or weight.shape[0] != in_channels:
        raise ValueError(f"weight must be (C_in, C_out/groups, *K), not {weight.shape}")
    if groups < 1 or in_channels % groups:
        raise ValueError(f"groups={groups} must divide C_in={in_channels}")
    out_channels = groups * weight.shape[1]
    lifted_padding = _lift(_per_dim(padding, rank, "padding"), 0)
    lifted_stride = _lift(_per_dim(stride, rank, "stride"), 1)
    lifted_dilation = _lift(_per_dim(dilation, rank, "dilation"), 1)
    extra = _lift(_per_dim(output_padding, rank, "output_padding"), 0)
    kernel_shape = _lift(weight.shape[2:], 1)
    full_size = tuple(
        (length - 1) * s + (k - 1) * d + 1 + e
        for length, k, s, d, e in zip(x5.shape[2:], kernel_shape, lifted_stride, lifted_dilation,
                                      extra, strict=True)
    )
    out_size = tuple(length - 2 * p for length, p in zip(full_size, lifted_padding, strict=True))
    if min(out_size) < 0:
        raise ValueError(f"padding {lifted_padding} crops more than the full result {full_size}")
    full = np.zeros((x5.shape[0], out_channels, *full_size), np.float32)
    y = np.empty((x5.shape[0], out_channels, *out_size), np.float32)
    macs = _conv_transpose_kernel(
        x5,
        weight.reshape(weight.shape[:2] + kernel_shape),
        _bias_or_zeros(bias, out_channels),
        full,
        y,
        groups,
        lifted_stride,
        lifted_dilation,
        lifted_padding,
    )
    return _drop_lifted(y, rank), int(macs)


# --------------------------------------------------------------------------------------
# Pooling


@njit(cache=True, parallel=True)
def _max_pool_kernel(
    x: np.ndarray,
    y: np.ndarray,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int],
    dilation: tuple[int, int, int],
    pad_before: tuple[int, int, int],
) -> None:
    """Fill ``y`` with the 3-D max pool of ``x`` (N, C, D, H, W); padding counts as −∞.

    A NaN in a window wins, as in PyTorch.
    """
    batch, channels, depth, height, width = x.shape
    out_d, out_h, out_w = y.shape[2:]
    for plane in prange(batch * channels):
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
        _place_windows(length, before, after, window, step, ceil_mode)
        for length, before, after, window, step in zip(
            x5.shape[2:], pad_before, pad_after, span, stride, strict=True
        )
    )
    return np.empty(x5.shape[:2] + out_size, np.float32)


def max_pool(
    x: np.ndarray,
    kernel: IntPerDim,
    stride: IntPerDim,
    dilation: IntPerDim,
    pad_before: IntPerDim,
    pad_after: IntPerDim,
    ceil_mode: bool,
) -> np.ndarray:
    """Return the max pool of ``x`` with PyTorch's semantics, padding allowed per side."""
    x5, rank = _as_5d(x)
    lifted_kernel = _lift(_per_dim(kernel, rank, "kernel"), 1)
    lifted_stride = _lift(_per_dim(stride, rank, "stride"), 1)
    lifted_dilation = _lift(_per_dim(dilation, rank, "dilation"), 1)
    before = _lift(_per_dim(pad_before, rank, "pad_before"), 0)
    after = _lift(_per_dim(pad_after, rank, "pad_after"), 0)
    span = (
        lifted_dilation[0] * (lifted_kernel[0] - 1) + 1,
        lifted_dilation[1] * (lifted_kernel[1] - 1) + 1,
        lifted_dilation[2] * (lifted_kernel[2] - 1) + 1,
    )
    y = _pooled(x5, span, lifted_stride, before, after, bool(ceil_mode))
    _max_pool_kernel(x5, y, lifted_kernel, lifted_stride, lifted_dilation, before)
    return _drop_lifted(y, rank)


@njit(cache=True, parallel=True)
def _avg_pool_kernel(
    x: np.ndarray,
    y: np.ndarray,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int],
    pad_before: tuple[int, int, int],
    pad_after: tuple[int, int, int],
    count_include_pad: bool,
) -> None:
    """Fill ``y`` with the 3-D average pool of ``x`` (N, C, D, H, W) with PyTorch's divisor.

    The divisor is the window clipped to the padded input with ``count_include_pad``
    (so a ceil-mode window hanging past the padding is not divided by the full kernel),
    and the window clipped to the real input without it.
    """
    batch, channels, depth, height, width = x.shape
    out_d, out_h, out_w = y.shape[2:]
    for plane in prange(batch * channels):
        n = plane // channels
        c = plane % channels
        for od in range(out_d):
            padded_d, start_d, end_d = _avg_window(od, kernel[0], stride[0], pad_before[0],
                                                   pad_after[0], depth)
            for oh in range(out_h):
                padded_h, start_h, end_h = _avg_window(oh, kernel[1], stride[1], pad_before[1],
                                                       pad_after[1], height)
                for ow in range(out_w):
                    padded_w, start_w, end_w = _avg_window(ow, kernel[2], stride[2],
                                                           pad_before[2], pad_after[2], width)
                    total = 0.0
                    for i_d in range(start_d, end_d):
                        for i_h in range(start_h, end_h):
                            for i_w in range(start_w, end_w):
                                total += x[n, c, i_d, i_h, i_w]
                    if count_include_pad:
                        divisor = padded_d * padded_h * padded_w
                    else:
                        divisor = (end_d - start_d) * (end_h - start_h) * (end_w - start_w)
                    y[n, c, od, oh, ow] = total / divisor


@njit(cache=True)
def _avg_window(
    out_index: int, kernel: int, stride: int, pad_before: int, pad_after: int, length: int
) -> tuple[int, int, int]:
    """Return one dim of an average window: its length clipped to the padded input, and
    its start and end clipped to the real input."""
    first = out_index * stride - pad_before
    last = min(first + kernel, length + pad_after)
    return last - first, max(first, 0), min(last, length)


def avg_pool(
    x: np.ndarray,
    kernel: IntPerDim,
    stride: IntPerDim,
    pad_before: IntPerDim,
    pad_after: IntPerDim,
    ceil_mode: bool,
    count_include_pad: bool,
) -> np.ndarray:
    """Return the average pool of ``x`` with PyTorch's semantics, padding allowed per side."""
    x5, rank = _as_5d(x)
    lifted_kernel = _lift(_per_dim(kernel, rank, "kernel"), 1)
    lifted_stride = _lift(_per_dim(stride, rank, "stride"), 1)
    before = _lift(_per_dim(pad_before, rank, "pad_before"), 0)
    after = _lift(_per_dim(pad_after, rank, "pad_after"), 0)
    y = _pooled(x5, lifted_kernel, lifted_stride, before, after, bool(ceil_mode))
    _avg_pool_kernel(x5, y, lifted_kernel, lifted_stride, before, after,
                     bool(count_include_pad))
    return _drop_lifted(y, rank)


def _adaptive_bounds(length: int, out_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Return PyTorch's adaptive windows: ``[floor(o·L/O), ceil((o+1)·L/O))`` for each o."""
    outputs = np.arange(out_length, dtype=np.int64)
    return outputs * length // out_length, -(-(outputs + 1) * length // out_length)


@njit(cache=True, parallel=True)
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
) -> None:
    """Fill ``y`` with the adaptive max (``take_max``) or average pool of ``x`` (N, C, D, H, W)
    over the windows ``[start, end)`` per output index of each dim."""
    batch, channels = x.shape[:2]
    output_size = y.shape[2:]
    for plane in prange(batch * channels):
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


def _adaptive_pool(x: np.ndarray, output_size: IntPerDim, take_max: bool) -> np.ndarray:
    x5, rank = _as_5d(x)
    size = _lift(_per_dim(output_size, rank, "output_size"), 1)
    bounds = [_adaptive_bounds(length, out) for length, out in zip(x5.shape[2:], size,
                                                                   strict=True)]
    y = np.empty(x5.shape[:2] + size, np.float32)
    _adaptive_pool_kernel(x5, y, *bounds[0], *bounds[1], *bounds[2], take_max)
    return _drop_lifted(y, rank)


def adaptive_avg_pool(x: np.ndarray, output_size: IntPerDim) -> np.ndarray:
    """Return the adaptive average pool of ``x`` to ``output_size`` (PyTorch's windows)."""
    return _adaptive_pool(x, output_size, False)


def adaptive_max_pool(x: np.ndarray, output_size: IntPerDim) -> np.ndarray:
    """Return the adaptive max pool of ``x`` to ``output_size`` (PyTorch's windows)."""
    return _adaptive_pool(x, output_size, True)


def global_avg_pool(x: np.ndarray) -> np.ndarray:
    """Return the mean of each channel over all spatial positions, shape (N, C)."""
    return adaptive_avg_pool(x, 1).reshape(x.shape[:2])


def global_max_pool(x: np.ndarray) -> np.ndarray:
    """Return the largest value of each channel over all spatial positions, shape (N, C)."""
    return adaptive_max_pool(x, 1).reshape(x.shape[:2])


# --------------------------------------------------------------------------------------
# Linear and normalisation


@njit(cache=True, parallel=True, fastmath=_DOT_FASTMATH)
def _linear_kernel(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, y: np.ndarray) -> int:
    """Fill ``y`` with ``x·weightᵀ + bias`` for ``x`` (rows, in), ``weight`` (units, in);
    return the MACs."""
    rows, in_features = x.shape
    units = weight.shape[0]
    macs = 0
    for unit in prange(units):
        for row in range(rows):
            y[row, unit] = _dot(weight[unit], 0, x[row], 0, in_features) + bias[unit]
            macs += in_features
    return macs


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Return ``(y, macs)`` of a fully connected layer on the last dimension of ``x``.

    ``weight`` is (units, in_features) as in PyTorch; ``y`` keeps ``x``'s leading dims.
    """
    x = _as_float32(x, "x")
    weight = _as_float32(weight, "weight")
    if weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"weight {weight.shape} does not take inputs of shape {x.shape}")
    units = weight.shape[0]
    rows = x.reshape(-1, x.shape[-1])
    y = np.empty((rows.shape[0], units), np.float32)
    macs = _linear_kernel(rows, weight, _bias_or_zeros(bias, units), y)
    return y.reshape((*x.shape[:-1], units)), int(macs)


@njit(cache=True, parallel=True)
def _batchnorm_kernel(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float,
    y: np.ndarray,
) -> None:
    """Fill ``y`` with ``(x − mean)/sqrt(var + eps)·gamma + beta`` per channel of ``x``
    (N, C, S)."""
    batch, channels, positions = x.shape
    for plane in prange(batch * channels):
        n = plane // channels
        c = plane % channels
        scale = gamma[c] / math.sqrt(running_var[c] + eps)
        for i in range(positions):
            y[n, c, i] = (x[n, c, i] - running_mean[c]) * scale + beta[c]


def batchnorm(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = 1e-5,
) -> np.ndarray:
    """Return inference-mode batch normalisation of ``x`` (N, C, *spatial) per channel."""
    x = _as_float32(x, "x")
    channels = x.shape[1]
    gamma, beta, running_mean, running_var = (
        _as_float32(gamma, "gamma"),
        _as_float32(beta, "beta"),
        _as_float32(running_mean, "running_mean"),
        _as_float32(running_var, "running_var"),
    )
    if any(v.shape != (channels,) for v in (gamma, beta, running_mean, running_var)):
        raise ValueError(f"batchnorm statistics must each have shape ({channels},)")
    y = np.empty_like(x)
    _batchnorm_kernel(
        x.reshape(x.shape[0], channels, -1), gamma, beta, running_mean, running_var, float(eps),
        y.reshape(x.shape[0], channels, -1),
    )
    return y


# --------------------------------------------------------------------------------------
# Activations: elementwise over a flat view, in float64, rounded once to float32.


@njit(cache=True, parallel=True)
def _relu_kernel(x: np.ndarray, y: np.ndarray) -> None:
    """Fill ``y`` with ``max(x, 0)`` elementwise."""
    for i in prange(x.size):
        y[i] = x[i] if x[i] > 0 else 0.0


@njit(cache=True, parallel=True)
def _relu6_kernel(x: np.ndarray, y: np.ndarray) -> None:
    """Fill ``y`` with ``min(max(x, 0), 6)`` elementwise."""
    for i in prange(x.size):
        y[i] = min(max(x[i], 0.0), 6.0)


@njit(cache=True, parallel=True)
def _leaky_relu_kernel(x: np.ndarray, negative_slope: float, y: np.ndarray) -> None:
    """Fill ``y`` with ``x`` where positive, ``negative_slope·x`` elsewhere."""
    for i in prange(x.size):
        y[i] = x[i] if x[i] > 0 else negative_slope * x[i]


@njit(cache=True, parallel=True)
def _gelu_kernel(x: np.ndarray, y: np.ndarray) -> None:
    """Fill ``y`` with ``x·Φ(x) = x/2·(1 + erf(x/√2))`` elementwise (the exact, erf form)."""
    for i in prange(x.size):
        value = float(x[i])
        y[i] = 0.5 * value * (1.0 + math.erf(value / math.sqrt(2.0)))


@njit(cache=True)
def _logistic(value: float) -> float:
    """Return ``1/(1 + e^−value)`` without overflowing ``exp`` for large |value|."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp_value = math.exp(value)
    return exp_value / (1.0 + exp_value)


@njit(cache=True, parallel=True)
def _sigmoid_kernel(x: np.ndarray, y: np.ndarray) -> None:
    """Fill ``y`` with ``1/(1 + e^−x)`` elementwise."""
    for i in prange(x.size):
        y[i] = _logistic(float(x[i]))


@njit(cache=True, parallel=True)
def _silu_kernel(x: np.ndarray, y: np.ndarray) -> None:
    """Fill ``y`` with ``x·sigmoid(x)`` elementwise."""
    for i in prange(x.size):
        value = float(x[i])
        y[i] = value * _logistic(value)


@njit(cache=True, parallel=True)
def _tanh_kernel(x: np.ndarray, y: np.ndarray) -> None:
    """Fill ``y`` with ``tanh(x)`` elementwise."""
    for i in prange(x.size):
        y[i] = math.tanh(float(x[i]))


@njit(cache=True, parallel=True)
def _hardswish_kernel(x: np.ndarray, y: np.ndarray) -> None:
    """Fill ``y`` with ``x·relu6(x + 3)/6`` elementwise."""
    for i in prange(x.size):
        value = float(x[i])
        y[i] = value * min(max(value + 3.0, 0.0), 6.0) / 6.0


@njit(cache=True, parallel=True)
def _softmax_kernel(x: np.ndarray, y: np.ndarray) -> None:
    """Fill ``y`` with the softmax of ``x`` (N, C, S) over C, shifted by the max so exp
    cannot overflow."""
    batch, channels, positions = x.shape
    for item in prange(batch * positions):
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


def _elementwise(kernel: Callable[..., None], x: np.ndarray, *options: float) -> np.ndarray:
    """Return ``kernel`` applied to every element of ``x`` (flat views in, a new array out)."""
    x = _as_float32(x, "x")
    y = np.empty_like(x)
    kernel(x.reshape(-1), *options, y.reshape(-1))
    return y


def relu(x: np.ndarray) -> np.ndarray:
    """Return ``max(x, 0)``."""
    return _elementwise(_relu_kernel, x)


def relu6(x: np.ndarray) -> np.ndarray:
    """Return ``min(max(x, 0), 6)``."""
    return _elementwise(_relu6_kernel, x)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Return ``x`` where positive and ``negative_slope·x`` elsewhere."""
    return _elementwise(_leaky_relu_kernel, x, float(negative_slope))


def gelu(x: np.ndarray) -> np.ndarray:
    """Return the exact (erf) GELU, ``x/2·(1 + erf(x/√2))``."""
    return _elementwise(_gelu_kernel, x)


def silu(x: np.ndarray) -> np.ndarray:
    """Return ``x·sigmoid(x)``."""
    return _elementwise(_silu_kernel, x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Return ``1/(1 + e^−x)``."""
    return _elementwise(_sigmoid_kernel, x)


def tanh(x: np.ndarray) -> np.ndarray:
    """Return ``tanh(x)``."""
    return _elementwise(_tanh_kernel, x)


def hardswish(x: np.ndarray) -> np.ndarray:
    """Return ``x·relu6(x + 3)/6``."""
    return _elementwise(_hardswish_kernel, x)


def softmax(x: np.ndarray) -> np.ndarray:
    """Return the softmax of ``x`` (N, C, *spatial) over the channel dimension."""
    x = _as_float32(x, "x")
    if x.ndim < 2:
        raise ValueError(f"softmax needs x of shape (N, C, ...), not {x.shape}")
    y = np.empty_like(x)
    planes = (x.shape[0], x.shape[1], -1)
    _softmax_kernel(x.reshape(planes), y.reshape(planes))
    return y


def identity(x: np.ndarray) -> np.ndarray:
    """Return a copy of ``x``."""
    return _as_float32(x, "x").copy()


# --------------------------------------------------------------------------------------
# Resampling


@njit(cache=True)
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


def _tap_tables(
    in_length: int, out_length: int, source_scale: float, linear: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(index, weight)``, each (2, out), of one dim (see `_source_taps`)."""
    index = np.zeros((2, out_length), np.int64)
    weight = np.zeros((2, out_length), np.float64)
    _source_taps(in_length, source_scale, linear, index, weight)
    return index, weight


@njit(cache=True, parallel=True)
def _upsample_kernel(
    x: np.ndarray,
    y: np.ndarray,
    index_d: np.ndarray,
    weight_d: np.ndarray,
    index_h: np.ndarray,
    weight_h: np.ndarray,
    index_w: np.ndarray,
    weight_w: np.ndarray,
) -> None:
    """Fill ``y`` with ``x`` (N, C, D, H, W) resampled by the tap tables of each dim."""
    batch, channels = x.shape[:2]
    output_size = y.shape[2:]
    for plane in prange(batch * channels):
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


def upsample(
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
    x5, rank = _as_5d(x)
    in_size = x.shape[2:]
    if size is not None:
        out_size = _per_dim(size, rank, "size")
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
    lifted_size = _lift(out_size, 1)
    tables = [_tap_tables(length, out, scale_of, mode == "linear") for length, out, scale_of
              in zip(x5.shape[2:], lifted_size, _lift(source_scales, 1.0), strict=True)]
    y = np.empty(x5.shape[:2] + lifted_size, np.float32)
    _upsample_kernel(x5, y, *tables[0], *tables[1], *tables[2])
    return _drop_lifted(y, rank)


# --------------------------------------------------------------------------------------
# Merges


def add(*xs: np.ndarray) -> np.ndarray:
    """Return the elementwise sum of equally shaped arrays."""
    arrays = [_as_float32(x, "x") for x in xs]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(f"add needs equal shapes, not {[a.shape for a in arrays]}")
    total = arrays[0].copy()
    for array in arrays[1:]:
        total += array
    return total


def concat(*xs: np.ndarray) -> np.ndarray:
    """Return the arrays joined along the channel dimension (axis 1)."""
    return np.concatenate([_as_float32(x, "x") for x in xs], axis=1)
