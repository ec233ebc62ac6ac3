"""Convolution and transposed convolution: their kernels and their ops.

Counting conventions, the same as the calculator's:

* ``conv``: MACs = N·C_out·prod(out)·(C_in/groups)·prod(K). Every tap is counted, also a
  tap that falls on zero padding; ``padded_taps`` is how many of those MACs read a padding
  zero, so ``macs − padded_taps`` is the work done on real input.
* ``conv_transpose``: MACs = N·C_in·prod(in)·(C_out/groups)·prod(K), every input element
  times every weight it meets, also where the product lands in the part that ``padding``
  crops away.

The kernels count MACs as they run (each output adds the taps its loops summed) and find
their output size by placing windows (`place_windows`), not by the calculator's formula.

The conv kernel reads a padded input laid out channels last within each group,
(N, G, D, H, W, C/G), and weights in the same order, (G, F, KD, KH, KW, C/G), which each
thread lays out for the filters it computes. Then the C/G channels under one tap are
contiguous in both, and with unit width dilation so is a whole kernel row (KW·C/G
values): a "run". A dot product over a run is a unit-stride
loop LLVM vectorises. Four filters and two output positions (neighbours in the plane read
row by row) share each run, so each loaded input value feeds four multiplies and each
weight two, which keeps the loop on arithmetic rather than on loads; the eight sums stay
in registers over the whole window and are written once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from convcalc.reference.ops._dot import DOT_FASTMATH
from convcalc.reference.ops._lift import (
    KERNEL_RANK,
    IntPerDim,
    as_float32,
    bias_or_zeros,
    lift,
    lift_values,
)
from convcalc.reference.ops._op import Arrays, Op, Outcome
from convcalc.reference.ops._threads import in_numbered_parts, in_parallel, parts
from convcalc.reference.ops._window import (
    WindowOptions,
    only,
    place_windows,
    spatial_per_dim,
    taps_on_input,
    window_options,
)

if TYPE_CHECKING:
    from convcalc.layers.conv import Conv, ConvTranspose
    from convcalc.results import LayerRow

__all__ = ["FILTER_TILE", "conv", "conv_transpose", "convolve", "convolve_transposed"]

FILTER_TILE = 4
"""Filters one conv work item computes together, so each input value loaded feeds four."""

ELEMENT_BYTES = 4


@njit(cache=True, nogil=True, fastmath=DOT_FASTMATH)
def _conv_kernel(
    x_padded: np.ndarray,
    weight: np.ndarray,
    weight_runs: np.ndarray,
    tiles_in_slots: bool,
    bias: np.ndarray,
    y: np.ndarray,
    stride: tuple[int, int, int],
    dilation: tuple[int, int, int],
    part: int,
    start: int,
    stop: int,
) -> int:
    """Fill work items ``start`` to ``stop`` of ``y`` with a grouped 3-D convolution;
    return the MACs.

    ``x_padded`` is (N, G, D, H, W, C/G), already zero padded; ``weight`` is PyTorch's
    (G, F, C/G, KD, KH, KW); ``y`` is (N, G·F, OD, OH, OW), its window counts placed by
    `place_windows`. ``weight_runs`` holds G·F filters laid out (KD, KH, KW, C/G): with
    ``tiles_in_slots`` range ``part`` lays out each tile it meets itself, into slot
    ``part`` (FILTER_TILE filters from the start), where it stays in cache while used;
    without, it holds every filter in place, laid out beforehand. A work item is one
    group, tile of FILTER_TILE filters and batch item, the batch item counted fastest, so
    a range lays out each of its tiles once.
    It takes the output positions of its plane two at a time (the last alone when their
    number is odd) and sums each of the tile's eight outputs in a local over the whole
    window, then writes it once. A tile short of filters (depthwise, or F not a multiple
    of four) repeats its last filter in the missing places and writes only its own: one
    loop for every case, so there is one to compile.
    """
    batch, groups, padded_d, padded_h, padded_w, group_channels = x_padded.shape
    filters_per_group = weight.shape[1]
    kernel_d, kernel_h, kernel_w = weight.shape[3:]
    out_channels, out_d, out_h, out_w = y.shape[1:]
    positions = out_d * out_h * out_w

    x_flat = x_padded.reshape(-1)
    w_torch = weight.reshape(-1)
    w_flat = weight_runs.reshape(-1)
    y_flat = y.reshape(-1)
    x_row_step = padded_w * group_channels
    x_plane_step = padded_h * x_row_step
    x_group_step = padded_d * x_plane_step
    filter_step = kernel_d * kernel_h * kernel_w * group_channels
    if dilation[2] == 1:
        runs_per_row = 1
        run_length = kernel_w * group_channels
    else:
        runs_per_row = kernel_w
        run_length = group_channels

    tiles_per_group = (filters_per_group + FILTER_TILE - 1) // FILTER_TILE
    macs = 0
    for item in range(start, stop):
        n = item % batch
        g = item // (batch * tiles_per_group)
        first_filter = item // batch % tiles_per_group * FILTER_TILE
        tile_filters = min(FILTER_TILE, filters_per_group - first_filter)
        first_channel = g * filters_per_group + first_filter
        x_group = (n * groups + g) * x_group_step
        w_tile = first_channel * filter_step
        if tiles_in_slots:
            w_tile = part * FILTER_TILE * filter_step
            if n == 0 or item == start:
                # (C/G, KD, KH, KW) to (KD, KH, KW, C/G), filter by filter
                taps = kernel_d * kernel_h * kernel_w
                for t in range(tile_filters):
                    source = (first_channel + t) * filter_step
                    target = w_tile + t * filter_step
                    for tap in range(taps):
                        # one tap's channels: a strided read, a contiguous write (views, so
                        # LLVM sees loops from index 0)
                        channels_from = w_torch[source + tap : source + filter_step : taps]
                        channels_to = w_flat[target + tap * group_channels
                                             : target + (tap + 1) * group_channels]
                        for c in range(group_channels):
                            channels_to[c] = channels_from[c]
        y_tile = (n * out_channels + first_channel) * positions
        # where filters 1 to 3 of the tile start, the last real one standing in for any missing
        last_filter = (tile_filters - 1) * filter_step
        w_1 = min(filter_step, last_filter)
        w_2 = min(2 * filter_step, last_filter)
        w_3 = min(3 * filter_step, last_filter)
        # position p's coordinates, counted rather than divided out of p (a division per
        # pair cost a third of the time of a small layer)
        pd = ph = pw = 0
        for p in range(0, positions, 2):
            qd, qh, qw = pd, ph, pw + 1  # q = p + 1, or p itself when p is the last
            if qw == out_w:
                qd, qh, qw = (qd + 1, 0, 0) if qh + 1 == out_h else (qd, qh + 1, 0)
            q = p + 1
            if q == positions:
                q, qd, qh, qw = p, pd, ph, pw
            x_a = (x_group + pd * stride[0] * x_plane_step + ph * stride[1] * x_row_step
                   + pw * stride[2] * group_channels)
            x_b = (x_group + qd * stride[0] * x_plane_step + qh * stride[1] * x_row_step
                   + qw * stride[2] * group_channels)
            pd, ph, pw = qd, qh, qw + 1  # p + 2
            if pw == out_w:
                pd, ph, pw = (pd + 1, 0, 0) if ph + 1 == out_h else (pd, ph + 1, 0)
            s0a = s1a = s2a = s3a = s0b = s1b = s2b = s3b = np.float32(0.0)
            for kd in range(kernel_d):
                for kh in range(kernel_h):
                    for run in range(runs_per_row):
                        x_run = (kd * dilation[0] * x_plane_step + kh * dilation[1] * x_row_step
                                 + run * dilation[2] * group_channels)
                        w_run = w_tile + ((kd * kernel_h + kh) * kernel_w + run) * group_channels
                        # Slices give LLVM unit-stride loops from index 0, which it vectorises.
                        xa = x_flat[x_a + x_run : x_a + x_run + run_length]
                        xb = x_flat[x_b + x_run : x_b + x_run + run_length]
                        w0 = w_flat[w_run : w_run + run_length]
                        w1 = w_flat[w_run + w_1 : w_run + w_1 + run_length]
                        w2 = w_flat[w_run + w_2 : w_run + w_2 + run_length]
                        w3 = w_flat[w_run + w_3 : w_run + w_3 + run_length]
                        for j in range(run_length):
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
            sums_a = (s0a, s1a, s2a, s3a)
            sums_b = (s0b, s1b, s2b, s3b)
            for t in range(tile_filters):
                y_flat[y_tile + t * positions + p] = sums_a[t] + bias[first_channel + t]
                macs += filter_step
                if q != p:  # the last position of an odd count has no partner
                    y_flat[y_tile + t * positions + q] = sums_b[t] + bias[first_channel + t]
                    macs += filter_step
    return macs


def _padded_taps(out_size: tuple[int, int, int], kernel: tuple[int, int, int],
                 stride: tuple[int, int, int], dilation: tuple[int, int, int],
                 input_shape: tuple[int, int, int], pad_before: tuple[int, int, int]) -> int:
    """Return how many taps of one output channel's windows, per input channel, read
    padding: ``input_shape`` and ``pad_before`` say where the real input sits."""
    # A tap reads real input only if it does in every dimension, so the taps on input over
    # all output positions are the product of the per-dimension counts.
    on_input = 1
    all_taps = 1
    for dim in range(3):
        on_input *= taps_on_input(out_size[dim], kernel[dim], stride[dim], dilation[dim],
                                  input_shape[dim], pad_before[dim])
        all_taps *= out_size[dim] * kernel[dim]
    return all_taps - on_input


def convolve(
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
    lifted = lift(x)
    x5 = lifted.x
    batch, in_channels = x5.shape[:2]
    weight = as_float32(weight, "weight")
    if weight.ndim != lifted.rank + 2:
        raise ValueError(f"weight must be (C_out, C_in/groups, *K), not {weight.shape}")
    out_channels, group_channels = weight.shape[:2]
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide C_in={in_channels} and C_out={out_channels}")
    if group_channels != in_channels // groups:
        raise ValueError(f"weight has {group_channels} input channels, expected C_in/groups")
    before = lifted.options(pad_before, "pad_before", 0)
    after = lifted.options(pad_after, "pad_after", 0)
    # padded and laid out channels last in one numpy copy into the zeros
    padded_size = tuple(b + size + a for b, size, a in zip(before, x5.shape[2:], after,
                                                             strict=True))
    x_channels_last = np.zeros((batch, groups, *padded_size, group_channels), np.float32)
    x_channels_last[:, :, before[0] : before[0] + x5.shape[2],
                    before[1] : before[1] + x5.shape[3],
                    before[2] : before[2] + x5.shape[4]] = x5.reshape(
        batch, groups, group_channels, *x5.shape[2:]).transpose(0, 1, 3, 4, 5, 2)
    kernel_shape = lift_values(weight.shape[2:], 1)
    filters_per_group = out_channels // groups
    w_torch = weight.reshape(groups, filters_per_group, group_channels, *kernel_shape)
    tiles_per_group = (filters_per_group + FILTER_TILE - 1) // FILTER_TILE
    items = batch * groups * tiles_per_group
    # Each range lays out its own tiles in a slot of the channels-last copy (on the
    # threads, and in cache when used) when a slot per range fits in it; else numpy lays
    # out the whole copy first. The same array either way.
    tiles_in_slots = parts(items) * FILTER_TILE <= out_channels
    if tiles_in_slots:
        w_channels_last = np.empty((groups, filters_per_group, *kernel_shape, group_channels),
                                   np.float32)
    else:
        w_channels_last = np.ascontiguousarray(w_torch.transpose(0, 1, 3, 4, 5, 2))
    lifted_stride = lifted.options(stride, "stride", 1)
    lifted_dilation = lifted.options(dilation, "dilation", 1)
    out_size = lift_values([
        place_windows(length, 0, 0, d * (k - 1) + 1, s, False)
        for length, k, s, d in zip(padded_size, kernel_shape, lifted_stride,
                                   lifted_dilation, strict=True)
    ], 1)
    y = np.empty((batch, out_channels, *out_size), np.float32)
    macs = in_numbered_parts(_conv_kernel, items, x_channels_last, w_torch, w_channels_last,
                             tiles_in_slots, bias_or_zeros(bias, out_channels), y,
                             lifted_stride, lifted_dilation)
    taps = _padded_taps(out_size, kernel_shape, lifted_stride, lifted_dilation,
                        lift_values(x5.shape[2:][KERNEL_RANK - lifted.rank :], 1), before)
    padded_taps = batch * out_channels * group_channels * taps
    return lifted.drop(y), int(macs), int(padded_taps)


@njit(cache=True, nogil=True)
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
    start: int,
    stop: int,
) -> int:
    """Fill output planes ``start`` to ``stop`` of ``y`` with a grouped 3-D transposed
    convolution, PyTorch's meaning; return the MACs.

    Each input element at ``i`` scatters ``x·w[k]`` to ``i·S + k·D`` of the full result
    ``full`` (zeros; ``output_padding`` makes it longer at the end), and ``padding`` crops
    it on both sides into ``y``. ``x`` is (N, C_in, D, H, W); ``weight`` is
    (C_in, C_out/groups, KD, KH, KW). A work item is one output plane (batch item and
    output channel), so the scatters of different items never meet.
    """
    in_channels, in_d, in_h, in_w = x.shape[1:]
    filters_per_group, kernel_d, kernel_h, kernel_w = weight.shape[1:]
    group_channels = in_channels // groups
    out_channels = groups * filters_per_group

    macs = 0
    for item in range(start, stop):
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
        for o_d in range(y.shape[2]):
            for o_h in range(y.shape[3]):
                for o_w in range(y.shape[4]):
                    y[n, out_channel, o_d, o_h, o_w] = (
                        full[n, out_channel, o_d + padding[0], o_h + padding[1], o_w + padding[2]]
                        + bias[out_channel]
                    )
    return macs


def convolve_transposed(
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
    lifted = lift(x)
    x5 = lifted.x
    in_channels = x5.shape[1]
    weight = as_float32(weight, "weight")
    if weight.ndim != lifted.rank + 2 or weight.shape[0] != in_channels:
        raise ValueError(f"weight must be (C_in, C_out/groups, *K), not {weight.shape}")
    if groups < 1 or in_channels % groups:
        raise ValueError(f"groups={groups} must divide C_in={in_channels}")
    out_channels = groups * weight.shape[1]
    lifted_padding = lifted.options(padding, "padding", 0)
    lifted_stride = lifted.options(stride, "stride", 1)
    lifted_dilation = lifted.options(dilation, "dilation", 1)
    extra = lifted.options(output_padding, "output_padding", 0)
    kernel_shape = lift_values(weight.shape[2:], 1)
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
    macs = in_parallel(_conv_transpose_kernel, x5.shape[0] * out_channels, x5,
                       weight.reshape(weight.shape[:2] + kernel_shape),
                       bias_or_zeros(bias, out_channels), full, y, groups, lifted_stride,
                       lifted_dilation, lifted_padding)
    return lifted.drop(y), int(macs)


# --------------------------------------------------------------------------------------
# The ops


def _options(layer: Conv | ConvTranspose, dims: tuple[int, ...]) -> WindowOptions:
    return window_options(layer, dims, crops=layer.type == "conv_transpose")


def _groups(layer: Conv | ConvTranspose, channels: int) -> int:
    """Return the layer's groups on ``channels`` input channels (depthwise: one each)."""
    return channels if layer.groups == "depthwise" else layer.groups


def _run_conv(layer: Conv, x: np.ndarray, arrays: Arrays, index: int) -> Outcome:
    options = _options(layer, x.shape[2:])
    groups = _groups(layer, x.shape[1])
    per_group = x.shape[1] // groups
    weight, bias = arrays.weighted(index, (layer.filters, per_group, *options.kernel),
                                   layer.filters, per_group * math.prod(options.kernel),
                                   layer.bias)
    y, macs, padded_taps = convolve(x, weight, bias, options.stride, options.dilation,
                                    options.pad_before, options.pad_after, groups)
    return y, weight.size + (0 if bias is None else bias.size), 0, macs, padded_taps


def _run_transposed(layer: ConvTranspose, x: np.ndarray, arrays: Arrays,
                    index: int) -> Outcome:
    options = _options(layer, x.shape[2:])
    channels = x.shape[1]
    groups = _groups(layer, channels)
    # each output sums about C/groups·∏K/∏S products
    fan_in = max(channels // groups * math.prod(options.kernel)
                 // math.prod(options.stride), 1)
    weight, bias = arrays.weighted(
        index, (channels, layer.filters // groups, *options.kernel), layer.filters,
        fan_in, layer.bias)
    y, macs = convolve_transposed(x, weight, bias, options.stride, options.dilation,
                                  options.pad_before,
                                  spatial_per_dim(layer.output_padding, x.ndim - 2),
                                  groups)
    return y, weight.size + (0 if bias is None else bias.size), 0, macs, None


def _ones_along(options: WindowOptions, axis: int) -> np.ndarray:
    return np.ones((1, 1, *only(options.kernel, axis, 1)), np.float32)


def _probe_conv(layer: Conv, x: np.ndarray, axis: int, dims: tuple[int, ...]) -> np.ndarray:
    options = _options(layer, dims)
    return convolve(x, _ones_along(options, axis), None, only(options.stride, axis, 1),
                    only(options.dilation, axis, 1), only(options.pad_before, axis, 0),
                    only(options.pad_after, axis, 0), 1)[0]


def _probe_transposed(layer: ConvTranspose, x: np.ndarray, axis: int,
                      dims: tuple[int, ...]) -> np.ndarray:
    options = _options(layer, dims)
    extra = only(spatial_per_dim(layer.output_padding, len(dims)), axis, 0)
    return convolve_transposed(x, _ones_along(options, axis), None,
                               only(options.stride, axis, 1), only(options.dilation, axis, 1),
                               only(options.pad_before, axis, 0), extra, 1)[0]


def _taps(layer: Conv | ConvTranspose, dims: tuple[int, ...], dim: int) -> int:
    return _options(layer, dims).kernel[dim]


def _padded_size(layer: Conv, dims: tuple[int, ...]) -> list[int]:
    """Return a convolution's padded input size per dim."""
    options = _options(layer, dims)
    return [size + before + after for size, before, after in zip(
        dims, options.pad_before, options.pad_after, strict=True)]


def _full_size(layer: ConvTranspose, dims: tuple[int, ...]) -> list[int]:
    """Return a transposed convolution's uncropped result size per dim."""
    options = _options(layer, dims)
    return [(size - 1) * s + d * (k - 1) + 1 + extra for size, k, s, d, extra in zip(
        dims, options.kernel, options.stride, options.dilation,
        spatial_per_dim(layer.output_padding, len(dims)), strict=True)]


def _zero_bias(layer: Conv | ConvTranspose, row: LayerRow) -> int:
    return 0 if layer.bias else row.output_shape[0] * ELEMENT_BYTES


def _conv_scratch(layer: Conv, row: LayerRow, batch: int) -> int:
    # the padded input counted twice, an upper bound (padding and the channels-last copy
    # were two arrays; they are one numpy copy now, and verify's reported figure is kept),
    # and the weights' channels-last copy
    padded_input = batch * row.input_shape[0] * math.prod(_padded_size(layer, row.input_shape[1:]))
    weights = (row.params + row.non_trainable_params) * ELEMENT_BYTES
    return 2 * padded_input * ELEMENT_BYTES + weights + _zero_bias(layer, row)


def _conv_probe_scratch(layer: Conv, row: LayerRow, dim: int) -> int:
    # the padded line twice, as `_conv_scratch` counts the padded input
    return 2 * _padded_size(layer, row.input_shape[1:])[dim] * ELEMENT_BYTES


def _transposed_scratch(layer: ConvTranspose, row: LayerRow, batch: int) -> int:
    full = batch * row.output_shape[0] * math.prod(_full_size(layer, row.input_shape[1:]))
    return full * ELEMENT_BYTES + _zero_bias(layer, row)


def _transposed_probe_scratch(layer: ConvTranspose, row: LayerRow, dim: int) -> int:
    return _full_size(layer, row.input_shape[1:])[dim] * ELEMENT_BYTES


conv = Op(convolve, _run_conv, _probe_conv, taps=_taps, value_scratch=_conv_scratch,
          probe_scratch=_conv_probe_scratch)
"""A convolution: ``conv(x, weight, bias, stride, dilation, pad_before, pad_after,
groups)`` gives ``(y, macs, padded_taps)``."""

conv_transpose = Op(convolve_transposed, _run_transposed, _probe_transposed, taps=_taps,
                    value_scratch=_transposed_scratch,
                    probe_scratch=_transposed_probe_scratch)
"""A transposed convolution: ``conv_transpose(x, weight, bias, stride, dilation, padding,
output_padding, groups)`` gives ``(y, macs)``."""
