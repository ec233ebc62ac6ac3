"""Tests of convcalc.reference.kernels against independent numpy code and, if it imports, torch.

The numpy oracles work in float64 from explicit padding and sliding windows (or a scatter
per kernel tap), so they share no code and no loop structure with the kernels. Geometries
come from hypothesis, plus named cases for the awkward corners.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from convcalc.reference import kernels
from convcalc.reference.ops._op import MergeOp, Op

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the numpy half of the suite runs without torch
    torch = None  # type: ignore[assignment]

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

# numba compiles on first call, which hypothesis would count against the deadline.
FEW = settings(max_examples=25, deadline=None)
SOME = settings(max_examples=40, deadline=None)

SPATIAL = "xyz"
TAPS = "uvw"


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    """Assert equal shapes and values within 1e-4 relative, with an absolute floor."""
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == np.float32
    finite = np.abs(expected[np.isfinite(expected)])
    scale = float(finite.max()) if finite.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5 * max(scale, 1.0))


def random_array(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Return standard-normal float32 values of ``shape`` from ``seed``."""
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def as_torch(array: np.ndarray) -> torch.Tensor:
    """Return ``array`` as a torch tensor sharing its memory."""
    return torch.from_numpy(np.ascontiguousarray(array))


def torch_pad_order(pad_before: tuple[int, ...], pad_after: tuple[int, ...]) -> tuple[int, ...]:
    """Return per-dim padding in F.pad's order: last dimension first, (before, after)."""
    order: list[int] = []
    for before, after in zip(reversed(pad_before), reversed(pad_after), strict=True):
        order += [before, after]
    return tuple(order)


# --------------------------------------------------------------------------------------
# Geometry strategies


@dataclass(frozen=True)
class Window:
    """One spatial dimension of a windowed layer."""

    size: int
    kernel: int
    stride: int
    dilation: int
    pad_before: int
    pad_after: int

    @property
    def span(self) -> int:
        """Return the extent of the dilated kernel."""
        return self.dilation * (self.kernel - 1) + 1


@dataclass(frozen=True)
class ConvCase:
    """A conv to run: geometry per dimension, channels, batch, bias or not, data seed."""

    dims: list[Window]
    groups: int
    in_channels: int
    out_channels: int
    batch: int
    with_bias: bool
    seed: int


@dataclass(frozen=True)
class TransposeCase:
    """A transposed conv to run, in PyTorch's terms; weight is (C_in, filters_per_group, *K)."""

    size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[int, ...]
    output_padding: tuple[int, ...]
    groups: int
    in_channels: int
    filters_per_group: int
    batch: int
    with_bias: bool
    seed: int


@dataclass(frozen=True)
class PoolCase:
    """A pool to run: geometry per dimension, ceil_mode, input shape, data seed."""

    dims: list[Window]
    ceil_mode: bool
    shape: tuple[int, ...]
    seed: int


@dataclass(frozen=True)
class AdaptiveCase:
    """An adaptive pool to run: input shape, output size, data seed."""

    shape: tuple[int, ...]
    output_size: tuple[int, ...]
    seed: int


def field(windows: list[Window], name: str) -> tuple[int, ...]:
    """Return one attribute of every dimension, as a per-dim tuple."""
    return tuple(getattr(w, name) for w in windows)


@st.composite
def windows(
    draw: st.DrawFn,
    rank: int,
    max_kernel: int = 4,
    max_dilation: int = 2,
    pad_below_span: bool = False,
) -> list[Window]:
    """Draw one window geometry per dimension whose dilated kernel fits the padded input.

    ``pad_below_span`` keeps each side's padding under the span, so that no window lies
    wholly in padding (pools need that for a defined result).
    """
    dims = []
    for _ in range(rank):
        kernel = draw(st.integers(1, max_kernel if rank < 3 else min(max_kernel, 3)))
        dilation = draw(st.integers(1, max_dilation))
        span = dilation * (kernel - 1) + 1
        max_pad = span - 1 if pad_below_span else 2
        pad_before = draw(st.integers(0, max_pad))
        pad_after = draw(st.integers(0, max_pad))
        size = draw(
            st.integers(max(1, span - pad_before - pad_after), span + (4 if rank == 3 else 7))
        )
        stride = draw(st.integers(1, 3))
        dims.append(Window(size, kernel, stride, dilation, pad_before, pad_after))
    return dims


RANKS = st.sampled_from([1, 2, 3])
SEEDS = st.integers(0, 2**32 - 1)


# --------------------------------------------------------------------------------------
# Numpy oracles


def window_view(padded: np.ndarray, dims: list[Window], out: tuple[int, ...]) -> np.ndarray:
    """Return ``padded[..., *windows]`` as (N, C, *out, *K): strided, dilated windows."""
    rank = len(dims)
    view = sliding_window_view(padded, field(dims, "span"), axis=tuple(range(2, 2 + rank)))
    window_starts = [slice(0, o * w.stride, w.stride) for o, w in zip(out, dims, strict=True)]
    taps = [slice(None, None, w.dilation) for w in dims]
    index = (slice(None), slice(None), *window_starts, *taps)
    return view[index]


def expected_conv_out(w: Window) -> int:
    """Return the conv output length, floor((L + P − span)/S) + 1."""
    return (w.size + w.pad_before + w.pad_after - w.span) // w.stride + 1


def numpy_conv(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, dims: list[Window], groups: int
) -> tuple[np.ndarray, int]:
    """Return the grouped conv by padding, sliding windows and einsum, and its padded taps."""
    rank = len(dims)
    batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    out = tuple(expected_conv_out(w) for w in dims)
    pads = [(0, 0), (0, 0)] + [(w.pad_before, w.pad_after) for w in dims]
    patches = window_view(np.pad(x.astype(np.float64), pads), dims, out)
    patches = patches.reshape(batch, groups, channels // groups, *patches.shape[2:])
    grouped_weight = weight.astype(np.float64).reshape(
        groups, out_channels // groups, channels // groups, *weight.shape[2:]
    )
    o, k = SPATIAL[:rank], TAPS[:rank]
    y = np.einsum(f"ngc{o}{k},gfc{k}->ngf{o}", patches, grouped_weight)
    y = y.reshape(batch, out_channels, *out) + bias.reshape((-1,) + (1,) * rank)

    # Taps on real input: slide the same windows over a mask that is 1 on the input.
    mask = np.pad(np.ones((1, 1, *x.shape[2:])), pads)
    taps_on_input = int(window_view(mask, dims, out).sum())
    all_taps = math.prod(out) * math.prod(weight.shape[2:])
    padded_taps = batch * out_channels * (channels // groups) * (all_taps - taps_on_input)
    return y, padded_taps


def numpy_conv_transpose(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[int, ...],
    output_padding: tuple[int, ...],
    groups: int,
) -> np.ndarray:
    """Return the transposed conv by scattering each kernel tap's product, then cropping."""
    rank = x.ndim - 2
    batch, channels, *in_size = x.shape
    filters, kernel = weight.shape[1], weight.shape[2:]
    full = [
        (length - 1) * s + d * (k - 1) + 1 + op
        for length, s, d, k, op in zip(
            in_size, stride, dilation, kernel, output_padding, strict=True
        )
    ]
    result = np.zeros((batch, groups, filters, *full))
    grouped_x = x.astype(np.float64).reshape(batch, groups, channels // groups, *in_size)
    grouped_w = weight.astype(np.float64).reshape(groups, channels // groups, filters, *kernel)
    i = SPATIAL[:rank]
    for tap in np.ndindex(*kernel):
        product = np.einsum(f"ngc{i},gcf->ngf{i}", grouped_x, grouped_w[(Ellipsis, *tap)])
        region = tuple(
            slice(t * d, t * d + (length - 1) * s + 1, s)
            for t, d, s, length in zip(tap, dilation, stride, in_size, strict=True)
        )
        result[(slice(None),) * 3 + region] += product
    crop = tuple(slice(p, length - p) for p, length in zip(padding, full, strict=True))
    cropped: np.ndarray = result[(slice(None),) * 3 + crop]
    y: np.ndarray = cropped.reshape(batch, groups * filters, *cropped.shape[3:])
    return np.asarray(y + bias.reshape((-1,) + (1,) * rank))


def expected_pool_out(w: Window, ceil_mode: bool) -> int:
    """Return PyTorch's pool output length, including ceil_mode's dropped last window."""
    span = w.size + w.pad_before + w.pad_after - w.span
    if not ceil_mode:
        return span // w.stride + 1
    out = -(-span // w.stride) + 1
    return out - 1 if (out - 1) * w.stride >= w.size + w.pad_before else out


def overhang(w: Window, out: int) -> int:
    """Return how far a ceil-mode last window reaches past the padded input."""
    return max(0, (out - 1) * w.stride + w.span - (w.pad_before + w.size + w.pad_after))


def padded_for_pool(
    x: np.ndarray, dims: list[Window], out: tuple[int, ...], fill: float
) -> np.ndarray:
    """Return ``x`` padded with ``fill``, extended on the right to hold a ceil-mode window."""
    pads = [(0, 0), (0, 0)] + [
        (w.pad_before, w.pad_after + overhang(w, o)) for w, o in zip(dims, out, strict=True)
    ]
    return np.pad(x.astype(np.float64), pads, constant_values=fill)


def numpy_max_pool(x: np.ndarray, dims: list[Window], ceil_mode: bool) -> np.ndarray:
    """Return the max pool from −∞ padding and sliding windows."""
    out = tuple(expected_pool_out(w, ceil_mode) for w in dims)
    view = window_view(padded_for_pool(x, dims, out, -np.inf), dims, out)
    return np.asarray(view.max(axis=tuple(range(-len(dims), 0))))


def numpy_avg_pool(
    x: np.ndarray, dims: list[Window], ceil_mode: bool, count_include_pad: bool
) -> np.ndarray:
    """Return the average pool: window sums divided by window sums of a mask of what counts."""
    out = tuple(expected_pool_out(w, ceil_mode) for w in dims)
    window_axes = tuple(range(-len(dims), 0))
    sums = window_view(padded_for_pool(x, dims, out, 0.0), dims, out).sum(axis=window_axes)
    if count_include_pad:
        # The padding counts; the overhang of a ceil-mode window past it does not.
        padded_ones = np.ones((1, 1, *tuple(w.pad_before + w.size + w.pad_after for w in dims)))
        counted = np.pad(
            padded_ones,
            [(0, 0), (0, 0)] + [(0, overhang(w, o)) for w, o in zip(dims, out, strict=True)],
        )
    else:
        counted = padded_for_pool(np.ones((1, 1, *x.shape[2:])), dims, out, 0.0)
    return np.asarray(sums / window_view(counted, dims, out).sum(axis=window_axes))


def numpy_adaptive_pool(x: np.ndarray, output_size: tuple[int, ...], reduce: str) -> np.ndarray:
    """Return the adaptive pool by slicing PyTorch's window for each output position."""
    rank = len(output_size)
    y = np.empty(x.shape[:2] + output_size)
    for position in np.ndindex(*output_size):
        window = tuple(
            slice(math.floor(o * length / out), math.ceil((o + 1) * length / out))
            for o, length, out in zip(position, x.shape[2:], output_size, strict=True)
        )
        values = x[(slice(None), slice(None), *window)].astype(np.float64)
        axes = tuple(range(2, 2 + rank))
        y[(slice(None), slice(None), *position)] = (
            values.max(axis=axes) if reduce == "max" else values.mean(axis=axes)
        )
    return y


# --------------------------------------------------------------------------------------
# Convolution


@st.composite
def conv_cases(draw: st.DrawFn, rank: int | None = None) -> ConvCase:
    """Draw a conv: geometry, channels per group, filters per group, batch, bias."""
    rank = draw(RANKS) if rank is None else rank
    groups = draw(st.integers(1, 3))
    return ConvCase(
        dims=draw(windows(rank)),
        groups=groups,
        in_channels=groups * draw(st.integers(1, 3)),
        # Up to 9 filters per group: a full tile of four, two, or one plus a remainder.
        out_channels=groups * draw(st.integers(1, 9)),
        batch=draw(st.integers(1, 2)),
        with_bias=draw(st.booleans()),
        seed=draw(SEEDS),
    )


def conv_arrays(case: ConvCase) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return the input, weight and bias (or None) a conv case describes."""
    dims, seed = case.dims, case.seed
    x = random_array(seed, (case.batch, case.in_channels, *field(dims, "size")))
    weight = random_array(
        seed + 1,
        (case.out_channels, case.in_channels // case.groups, *field(dims, "kernel")),
    )
    bias = random_array(seed + 2, (case.out_channels,)) if case.with_bias else None
    return x, weight, bias


def run_conv(case: ConvCase) -> tuple[np.ndarray, int, int]:
    """Return the reference kernel's ``conv`` on a conv case."""
    x, weight, bias = conv_arrays(case)
    dims = case.dims
    return kernels.conv(
        x,
        weight,
        bias,
        field(dims, "stride"),
        field(dims, "dilation"),
        field(dims, "pad_before"),
        field(dims, "pad_after"),
        case.groups,
    )


def check_conv_against_numpy(case: ConvCase) -> None:
    """Assert the conv's output, MACs and padded taps against the numpy oracle."""
    x, weight, bias = conv_arrays(case)
    y, macs, padded_taps = run_conv(case)
    bias_values = np.zeros(case.out_channels) if bias is None else bias
    expected, expected_padded_taps = numpy_conv(x, weight, bias_values, case.dims, case.groups)
    assert_close(y, expected)
    out = tuple(expected_conv_out(w) for w in case.dims)
    assert macs == (
        case.batch
        * case.out_channels
        * math.prod(out)
        * (case.in_channels // case.groups)
        * math.prod(field(case.dims, "kernel"))
    )
    assert padded_taps == expected_padded_taps


def check_conv_against_torch(case: ConvCase) -> None:
    """Assert the conv's output against torch's convNd on an F.pad-ded input."""
    x, weight, bias = conv_arrays(case)
    dims = case.dims
    rank = len(dims)
    conv_nd = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]
    expected = conv_nd(
        F.pad(as_torch(x), torch_pad_order(field(dims, "pad_before"), field(dims, "pad_after"))),
        as_torch(weight),
        None if bias is None else as_torch(bias),
        stride=field(dims, "stride"),
        dilation=field(dims, "dilation"),
        groups=case.groups,
    )
    assert_close(run_conv(case)[0], expected.numpy())


def named_conv_case(
    size: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pad_before: tuple[int, ...],
    pad_after: tuple[int, ...],
    in_channels: int,
    out_channels: int,
    groups: int,
) -> ConvCase:
    """Return a conv case written out by hand."""
    dims = [
        Window(*values)
        for values in zip(size, kernel, stride, dilation, pad_before, pad_after, strict=True)
    ]
    return ConvCase(dims, groups, in_channels, out_channels, batch=2, with_bias=True, seed=7)


AWKWARD_CONVS = {
    # TensorFlow "same" with an even kernel: one more zero after than before.
    "even kernel, same padding": named_conv_case(
        (7, 8), (4, 4), (1, 1), (1, 1), (1, 1), (2, 2), 3, 8, 1
    ),
    "even kernel, same padding, stride 2": named_conv_case(
        (9, 9), (4, 2), (2, 2), (1, 1), (1, 0), (2, 1), 4, 5, 1
    ),
    "depthwise": named_conv_case((6, 7), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 6, 6, 6),
    "depthwise, channel multiplier 2": named_conv_case(
        (6, 7), (3, 3), (2, 1), (1, 1), (1, 1), (1, 1), 4, 8, 4
    ),
    "dilation with stride": named_conv_case(
        (11, 10), (3, 3), (2, 3), (2, 2), (2, 1), (2, 0), 3, 4, 1
    ),
    "groups with a short filter tile, odd output width": named_conv_case(
        (5, 9), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 6, 14, 2
    ),
    "1-D, dilated and strided": named_conv_case((20,), (5,), (3,), (2,), (1,), (3,), 3, 9, 1),
    "3-D, grouped, asymmetric": named_conv_case(
        (5, 6, 7), (3, 2, 3), (1, 2, 1), (2, 1, 1), (1, 0, 2), (1, 1, 0), 4, 6, 2
    ),
    "1×1, stride 2": named_conv_case((9, 9), (1, 1), (2, 2), (1, 1), (0, 0), (0, 0), 8, 8, 1),
    "kernel wider than the input, padding makes room": named_conv_case(
        (2, 3), (5, 5), (1, 1), (1, 1), (2, 1), (2, 2), 2, 4, 1
    ),
}


@FEW
@given(case=conv_cases())
def test_conv_matches_numpy_with_exact_counts(case: ConvCase) -> None:
    """conv equals padded sliding-window einsum; MACs and padded taps equal the hand formulas."""
    check_conv_against_numpy(case)


@needs_torch
@FEW
@given(case=conv_cases())
def test_conv_matches_torch(case: ConvCase) -> None:
    """conv equals torch's conv1d/2d/3d on an explicitly padded input."""
    check_conv_against_torch(case)


@pytest.mark.parametrize("case", AWKWARD_CONVS.values(), ids=AWKWARD_CONVS.keys())
def test_conv_awkward_geometry_matches_numpy(case: ConvCase) -> None:
    """conv gets even kernels with asymmetric padding, depthwise and dilated strided convs right."""
    check_conv_against_numpy(case)


@needs_torch
@pytest.mark.parametrize("case", AWKWARD_CONVS.values(), ids=AWKWARD_CONVS.keys())
def test_conv_awkward_geometry_matches_torch(case: ConvCase) -> None:
    """conv agrees with torch on the awkward geometries too."""
    check_conv_against_torch(case)


def test_conv_padded_taps_worked_by_hand() -> None:
    """A 3-tap 1-D conv padded by 1 on 4 inputs reads padding twice per channel pair."""
    x = np.ones((1, 1, 4), np.float32)
    weight = np.ones((1, 1, 3), np.float32)
    y, macs, padded_taps = kernels.conv(x, weight, None, 1, 1, 1, 1, 1)
    # Windows over [0, x0, x1, x2, x3, 0]: the first and last each hold one zero.
    np.testing.assert_array_equal(y, [[[2, 3, 3, 2]]])
    assert (macs, padded_taps) == (12, 2)


def test_conv_lifts_1d_and_2d_to_the_same_3d_kernel() -> None:
    """A 2-D conv equals the 3-D conv of the same input with a unit depth dimension."""
    x = random_array(1, (2, 4, 6, 7))
    weight = random_array(2, (6, 2, 3, 2))
    y2, macs2, padded2 = kernels.conv(x, weight, None, (2, 1), (1, 2), (1, 0), (0, 1), 2)
    y3, macs3, padded3 = kernels.conv(
        x[:, :, None], weight[:, :, None], None, (1, 2, 1), (1, 1, 2), (0, 1, 0), (0, 0, 1), 2
    )
    np.testing.assert_array_equal(y2, y3[:, :, 0])
    assert (macs2, padded2) == (macs3, padded3)


# --------------------------------------------------------------------------------------
# Transposed convolution


@st.composite
def conv_transpose_cases(draw: st.DrawFn, rank: int | None = None) -> TransposeCase:
    """Draw a transposed conv with PyTorch-valid padding and output_padding."""
    rank = draw(RANKS) if rank is None else rank
    groups = draw(st.integers(1, 3))
    size, kernel, stride, dilation, padding, output_padding = [], [], [], [], [], []
    for _ in range(rank):
        size.append(draw(st.integers(1, 4 if rank == 3 else 6)))
        kernel.append(draw(st.integers(1, 3)))
        stride.append(draw(st.integers(1, 3)))
        dilation.append(draw(st.integers(1, 2)))
        # PyTorch: output_padding < max(stride, dilation), and the output must not be empty.
        output_padding.append(draw(st.integers(0, max(stride[-1], dilation[-1]) - 1)))
        full = (
            (size[-1] - 1) * stride[-1] + dilation[-1] * (kernel[-1] - 1) + 1 + output_padding[-1]
        )
        padding.append(draw(st.integers(0, min(2, (full - 1) // 2))))
    return TransposeCase(
        size=tuple(size),
        kernel=tuple(kernel),
        stride=tuple(stride),
        dilation=tuple(dilation),
        padding=tuple(padding),
        output_padding=tuple(output_padding),
        groups=groups,
        in_channels=groups * draw(st.integers(1, 3)),
        filters_per_group=draw(st.integers(1, 3)),
        batch=draw(st.integers(1, 2)),
        with_bias=draw(st.booleans()),
        seed=draw(SEEDS),
    )


def conv_transpose_arrays(case: TransposeCase) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return the input, weight (C_in, C_out/groups, *K) and bias of a transposed conv case."""
    seed = case.seed
    x = random_array(seed, (case.batch, case.in_channels, *case.size))
    weight = random_array(seed + 1, (case.in_channels, case.filters_per_group, *case.kernel))
    out_channels = case.groups * case.filters_per_group
    bias = random_array(seed + 2, (out_channels,)) if case.with_bias else None
    return x, weight, bias


def run_conv_transpose(case: TransposeCase) -> tuple[np.ndarray, int]:
    """Return the reference kernel's ``conv_transpose`` on a case."""
    x, weight, bias = conv_transpose_arrays(case)
    return kernels.conv_transpose(
        x,
        weight,
        bias,
        case.stride,
        case.dilation,
        case.padding,
        case.output_padding,
        case.groups,
    )


def check_conv_transpose_against_numpy(case: TransposeCase) -> None:
    """Assert the transposed conv's output and MACs against the scatter oracle."""
    x, weight, bias = conv_transpose_arrays(case)
    y, macs = run_conv_transpose(case)
    out_channels = case.groups * case.filters_per_group
    expected = numpy_conv_transpose(
        x,
        weight,
        np.zeros(out_channels) if bias is None else bias,
        case.stride,
        case.dilation,
        case.padding,
        case.output_padding,
        case.groups,
    )
    assert_close(y, expected)
    assert macs == (
        case.batch
        * case.in_channels
        * math.prod(case.size)
        * case.filters_per_group
        * math.prod(case.kernel)
    )


def check_conv_transpose_against_torch(case: TransposeCase) -> None:
    """Assert the transposed conv's output against torch's conv_transposeNd."""
    x, weight, bias = conv_transpose_arrays(case)
    conv_transpose_nd = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[
        len(case.size)
    ]
    expected = conv_transpose_nd(
        as_torch(x),
        as_torch(weight),
        None if bias is None else as_torch(bias),
        stride=case.stride,
        padding=case.padding,
        output_padding=case.output_padding,
        groups=case.groups,
        dilation=case.dilation,
    )
    assert_close(run_conv_transpose(case)[0], expected.numpy())


def named_transpose_case(
    size: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[int, ...],
    output_padding: tuple[int, ...],
) -> TransposeCase:
    """Return a transposed conv case written out by hand: 6 input channels, 3 groups."""
    return TransposeCase(
        size,
        kernel,
        stride,
        dilation,
        padding,
        output_padding,
        groups=3,
        in_channels=6,
        filters_per_group=2,
        batch=2,
        with_bias=True,
        seed=3,
    )


AWKWARD_TRANSPOSES = {
    "stride 2, output_padding 1": named_transpose_case(
        (4, 5), (3, 3), (2, 2), (1, 1), (1, 1), (1, 1)
    ),
    "dilation 3 with output_padding 2": named_transpose_case((5,), (3,), (1,), (3,), (2,), (2,)),
    "3-D, mixed": named_transpose_case(
        (3, 4, 2), (2, 3, 1), (2, 1, 3), (1, 2, 1), (0, 1, 0), (1, 0, 2)
    ),
}


@pytest.mark.parametrize("case", AWKWARD_TRANSPOSES.values(), ids=AWKWARD_TRANSPOSES.keys())
@pytest.mark.parametrize("groups", [1, 3])
def test_conv_transpose_awkward_geometry_matches_numpy(case: TransposeCase, groups: int) -> None:
    """conv_transpose handles output_padding, dilation and 3-D, grouped or not."""
    check_conv_transpose_against_numpy(replace(case, groups=groups))


@needs_torch
@pytest.mark.parametrize("case", AWKWARD_TRANSPOSES.values(), ids=AWKWARD_TRANSPOSES.keys())
@pytest.mark.parametrize("groups", [1, 3])
def test_conv_transpose_awkward_geometry_matches_torch(case: TransposeCase, groups: int) -> None:
    """conv_transpose agrees with torch on the awkward geometries too."""
    check_conv_transpose_against_torch(replace(case, groups=groups))


@FEW
@given(case=conv_transpose_cases())
def test_conv_transpose_matches_numpy_with_exact_macs(case: TransposeCase) -> None:
    """conv_transpose equals the per-tap scatter; MACs = N·C_in·prod(in)·(C_out/g)·prod(K)."""
    check_conv_transpose_against_numpy(case)


@needs_torch
@FEW
@given(case=conv_transpose_cases())
def test_conv_transpose_matches_torch(case: TransposeCase) -> None:
    """conv_transpose equals torch's conv_transpose1d/2d/3d."""
    check_conv_transpose_against_torch(case)


# --------------------------------------------------------------------------------------
# Pooling


@st.composite
def pool_cases(draw: st.DrawFn, symmetric: bool, dilated: bool) -> PoolCase:
    """Draw a pooling geometry; ``symmetric`` keeps padding within torch's kernel/2 limit."""
    rank = draw(RANKS)
    if symmetric:
        dims = []
        for _ in range(rank):
            kernel = draw(st.integers(1, 3 if rank == 3 else 4))
            dilation = draw(st.integers(1, 2)) if dilated else 1
            span = dilation * (kernel - 1) + 1
            padding = draw(st.integers(0, kernel // 2))
            # torch's 3-D pools refuse an input smaller than the kernel, padding or not.
            size = draw(st.integers(span, span + 6))
            dims.append(Window(size, kernel, draw(st.integers(1, 3)), dilation, padding, padding))
    else:
        dims = draw(windows(rank, max_dilation=2 if dilated else 1, pad_below_span=True))
    return PoolCase(
        dims=dims,
        ceil_mode=draw(st.booleans()),
        shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), *field(dims, "size")),
        seed=draw(SEEDS),
    )


def run_max_pool(case: PoolCase) -> np.ndarray:
    """Return the reference kernel's ``max_pool`` on a pool case."""
    dims = case.dims
    return kernels.max_pool(
        random_array(case.seed, case.shape),
        field(dims, "kernel"),
        field(dims, "stride"),
        field(dims, "dilation"),
        field(dims, "pad_before"),
        field(dims, "pad_after"),
        case.ceil_mode,
    )


def run_avg_pool(case: PoolCase, count_include_pad: bool) -> np.ndarray:
    """Return the reference kernel's ``avg_pool`` on a pool case."""
    dims = case.dims
    return kernels.avg_pool(
        random_array(case.seed, case.shape),
        field(dims, "kernel"),
        field(dims, "stride"),
        field(dims, "pad_before"),
        field(dims, "pad_after"),
        case.ceil_mode,
        count_include_pad,
    )


def torch_pool_arguments(case: PoolCase) -> dict[str, Any]:
    """Return the keyword arguments of torch's pool functions for a symmetric pool case."""
    dims = case.dims
    return {
        "kernel_size": field(dims, "kernel"),
        "stride": field(dims, "stride"),
        "padding": field(dims, "pad_before"),
        "ceil_mode": case.ceil_mode,
    }


@SOME
@given(case=pool_cases(symmetric=False, dilated=True))
def test_max_pool_matches_numpy(case: PoolCase) -> None:
    """max_pool equals the max over −∞-padded windows, asymmetric padding and ceil_mode included."""
    expected = numpy_max_pool(random_array(case.seed, case.shape), case.dims, case.ceil_mode)
    assert_close(run_max_pool(case), expected)


@needs_torch
@FEW
@given(case=pool_cases(symmetric=True, dilated=True))
def test_max_pool_matches_torch(case: PoolCase) -> None:
    """max_pool equals torch's max_pool1d/2d/3d, output shape included."""
    pool_nd = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[len(case.dims)]
    x = as_torch(random_array(case.seed, case.shape))
    expected = pool_nd(x, dilation=field(case.dims, "dilation"), **torch_pool_arguments(case))
    assert_close(run_max_pool(case), expected.numpy())


@SOME
@given(case=pool_cases(symmetric=False, dilated=False), count_include_pad=st.booleans())
def test_avg_pool_matches_numpy(case: PoolCase, count_include_pad: bool) -> None:
    """avg_pool divides window sums by the counted part of the window, asymmetric padding too."""
    x = random_array(case.seed, case.shape)
    expected = numpy_avg_pool(x, case.dims, case.ceil_mode, count_include_pad)
    assert_close(run_avg_pool(case, count_include_pad), expected)


@needs_torch
@FEW
@given(case=pool_cases(symmetric=True, dilated=False), count_include_pad=st.booleans())
def test_avg_pool_matches_torch(case: PoolCase, count_include_pad: bool) -> None:
    """avg_pool equals torch's avg_pool1d/2d/3d, divisor and output shape included."""
    pool_nd = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[len(case.dims)]
    x = as_torch(random_array(case.seed, case.shape))
    expected = pool_nd(x, count_include_pad=count_include_pad, **torch_pool_arguments(case))
    assert_close(run_avg_pool(case, count_include_pad), expected.numpy())


def test_ceil_mode_drops_a_last_window_that_starts_in_the_right_padding() -> None:
    """Length 5, kernel 2, stride 2, padding 1, ceil_mode: 3 windows, not ceil(5/2) + 1 = 4."""
    x = np.arange(5, dtype=np.float32).reshape(1, 1, 5)
    # Padded: [-inf, 0, 1, 2, 3, 4, -inf]; a 4th window would start on the right padding.
    np.testing.assert_array_equal(kernels.max_pool(x, 2, 2, 1, 1, 1, True), [[[0, 2, 4]]])
    np.testing.assert_array_equal(kernels.avg_pool(x, 2, 2, 1, 1, True, True), [[[0, 1.5, 3.5]]])


def test_ceil_mode_keeps_a_partial_last_window() -> None:
    """Length 6, kernel 3, stride 2, no padding: ceil_mode adds the window over [4, 5]."""
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    np.testing.assert_array_equal(kernels.max_pool(x, 3, 2, 1, 0, 0, False), [[[2, 4]]])
    np.testing.assert_array_equal(kernels.max_pool(x, 3, 2, 1, 0, 0, True), [[[2, 4, 5]]])
    # The partial window's divisor is the 2 values it covers, with or without count_include_pad.
    np.testing.assert_array_equal(kernels.avg_pool(x, 3, 2, 0, 0, True, True), [[[1, 3, 4.5]]])


def test_avg_pool_count_include_pad_divides_by_the_padded_window() -> None:
    """With count_include_pad a window over one zero of padding divides by the whole kernel."""
    x = np.full((1, 1, 4), 6.0, np.float32)
    np.testing.assert_array_equal(kernels.avg_pool(x, 3, 1, 1, 1, False, True), [[[4, 6, 6, 4]]])
    np.testing.assert_array_equal(kernels.avg_pool(x, 3, 1, 1, 1, False, False), [[[6, 6, 6, 6]]])


@st.composite
def adaptive_cases(draw: st.DrawFn) -> AdaptiveCase:
    """Draw an input shape and an adaptive output size, smaller or larger than the input."""
    rank = draw(RANKS)
    size = tuple(draw(st.integers(1, 5 if rank == 3 else 9)) for _ in range(rank))
    output_size = tuple(draw(st.integers(1, length + 2)) for length in size)
    return AdaptiveCase(
        shape=(draw(st.integers(1, 2)), 3, *size), output_size=output_size, seed=draw(SEEDS)
    )


@FEW
@given(case=adaptive_cases())
def test_adaptive_pools_match_numpy(case: AdaptiveCase) -> None:
    """Adaptive pools reduce over [floor(o·L/O), ceil((o+1)·L/O)) for each output position."""
    x = random_array(case.seed, case.shape)
    assert_close(
        kernels.adaptive_avg_pool(x, case.output_size),
        numpy_adaptive_pool(x, case.output_size, "mean"),
    )
    assert_close(
        kernels.adaptive_max_pool(x, case.output_size),
        numpy_adaptive_pool(x, case.output_size, "max"),
    )


@needs_torch
@FEW
@given(case=adaptive_cases())
def test_adaptive_pools_match_torch(case: AdaptiveCase) -> None:
    """Adaptive pools equal torch's adaptive_avg_pool and adaptive_max_pool in 1, 2 and 3-D."""
    rank = len(case.output_size)
    x = random_array(case.seed, case.shape)
    avg_nd: Callable[..., torch.Tensor] = {
        1: F.adaptive_avg_pool1d,
        2: F.adaptive_avg_pool2d,
        3: F.adaptive_avg_pool3d,
    }[rank]
    max_nd: Callable[..., torch.Tensor] = {
        1: F.adaptive_max_pool1d,
        2: F.adaptive_max_pool2d,
        3: F.adaptive_max_pool3d,
    }[rank]
    assert_close(
        kernels.adaptive_avg_pool(x, case.output_size),
        avg_nd(as_torch(x), case.output_size).numpy(),
    )
    assert_close(
        kernels.adaptive_max_pool(x, case.output_size),
        max_nd(as_torch(x), case.output_size).numpy(),
    )


@pytest.mark.parametrize("spatial", [(7,), (5, 6), (3, 4, 5)])
def test_global_pools_return_one_value_per_channel(spatial: tuple[int, ...]) -> None:
    """Global pools return (N, C): each channel's mean or maximum over every position."""
    x = random_array(5, (2, 3, *spatial))
    axes = tuple(range(2, x.ndim))
    assert_close(kernels.global_avg_pool(x), x.astype(np.float64).mean(axis=axes))
    assert_close(kernels.global_max_pool(x), x.max(axis=axes))


# --------------------------------------------------------------------------------------
# Linear and normalisation


@FEW
@given(
    rows=st.integers(1, 4),
    in_features=st.integers(1, 70),
    units=st.integers(1, 9),
    with_bias=st.booleans(),
    seed=SEEDS,
)
def test_linear_matches_numpy_with_exact_macs(
    rows: int, in_features: int, units: int, with_bias: bool, seed: int
) -> None:
    """linear equals x·Wᵀ + b in float64, and counts rows·units·in_features MACs."""
    x = random_array(seed, (rows, in_features))
    weight = random_array(seed + 1, (units, in_features))
    bias = random_array(seed + 2, (units,)) if with_bias else None
    y, macs = kernels.linear(x, weight, bias)
    expected = x.astype(np.float64) @ weight.astype(np.float64).T + (0 if bias is None else bias)
    assert_close(y, expected)
    assert macs == rows * units * in_features


@needs_torch
def test_linear_matches_torch_on_leading_dimensions() -> None:
    """linear acts on the last dimension and keeps the leading ones, as torch's does."""
    x = random_array(1, (2, 3, 17))
    weight = random_array(2, (5, 17))
    bias = random_array(3, (5,))
    y, macs = kernels.linear(x, weight, bias)
    assert_close(y, F.linear(as_torch(x), as_torch(weight), as_torch(bias)).numpy())
    assert macs == 2 * 3 * 5 * 17


def batchnorm_arrays(seed: int, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Return x, gamma, beta, running mean and a positive running variance."""
    channels = shape[1]
    gamma, beta, mean = (random_array(seed + i, (channels,)) for i in (1, 2, 3))
    variance = np.abs(random_array(seed + 4, (channels,))) + np.float32(0.1)
    return random_array(seed, shape), gamma, beta, mean, variance


@pytest.mark.parametrize("shape", [(2, 3), (2, 4, 9), (1, 3, 5, 6), (2, 2, 3, 4, 5)])
def test_batchnorm_matches_the_formula(shape: tuple[int, ...]) -> None:
    """batchnorm is (x − mean)/sqrt(var + eps)·gamma + beta per channel."""
    x, gamma, beta, mean, variance = batchnorm_arrays(4, shape)
    per_channel = (1, -1) + (1,) * (len(shape) - 2)
    expected = (x.astype(np.float64) - mean.reshape(per_channel)) / np.sqrt(
        variance.astype(np.float64).reshape(per_channel) + 1e-3
    ) * gamma.reshape(per_channel) + beta.reshape(per_channel)
    assert_close(kernels.batchnorm(x, gamma, beta, mean, variance, eps=1e-3), expected)


@needs_torch
@pytest.mark.parametrize("shape", [(2, 3), (2, 4, 9), (1, 3, 5, 6), (2, 2, 3, 4, 5)])
def test_batchnorm_matches_torch_inference(shape: tuple[int, ...]) -> None:
    """batchnorm equals torch's batch_norm with training=False."""
    x, gamma, beta, mean, variance = batchnorm_arrays(4, shape)
    expected = F.batch_norm(
        as_torch(x),
        as_torch(mean),
        as_torch(variance),
        as_torch(gamma),
        as_torch(beta),
        training=False,
        eps=1e-5,
    )
    assert_close(kernels.batchnorm(x, gamma, beta, mean, variance), expected.numpy())


# --------------------------------------------------------------------------------------
# Activations


def numpy_erf(values: np.ndarray) -> np.ndarray:
    """Return erf elementwise (numpy has none)."""
    return np.asarray(np.vectorize(math.erf)(values))


def numpy_softmax(values: np.ndarray) -> np.ndarray:
    """Return the softmax over axis 1."""
    shifted = np.exp(values - values.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


ACTIVATION_FORMULAS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda v: np.maximum(v, 0),
    "relu6": lambda v: np.clip(v, 0, 6),
    "leaky_relu": lambda v: np.where(v > 0, v, 0.01 * v),
    "gelu": lambda v: 0.5 * v * (1 + numpy_erf(v / math.sqrt(2))),
    "silu": lambda v: v / (1 + np.exp(-v)),
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    "tanh": np.tanh,
    "hardswish": lambda v: v * np.clip(v + 3, 0, 6) / 6,
    "hardsigmoid": lambda v: np.clip(v / 6 + 0.5, 0, 1),
    "mish": lambda v: v * np.tanh(np.logaddexp(0, v)),
    "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))),
    "softmax": numpy_softmax,
    "identity": lambda v: v,
}


def activation_input(seed: int) -> np.ndarray:
    """Return (2, 5, 3, 4) values: spread-out normals with the extremes and kinks planted."""
    x = random_array(seed, (2, 5, 3, 4)) * np.float32(4)
    x.reshape(-1)[:9] = [-100, -20, -3, -1e-3, 0, 1e-3, 3, 6, 100]
    return x


def test_every_activation_has_a_formula_here() -> None:
    """Every elementwise activation without parameters, leaky ReLU and ELU (their default
    options) is checked against a formula below: a new one fails here until it is."""
    from convcalc.layers.elementwise import Activation, Elu, LeakyRelu

    names = set(Activation.reference_ops) | {"leaky_relu", "elu"}
    assert {Elu.model_fields["alpha"].default, LeakyRelu.model_fields["negative_slope"].default
            } == {1.0, 0.01}
    missing = sorted(names - set(ACTIVATION_FORMULAS))
    assert not missing, f"no formula in ACTIVATION_FORMULAS for {', '.join(missing)}"


@pytest.mark.parametrize("name", ACTIVATION_FORMULAS)
def test_activation_matches_its_formula(name: str) -> None:
    """Each activation equals its textbook formula in float64, extremes and kinks included."""
    x = activation_input(11)
    with np.errstate(over="ignore"):
        expected = ACTIVATION_FORMULAS[name](x.astype(np.float64))
    assert_close(getattr(kernels, name)(x), expected)


@needs_torch
@pytest.mark.parametrize("name", ACTIVATION_FORMULAS)
def test_activation_matches_torch(name: str) -> None:
    """Each activation equals torch's (exact GELU, leaky slope 0.01, softmax over dim 1)."""
    torch_functions: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "relu": F.relu,
        "relu6": F.relu6,
        "leaky_relu": F.leaky_relu,
        "gelu": F.gelu,
        "silu": F.silu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "hardswish": F.hardswish,
        "hardsigmoid": F.hardsigmoid,
        "mish": F.mish,
        "elu": F.elu,
        "softmax": lambda t: F.softmax(t, dim=1),
        "identity": lambda t: t,
    }
    x = activation_input(12)
    assert_close(getattr(kernels, name)(x), torch_functions[name](as_torch(x)).numpy())


def test_leaky_relu_uses_the_given_slope() -> None:
    """leaky_relu multiplies negative inputs by negative_slope."""
    x = np.array([[-2.0, 3.0]], np.float32)
    np.testing.assert_allclose(kernels.leaky_relu(x, negative_slope=0.2), [[-0.4, 3.0]])


def test_elu_uses_the_given_alpha() -> None:
    """elu is α·(eˣ − 1) below 0: α 0.5 at x = −ln 2 gives 0.5·(½ − 1) = −0.25; x above 0
    passes."""
    x = np.array([[-math.log(2), 0.0, 3.0]], np.float32)
    assert_close(kernels.elu(x, alpha=0.5), np.array([[-0.25, 0.0, 3.0]]))


@needs_torch
@pytest.mark.parametrize("alpha", [0.5, 2.0, -1.0])
def test_elu_with_alpha_matches_torch(alpha: float) -> None:
    """elu with any α equals torch's F.elu(x, alpha)."""
    x = activation_input(13)
    assert_close(kernels.elu(x, alpha=alpha), F.elu(as_torch(x), alpha=alpha).numpy())


def test_hardsigmoid_and_mish_by_hand() -> None:
    """hardsigmoid: 0 at −3 and below, ½ at 0, 1 at 3 and above, (1.5 + 3)/6 = 0.75 at 1.5;
    mish(0) = 0 and mish(1) = tanh(ln(1 + e)) = 0.86510…"""
    x = np.array([[-4.0, -3.0, 0.0, 1.5, 3.0, 9.0]], np.float32)
    assert_close(kernels.hardsigmoid(x), np.array([[0, 0, 0.5, 0.75, 1, 1]]))
    assert_close(kernels.mish(np.array([[0.0, 1.0]], np.float32)),
                 np.array([[0.0, 0.8650983882673103]]))


PER_CHANNEL_SHAPES = [(2, 3), (2, 4, 9), (1, 3, 5, 6), (2, 2, 3, 4, 5)]
"""Flat (N, C), 1-D, 2-D and 3-D inputs for the per-channel ops."""


def slopes(seed: int, count: int) -> np.ndarray:
    """Return ``count`` slopes in [−1, 1), some negative, so the sign of each one shows."""
    return np.random.default_rng(seed).uniform(-1, 1, count).astype(np.float32)


def numpy_per_channel(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Return ``weight`` shaped (C, 1, …, 1) to broadcast over (N, C, *spatial) values."""
    return weight.astype(np.float64).reshape((-1,) + (1,) * (values.ndim - 2))


@pytest.mark.parametrize("shape", PER_CHANNEL_SHAPES)
@pytest.mark.parametrize("per_channel", [False, True])
def test_prelu_matches_the_formula(shape: tuple[int, ...], per_channel: bool) -> None:
    """prelu is x where x ≥ 0 and slope·x elsewhere, with one slope or one per channel."""
    x = random_array(21, shape)
    weight = slopes(22, shape[1] if per_channel else 1)
    v = x.astype(np.float64)
    expected = np.where(v >= 0, v, numpy_per_channel(v, weight) * v)
    assert_close(kernels.prelu(x, weight), expected)


@needs_torch
@pytest.mark.parametrize("shape", PER_CHANNEL_SHAPES)
@pytest.mark.parametrize("per_channel", [False, True])
def test_prelu_matches_torch(shape: tuple[int, ...], per_channel: bool) -> None:
    """prelu equals torch's F.prelu (nn.PReLU), the slopes along dim 1 also on (N, C)."""
    x = random_array(23, shape)
    weight = slopes(24, shape[1] if per_channel else 1)
    expected = F.prelu(as_torch(x), as_torch(weight))
    assert_close(kernels.prelu(x, weight), expected.numpy())


def test_prelu_by_hand() -> None:
    """Slopes 0.25 and −2 per channel: −4 → −1, −1 → 2; positives pass, 0 stays 0."""
    x = np.array([[[-4.0, 0.0, 5.0], [-1.0, 3.0, 0.0]]], np.float32)
    assert_close(kernels.prelu(x, np.array([0.25, -2.0], np.float32)),
                 np.array([[[-1.0, 0.0, 5.0], [2.0, 3.0, 0.0]]]))


def test_prelu_refuses_slopes_of_another_count() -> None:
    """prelu takes one slope or one per channel, nothing else."""
    with pytest.raises(ValueError, match=r"weight must have shape \(1,\) or \(3,\), not \(2,\)"):
        kernels.prelu(np.zeros((1, 3, 4), np.float32), np.zeros(2, np.float32))


@pytest.mark.parametrize("shape", PER_CHANNEL_SHAPES)
def test_layer_scale_matches_the_formula(shape: tuple[int, ...]) -> None:
    """layer_scale multiplies each channel by its own factor."""
    x = random_array(25, shape)
    gamma = slopes(26, shape[1])
    expected = x.astype(np.float64) * numpy_per_channel(x, gamma)
    assert_close(kernels.layer_scale(x, gamma), expected)


@needs_torch
@pytest.mark.parametrize("shape", PER_CHANNEL_SHAPES)
def test_layer_scale_matches_torch(shape: tuple[int, ...]) -> None:
    """layer_scale equals torchvision ConvNeXt's ``layer_scale * x``, the parameter of shape
    (C, 1, …, 1), written in plain torch."""
    x = random_array(27, shape)
    gamma = slopes(28, shape[1])
    scale = as_torch(gamma).reshape((-1,) + (1,) * (len(shape) - 2))
    assert_close(kernels.layer_scale(x, gamma), (scale * as_torch(x)).numpy())


def test_layer_scale_needs_a_factor_per_channel() -> None:
    """layer_scale does not broadcast one factor: its parameter has C elements."""
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\), not \(1,\)"):
        kernels.layer_scale(np.zeros((1, 3, 4), np.float32), np.ones(1, np.float32))


@pytest.mark.parametrize("shape", PER_CHANNEL_SHAPES)
@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_is_the_identity_at_inference(shape: tuple[int, ...],
                                                       mode: str) -> None:
    """stochastic_depth without a keep mask returns its input exactly, for any p."""
    x = random_array(29, shape)
    for p in (0.0, 0.3, 1.0):
        np.testing.assert_array_equal(kernels.stochastic_depth(x, p, mode), x)


def test_stochastic_depth_while_training_by_hand() -> None:
    """p 0.2, rows kept [1, 0]: row 0 scaled by 1/0.8 = 1.25, row 1 zeroed; p 1 zeroes all."""
    x = np.array([[[4.0, -8.0]], [[2.0, 6.0]]], np.float32)
    np.testing.assert_allclose(
        kernels.stochastic_depth(x, 0.2, "row", keep=np.array([1, 0], np.float32)),
        [[[5.0, -10.0]], [[0.0, 0.0]]], rtol=1e-6)
    np.testing.assert_array_equal(
        kernels.stochastic_depth(x, 1.0, "batch", keep=np.array([0], np.float32)),
        np.zeros_like(x))


@needs_torch
@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_matches_torchvisions_rule(mode: str) -> None:
    """With the same Bernoulli noise, stochastic_depth equals torchvision's training rule,
    ``x·noise/(1 − p)`` with noise per row or for the batch (written here in plain torch)."""
    x = random_array(30, (4, 3, 5, 5))
    p = 0.3
    generator = torch.Generator().manual_seed(0)
    size = [4, 1, 1, 1] if mode == "row" else [1, 1, 1, 1]
    noise = torch.empty(size).bernoulli_(1 - p, generator=generator)
    expected = as_torch(x) * noise.div(1 - p)
    keep = noise.reshape(-1).numpy()
    assert_close(kernels.stochastic_depth(x, p, mode, keep=keep), expected.numpy())


def test_stochastic_depth_refuses_a_mask_of_the_wrong_mode() -> None:
    """A keep mask has one value per row in mode row and one in mode batch; p is 0 to 1."""
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"keep must have shape \(2,\) in mode row"):
        kernels.stochastic_depth(x, 0.5, "row", keep=np.ones(1, np.float32))
    with pytest.raises(ValueError, match=r"p must be from 0 to 1, not 1\.5"):
        kernels.stochastic_depth(x, 1.5)
    with pytest.raises(ValueError, match="mode must be row or batch, not 'column'"):
        kernels.stochastic_depth(x, 0.5, "column")


# --------------------------------------------------------------------------------------
# Padding, resampling, merges


@FEW
@given(rank=RANKS, data=st.data())
def test_pad_adds_zeros_on_each_side(rank: int, data: st.DataObject) -> None:
    """pad equals np.pad with zeros, per side and per dimension."""
    size = tuple(data.draw(st.integers(1, 5)) for _ in range(rank))
    before = tuple(data.draw(st.integers(0, 3)) for _ in range(rank))
    after = tuple(data.draw(st.integers(0, 3)) for _ in range(rank))
    x = random_array(data.draw(SEEDS), (2, 3, *size))
    expected = np.pad(x, [(0, 0), (0, 0), *list(zip(before, after, strict=True))])
    np.testing.assert_array_equal(kernels.pad(x, before, after), expected)


@pytest.mark.parametrize("spatial", [(5,), (3, 4), (2, 3, 4)])
def test_nearest_upsample_by_integers_repeats_each_value(spatial: tuple[int, ...]) -> None:
    """Nearest upsampling by 2 (and 3 in the last dim) repeats each input value."""
    x = random_array(6, (1, 2, *spatial))
    scale = (2,) * (len(spatial) - 1) + (3,)
    expected = x
    for axis, factor in enumerate(scale, start=2):
        expected = np.repeat(expected, factor, axis=axis)
    np.testing.assert_array_equal(kernels.upsample(x, scale=scale, mode="nearest"), expected)


def test_linear_upsample_by_2_worked_by_hand() -> None:
    """Linear ×2 (align_corners=False) of [0, 4, 8] is [0, 1, 3, 5, 7, 8]: edges clamp."""
    x = np.array([[[0.0, 4.0, 8.0]]], np.float32)
    # Output o samples input position (o + ½)/2 − ½, clamped at 0 on the left and by the
    # last input on the right.
    np.testing.assert_allclose(kernels.upsample(x, scale=2, mode="linear"), [[[0, 1, 3, 5, 7, 8]]])


def test_linear_upsample_copies_a_dimension_whose_length_does_not_change() -> None:
    """Linear resampling by 1.2 of a length-2 dimension (output 2) copies it, as torch does."""
    x = np.array([[[0.0, 4.0]]], np.float32)
    np.testing.assert_array_equal(kernels.upsample(x, scale=1.2, mode="linear"), x)
    # Nearest keeps the plain rule: output 1 reads floor(1/1.2) = 0.
    np.testing.assert_array_equal(kernels.upsample(x, scale=1.2, mode="nearest"), [[[0.0, 0.0]]])


def interpolate_row(row: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Return ``row`` linearly interpolated at the fractional indices ``source``."""
    return np.asarray(np.interp(source, np.arange(row.size), row))


def numpy_linear_resize(
    x: np.ndarray, out_size: tuple[int, ...], scales: tuple[float, ...]
) -> np.ndarray:
    """Return ``x`` resized one axis at a time with np.interp at PyTorch's source positions.

    ``scales`` are input lengths per output element; np.interp holds the edge values past
    either end. A dimension whose length does not change is copied, as torch does.
    """
    y = x.astype(np.float64)
    for axis, (length, out, scale) in enumerate(zip(x.shape[2:], out_size, scales, strict=True)):
        if out == length:
            continue
        source = np.maximum(scale * (np.arange(out) + 0.5) - 0.5, 0.0)
        y = np.apply_along_axis(interpolate_row, axis + 2, y, source)
    return y


@FEW
@given(rank=RANKS, by_scale=st.booleans(), data=st.data())
def test_linear_upsample_matches_numpy_interp(
    rank: int, by_scale: bool, data: st.DataObject
) -> None:
    """Linear resizing equals separable np.interp at max(scale·(o + ½) − ½, 0), up or down."""
    size = tuple(data.draw(st.integers(1, 5 if rank == 3 else 8)) for _ in range(rank))
    x = random_array(data.draw(SEEDS), (2, 2, *size))
    if by_scale:
        factors = tuple(data.draw(st.sampled_from([0.75, 1.0, 1.5, 2.0, 2.5, 3.0])) for _ in size)
        assume(all(math.floor(length * f) >= 1 for length, f in zip(size, factors, strict=True)))
        out_size = tuple(math.floor(length * f) for length, f in zip(size, factors, strict=True))
        ours = kernels.upsample(x, scale=factors, mode="linear")
        scales = tuple(1 / f for f in factors)
    else:
        out_size = tuple(data.draw(st.integers(1, 11)) for _ in size)
        ours = kernels.upsample(x, size=out_size, mode="linear")
        scales = tuple(length / out for length, out in zip(size, out_size, strict=True))
    assert_close(ours, numpy_linear_resize(x, out_size, scales))


def test_upsample_to_the_same_size_is_identity() -> None:
    """Resampling to the input's own size returns the input in both modes."""
    x = random_array(8, (1, 3, 4, 5))
    for mode in ("nearest", "linear"):
        np.testing.assert_allclose(kernels.upsample(x, size=(4, 5), mode=mode), x, rtol=1e-6)


@needs_torch
@SOME
@given(
    rank=RANKS,
    mode=st.sampled_from(["nearest", "linear"]),
    by_scale=st.booleans(),
    data=st.data(),
)
def test_upsample_matches_torch_interpolate(
    rank: int, mode: str, by_scale: bool, data: st.DataObject
) -> None:
    """upsample equals F.interpolate (align_corners=False) by scale or to a size, up or down."""
    size = tuple(data.draw(st.integers(2, 5 if rank == 3 else 8)) for _ in range(rank))
    x = random_array(data.draw(SEEDS), (1, 2, *size))
    torch_mode = mode if mode == "nearest" else {1: "linear", 2: "bilinear", 3: "trilinear"}[rank]
    if by_scale:
        scale = tuple(
            data.draw(st.sampled_from([0.5, 0.75, 1.0, 1.2, 1.5, 1.7, 2.0, 2.5, 3.0]))
            for _ in range(rank)
        )
        # torch's 2-D nearest kernel alone short-cuts outputs of 1× or 2× the input even
        # when the scale factor is not exactly 1 or 2; the kernel keeps the plain rule.
        assume(
            not (
                mode == "nearest"
                and rank == 2
                and any(
                    math.floor(length * s) in (length, 2 * length) and s not in (1.0, 2.0)
                    for length, s in zip(size, scale, strict=True)
                )
            )
        )
        ours = kernels.upsample(x, scale=scale, mode=mode)
        expected = F.interpolate(as_torch(x), scale_factor=scale, mode=torch_mode)
    else:
        out_size = tuple(data.draw(st.integers(1, 11)) for _ in range(rank))
        ours = kernels.upsample(x, size=out_size, mode=mode)
        expected = F.interpolate(as_torch(x), size=out_size, mode=torch_mode)
    assert_close(ours, expected.numpy())


def test_add_sums_and_concat_joins_channels() -> None:
    """add sums equal shapes elementwise; concat stacks along the channel axis."""
    a, b, c = (random_array(seed, (2, 3, 4)) for seed in (1, 2, 3))
    assert_close(kernels.add(a, b, c), a.astype(np.float64) + b + c)
    joined = kernels.concat(a, random_array(4, (2, 5, 4)))
    assert joined.shape == (2, 8, 4)
    np.testing.assert_array_equal(joined[:, :3], a)


def test_kernels_refuse_other_dtypes_and_ranks() -> None:
    """Wrappers reject float64 arrays and inputs without 1 to 3 spatial dims."""
    weight = np.ones((1, 1, 1), np.float32)
    with pytest.raises(TypeError, match="float32"):
        kernels.conv(np.ones((1, 1, 4)), weight, None, 1, 1, 0, 0, 1)
    with pytest.raises(ValueError, match="spatial"):
        kernels.max_pool(np.ones((1, 1), np.float32), 1, 1, 1, 0, 0, False)
    with pytest.raises(ValueError, match="one per spatial dimension"):
        kernels.conv(
            np.ones((1, 1, 4, 4), np.float32),
            np.ones((1, 1, 1, 1), np.float32),
            None,
            (1, 1, 1),
            1,
            0,
            0,
            1,
        )


def test_kernels_refuse_a_zero_stride_or_a_negative_padding() -> None:
    """A stride, kernel or size below 1, or padding below 0, is an error, not a hang."""
    x = np.ones((1, 1, 4), np.float32)
    with pytest.raises(ValueError, match="stride must be at least 1"):
        kernels.max_pool(x, 2, 0, 1, 0, 0, False)
    with pytest.raises(ValueError, match="pad_before must be at least 0"):
        kernels.avg_pool(x, 2, 1, -1, 0, False, True)
    with pytest.raises(ValueError, match="output_size must be at least 1"):
        kernels.adaptive_avg_pool(x, 0)


def op_module(name: str) -> str:
    """Return the module that defines op ``name`` (kernels.py's table)."""
    return f"convcalc.reference.ops.{kernels._MODULE_OF[name]}"


def test_every_name_is_a_reference_op() -> None:
    """Each name in kernels.__all__ is the op of that name in its family's module."""
    for name in kernels.__all__:
        op = getattr(kernels, name)
        assert isinstance(op, Op | MergeOp), name
        assert op is getattr(importlib.import_module(op_module(name)), name)


def test_ceil_mode_window_overhanging_a_short_input() -> None:
    """K3 S2 ceil_mode on a length-2 input places one partial window, as PyTorch does:
    ceil((2 − 3)/2) + 1 = 1; it reads both inputs (max 5, mean of the two 3.5)."""
    x = np.array([[[2.0, 5.0]]], np.float32)
    maxed = kernels.max_pool(x, 3, 2, 1, 0, 0, True)
    averaged = kernels.avg_pool(x, 3, 2, 0, 0, True, True)
    assert maxed.shape == averaged.shape == (1, 1, 1)
    assert maxed[0, 0, 0] == 5.0
    assert averaged[0, 0, 0] == pytest.approx(3.5)
    # K4 overhangs by a whole stride: ceil((2 − 4)/2) + 1 = 0 windows (PyTorch refuses it)
    assert kernels.max_pool(x, 4, 2, 1, 0, 0, True).shape == (1, 1, 0)


# ------------------------------------------------------------------ normalisation
# layernorm, groupnorm and instancenorm against float64 numpy (mean and biased variance
# over the axes each normalises) and torch's functional forms.

NORM_SHAPES = [(2, 5), (2, 4, 9), (1, 6, 5, 6), (2, 6, 3, 4, 5)]


def affine_arrays(seed: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Return a per-channel weight near 1 and a bias near 0."""
    weight = np.float32(1) + np.float32(0.5) * random_array(seed, (channels,))
    return weight, np.float32(0.1) * random_array(seed + 1, (channels,))


def numpy_normalised(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    """Return (x − mean)/sqrt(var + eps) over ``axes``, in float64."""
    values = x.astype(np.float64)
    mean = values.mean(axis=axes, keepdims=True)
    variance = ((values - mean) ** 2).mean(axis=axes, keepdims=True)
    return (values - mean) / np.sqrt(variance + eps)


def per_channel(array: np.ndarray, rank: int) -> np.ndarray:
    """Return a (C,) array shaped to broadcast over (N, C, *spatial) of ``rank`` dims."""
    return array.reshape((1, -1) + (1,) * (rank - 2))


@pytest.mark.parametrize("shape", NORM_SHAPES)
def test_layernorm_matches_the_formula(shape: tuple[int, ...]) -> None:
    """layernorm normalises over the channels (axis 1) at each position, then ·w + b; also
    without either and with the weight alone."""
    x = random_array(7, shape) * np.float32(3) + np.float32(2)
    weight, bias = affine_arrays(8, shape[1])
    plain = numpy_normalised(x, (1,), 1e-6)
    rank = len(shape)
    assert_close(kernels.layernorm(x, weight, bias, eps=1e-6),
                 plain * per_channel(weight, rank) + per_channel(bias, rank))
    assert_close(kernels.layernorm(x, eps=1e-6), plain)
    assert_close(kernels.layernorm(x, weight, eps=1e-6), plain * per_channel(weight, rank))


def test_layernorm_by_hand() -> None:
    """Two channels 1 and 3 at one position: mean 2, variance 1, so (∓1)/sqrt(1 + eps)."""
    x = np.array([[[1.0], [3.0]]], np.float32)
    y = kernels.layernorm(x, eps=0.25)
    assert y[0, :, 0] == pytest.approx([-1 / math.sqrt(1.25), 1 / math.sqrt(1.25)])


@pytest.mark.parametrize(("shape", "groups"), [(shape, groups) for shape in NORM_SHAPES
                                               for groups in (1, 2, 6) if shape[1] % groups == 0])
def test_groupnorm_matches_the_formula(shape: tuple[int, ...], groups: int) -> None:
    """groupnorm normalises each group of C/groups channels over them and every position."""
    channels = shape[1]
    x = random_array(9, shape) * np.float32(2) - np.float32(1)
    weight, bias = affine_arrays(10, channels)
    grouped = x.reshape(shape[0], groups, -1)
    plain = numpy_normalised(grouped, (2,), 1e-5).reshape(shape)
    rank = len(shape)
    assert_close(kernels.groupnorm(x, groups, weight, bias),
                 plain * per_channel(weight, rank) + per_channel(bias, rank))
    assert_close(kernels.groupnorm(x, groups), plain)


@pytest.mark.parametrize("shape", NORM_SHAPES[1:])
def test_instancenorm_matches_the_formula(shape: tuple[int, ...]) -> None:
    """instancenorm normalises each channel of each sample over its positions."""
    x = random_array(11, shape) + np.float32(0.5)
    weight, bias = affine_arrays(12, shape[1])
    rank = len(shape)
    plain = numpy_normalised(x, tuple(range(2, rank)), 1e-3)
    assert_close(kernels.instancenorm(x, eps=1e-3), plain)
    assert_close(kernels.instancenorm(x, weight, bias, eps=1e-3),
                 plain * per_channel(weight, rank) + per_channel(bias, rank))


@given(batch=st.integers(1, 2), groups=st.integers(1, 4), per_group=st.integers(1, 3),
       spatial=st.lists(st.integers(1, 5), min_size=0, max_size=3),
       eps=st.sampled_from([1e-6, 1e-5, 0.1]))
@FEW
def test_groupnorm_any_geometry(batch: int, groups: int, per_group: int, spatial: list[int],
                                eps: float) -> None:
    """groupnorm equals the numpy formula for any rank, group size and eps (layernorm and
    instancenorm are its two ends on one position and one channel per group)."""
    shape = (batch, groups * per_group, *spatial)
    x = random_array(len(spatial) + groups, shape)
    expected = numpy_normalised(x.reshape(batch, groups, -1), (2,), eps).reshape(shape)
    assert_close(kernels.groupnorm(x, groups, eps=eps), expected)
    if not spatial:
        return
    assert_close(kernels.groupnorm(x, groups * per_group, eps=eps),
                 kernels.instancenorm(x, eps=eps))


def test_norm_kernels_refuse_what_they_cannot_run() -> None:
    """Groups that do not divide C, a weight without a bias for groupnorm, a wrongly sized
    weight and a flat input for instancenorm are errors."""
    x = random_array(1, (1, 6, 4))
    weight, _ = affine_arrays(2, 6)
    with pytest.raises(ValueError, match="groups must divide the 6 channels, not be 4"):
        kernels.groupnorm(x, 4)
    with pytest.raises(ValueError, match="both weight and bias, or neither"):
        kernels.groupnorm(x, 2, weight)
    with pytest.raises(ValueError, match=r"weight must have shape \(6,\)"):
        kernels.layernorm(x, weight[:5])
    with pytest.raises(ValueError, match="instancenorm needs x of shape"):
        kernels.instancenorm(random_array(1, (2, 6)))


@needs_torch
@pytest.mark.parametrize("shape", NORM_SHAPES)
def test_layernorm_matches_torch(shape: tuple[int, ...]) -> None:
    """layernorm equals F.layer_norm over the channels moved last (ConvNeXt's LayerNorm2d)."""
    x = random_array(13, shape)
    weight, bias = affine_arrays(14, shape[1])
    expected = F.layer_norm(as_torch(x).movedim(1, -1), (shape[1],), as_torch(weight),
                            as_torch(bias), eps=1e-6).movedim(-1, 1)
    assert_close(kernels.layernorm(x, weight, bias, eps=1e-6), expected.contiguous().numpy())


@needs_torch
@pytest.mark.parametrize("shape", NORM_SHAPES)
def test_groupnorm_matches_torch(shape: tuple[int, ...]) -> None:
    """groupnorm equals F.group_norm, with and without the affine transform."""
    x = random_array(15, shape)
    weight, bias = affine_arrays(16, shape[1])
    groups = 2 if shape[1] % 2 == 0 else 1
    expected = F.group_norm(as_torch(x), groups, as_torch(weight), as_torch(bias), eps=1e-5)
    assert_close(kernels.groupnorm(x, groups, weight, bias), expected.numpy())
    assert_close(kernels.groupnorm(x, groups), F.group_norm(as_torch(x), groups).numpy())


@needs_torch
@pytest.mark.parametrize("shape", NORM_SHAPES[1:])
def test_instancenorm_matches_torch(shape: tuple[int, ...]) -> None:
    """instancenorm equals F.instance_norm with each sample's own statistics."""
    x = random_array(17, shape)
    weight, bias = affine_arrays(18, shape[1])
    expected = F.instance_norm(as_torch(x), weight=as_torch(weight), bias=as_torch(bias),
                               eps=1e-4)
    assert_close(kernels.instancenorm(x, weight, bias, eps=1e-4), expected.numpy())


class _FixedArrays:
    """The value pass's arrays, as a test fixes them: uniform from one seeded stream."""

    def __init__(self) -> None:
        self.made: dict[str, np.ndarray] = {}

    def uniform(self, index: int, name: str, shape: tuple[int, ...], low: float,
                high: float) -> np.ndarray:
        array = np.random.default_rng(len(self.made)).uniform(low, high, shape)
        self.made[name] = array.astype(np.float32)
        return self.made[name]

    def weighted(self, *args: Any) -> Any:
        raise AssertionError("a norm layer has no weights of that kind")


@needs_torch
@pytest.mark.parametrize(("options", "trainable", "stored"), [
    ({}, 0, 0), ({"affine": True}, 8, 0), ({"track_running_stats": True}, 0, 8),
    ({"affine": True, "track_running_stats": True}, 8, 8)])
def test_instancenorm_run_matches_torch_in_eval(options: dict[str, bool], trainable: int,
                                                stored: int) -> None:
    """verify's instancenorm step equals nn.InstanceNorm2d in eval mode with the same γ, β
    and running statistics (which eval uses when tracked), and counts what it was handed."""
    from convcalc.layers.norm import InstanceNorm
    from convcalc.reference.lookup import layer_op

    layer = InstanceNorm(type="instancenorm", eps=1e-3, **options)
    x = random_array(19, (2, 4, 5, 3))
    arrays = _FixedArrays()
    y, counted, counted_stored, macs, _ = layer_op(layer).run(layer, x, arrays, 0)
    module = torch.nn.InstanceNorm2d(4, eps=1e-3, **options).eval()
    with torch.no_grad():
        for name, torch_name in (("gamma", "weight"), ("beta", "bias"),
                                 ("running_mean", "running_mean"),
                                 ("running_var", "running_var")):
            if name in arrays.made:
                getattr(module, torch_name).copy_(as_torch(arrays.made[name]))
        expected = module(as_torch(x)).numpy()
    assert_close(y, expected)
    assert (counted, counted_stored, macs) == (trainable, stored, 0)
# --------------------------------------------------------------------------------------
# Channel shuffle and channel slice


def test_channel_shuffle_worked_by_hand() -> None:
    """Channels 0…7 in 2 groups read across the groups: 0, 4, 1, 5, 2, 6, 3, 7."""
    x = np.arange(8, dtype=np.float32).reshape(1, 8, 1)
    np.testing.assert_array_equal(kernels.channel_shuffle(x, 2).reshape(-1),
                                  [0, 4, 1, 5, 2, 6, 3, 7])


def numpy_channel_shuffle(x: np.ndarray, groups: int) -> np.ndarray:
    """Return x's channels viewed as (groups, C/groups), swapped and flattened."""
    batch, channels, *spatial = x.shape
    grid = x.reshape(batch, groups, channels // groups, *spatial)
    return np.ascontiguousarray(grid.swapaxes(1, 2)).reshape(x.shape)


@st.composite
def shuffle_cases(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Draw (x, groups): 1 to 3 spatial dims, groups dividing the channels."""
    groups, per_group = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(draw(RANKS)))
    x = random_array(draw(SEEDS), (draw(st.integers(1, 3)), groups * per_group, *spatial))
    return x, groups


@FEW
@given(case=shuffle_cases())
def test_channel_shuffle_matches_numpy(case: tuple[np.ndarray, int]) -> None:
    """channel_shuffle equals numpy's reshape-swap-reshape in 1-D, 2-D and 3-D."""
    x, groups = case
    np.testing.assert_array_equal(kernels.channel_shuffle(x, groups),
                                  numpy_channel_shuffle(x, groups))


@needs_torch
@FEW
@given(case=shuffle_cases())
def test_channel_shuffle_matches_torch(case: tuple[np.ndarray, int]) -> None:
    """channel_shuffle equals torch's nn.ChannelShuffle."""
    x, groups = case
    expected = torch.nn.ChannelShuffle(groups)(as_torch(x)).numpy()
    np.testing.assert_array_equal(kernels.channel_shuffle(x, groups), expected)


@st.composite
def slice_cases(draw: st.DrawFn) -> tuple[np.ndarray, int, int]:
    """Draw (x, start, stop): a flat or 1-D to 3-D input and 0 ≤ start < stop ≤ C."""
    channels = draw(st.integers(1, 7))
    start = draw(st.integers(0, channels - 1))
    stop = draw(st.integers(start + 1, channels))
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(draw(st.integers(0, 3))))
    x = random_array(draw(SEEDS), (draw(st.integers(1, 3)), channels, *spatial))
    return x, start, stop


@FEW
@given(case=slice_cases())
def test_channel_slice_matches_numpy(case: tuple[np.ndarray, int, int]) -> None:
    """channel_slice equals numpy's x[:, start:stop], flat inputs included, as a new array."""
    x, start, stop = case
    y = kernels.channel_slice(x, start, stop)
    np.testing.assert_array_equal(y, x[:, start:stop])
    assert not np.shares_memory(y, x)


@needs_torch
@FEW
@given(case=slice_cases())
def test_channel_slice_matches_torch(case: tuple[np.ndarray, int, int]) -> None:
    """channel_slice equals torch's narrow along the channels."""
    x, start, stop = case
    expected = as_torch(x).narrow(1, start, stop - start).numpy()
    np.testing.assert_array_equal(kernels.channel_slice(x, start, stop), expected)


def test_channel_kernels_refuse_what_torch_refuses() -> None:
    """A shuffle of a flat input or by groups not dividing C, and an empty or overlong
    slice, are errors."""
    with pytest.raises(ValueError, match="channel_shuffle needs x of shape"):
        kernels.channel_shuffle(np.ones((1, 6), np.float32), 2)
    with pytest.raises(ValueError, match="groups=4 must divide the 6 channels"):
        kernels.channel_shuffle(np.ones((1, 6, 2), np.float32), 4)
    for start, stop in ((2, 2), (0, 7)):
        with pytest.raises(ValueError, match="must satisfy 0 ≤ start < stop ≤ 6"):
            kernels.channel_slice(np.ones((1, 6, 2), np.float32), start, stop)


def test_norm_kernels_take_a_transposed_input() -> None:
    """A non-contiguous input gives the same result as its contiguous copy."""
    x = random_array(21, (4, 3, 5, 2)).transpose(3, 2, 1, 0)  # (2, 5, 3, 4), Fortran-ordered
    copy = np.ascontiguousarray(x)
    assert_close(kernels.layernorm(x), kernels.layernorm(copy))
    assert_close(kernels.groupnorm(x, 5), kernels.groupnorm(copy, 5))
    assert_close(kernels.instancenorm(x), kernels.instancenorm(copy))
