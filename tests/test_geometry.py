"""Hand-worked tests of convcalc.geometry: window sizes, padding rules and index maps.

Cases come from the lecture (7×7 input, 3×3 filter; the 3×32×32 exercise) and from
PyTorch's and TensorFlow's documented rules, each worked out in a comment.
"""

from __future__ import annotations

import pytest

from convcalc.geometry import (
    AdaptiveMap,
    ResampleMap,
    ShiftMap,
    TransposedWindowMap,
    WindowMap,
    adaptive_window_total,
    dropped_inputs,
    same_padding,
    transposed_output_size,
    window_output_size,
)

# ------------------------------------------------------------------ window_output_size


def test_lecture_seven_by_seven_three_by_three_gives_five() -> None:
    """The lecture's 7×7 input and 3×3 filter give W − K + 1 = 5."""
    assert window_output_size(7, 3, stride=1, dilation=1, pad_before=0, pad_after=0) == 5


def test_lecture_stride_two_gives_three() -> None:
    """The lecture's 7×7 input, 3×3 filter, stride 2 give (7 − 3)/2 + 1 = 3."""
    assert window_output_size(7, 3, stride=2, dilation=1, pad_before=0, pad_after=0) == 3


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pad", "expected"),
    [
        (7, 3, 1, 1, 7),  # (7 − 3 + 2)/1 + 1 = 7: P = (K − 1)/2 keeps the size
        (7, 3, 2, 1, 4),  # (7 − 3 + 2)/2 + 1 = 4
        (32, 5, 1, 2, 32),  # the lecture's exercise: (32 − 5 + 4)/1 + 1 = 32
        (224, 7, 2, 3, 112),  # ResNet's stem: (224 − 7 + 6)/2 + 1 = 112.5 → 112
        (227, 11, 4, 0, 55),  # AlexNet's first conv: (227 − 11)/4 + 1 = 55
        (32, 5, 1, 0, 28),  # the lecture's 28×28 activation map: 32 − 5 + 1
    ],
)
def test_lecture_formula(size: int, kernel: int, stride: int, pad: int, expected: int) -> None:
    """The output size is floor((W − K + 2P)/S) + 1, the lecture's formula."""
    assert window_output_size(size, kernel, stride, 1, pad, pad) == expected


def test_floor_drops_a_partial_last_window() -> None:
    """A non-whole (W − K + 2P)/S rounds down: (8 − 3)/2 + 1 = 3.5 → 3."""
    assert window_output_size(8, 3, 2, 1, 0, 0) == 3


def test_dilation_widens_the_kernel() -> None:
    """Dilation D makes a K-tap kernel span D·(K − 1) + 1 inputs: 3 taps at D=2 span 5."""
    # (7 − 5)/1 + 1 = 3; with padding 2 on each side: (7 + 4 − 5)/1 + 1 = 7
    assert window_output_size(7, 3, 1, 2, 0, 0) == 3
    assert window_output_size(7, 3, 1, 2, 2, 2) == 7
    # (9 − 7)/2 + 1 = 2 for K=4, D=2 (span 7), stride 2
    assert window_output_size(9, 4, 2, 2, 0, 0) == 2


def test_asymmetric_padding_adds_both_sides() -> None:
    """Per-side padding counts before + after: (5 + 0 + 1 − 3)/1 + 1 = 4."""
    assert window_output_size(5, 3, 1, 1, 0, 1) == 4
    assert window_output_size(5, 3, 1, 1, 2, 3) == 8  # (5 + 5 − 3) + 1


def test_kernel_larger_than_padded_input_gives_zero() -> None:
    """A kernel that does not fit in the padded input gives 0 windows (callers raise)."""
    assert window_output_size(4, 5, 1, 1, 0, 0) == 0
    assert window_output_size(4, 3, 1, 2, 0, 0) == 0  # dilated span 5 > 4
    assert window_output_size(4, 5, 1, 1, 0, 1) == 1  # 4 + 1 = 5 fits exactly once


def test_ceil_mode_rounds_up() -> None:
    """ceil_mode rounds (W + 2P − K)/S up: (6 + 2 − 3)/2 = 2.5 → 3, plus 1 = 4."""
    assert window_output_size(6, 3, 2, 1, 1, 1, ceil_mode=False) == 3
    assert window_output_size(6, 3, 2, 1, 1, 1, ceil_mode=True) == 4
    # no padding: (5 − 2)/2 = 1.5 → 2, plus 1 = 3 windows (starts 0, 2, 4)
    assert window_output_size(5, 2, 2, 1, 0, 0, ceil_mode=True) == 3


def test_ceil_mode_drops_a_window_starting_in_the_padding() -> None:
    """PyTorch drops a ceil-mode window that starts in the right padding: W=5,K=2,S=2,P=1 → 3."""
    # ceil((5 + 2 − 2)/2) + 1 = 4 windows would start at padded positions 0, 2, 4, 6;
    # position 6 is the right padding (the input is padded positions 1..5), so it goes.
    assert window_output_size(5, 2, 2, 1, 1, 1, ceil_mode=True) == 3


def test_ceil_mode_equal_to_floor_on_whole_division() -> None:
    """When (W + 2P − K)/S is whole, ceil_mode changes nothing: (7 + 2 − 3)/2 + 1 = 4."""
    assert window_output_size(7, 3, 2, 1, 1, 1, ceil_mode=True) == 4
    assert window_output_size(7, 3, 2, 1, 1, 1, ceil_mode=False) == 4


# ------------------------------------------------------------------ dropped_inputs


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "before", "after", "expected"),
    [
        (7, 3, 2, 1, 0, 0, 0),  # (7 − 3) % 2 = 0: windows 0..2, 2..4, 4..6 read row 6
        (8, 3, 2, 1, 0, 0, 1),  # (8 − 3) % 2 = 1: row 7 is never read
        (10, 3, 4, 1, 0, 0, 3),  # (10 − 3) % 4 = 3: windows end at 2 and 6, rows 7..9 left
        (224, 1, 2, 1, 0, 0, 1),  # (224 − 1) % 2 = 1: a 1×1 stride-2 conv skips the last row
        (224, 7, 2, 1, 3, 3, 1),  # (224 + 6 − 7) % 2 = 1: the position left is padding
        (9, 3, 2, 2, 0, 0, 0),  # dilated span 5: (9 − 5) % 2 = 0
        (4, 5, 1, 1, 0, 0, 0),  # the kernel does not fit: nothing to report here
    ],
)
def test_dropped_inputs(
    size: int, kernel: int, stride: int, dilation: int, before: int, after: int, expected: int
) -> None:
    """dropped_inputs is (W + P − D·(K − 1) − 1) mod S: padded positions after the last window."""
    assert dropped_inputs(size, kernel, stride, dilation, before, after) == expected


# ------------------------------------------------------------------ same_padding


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "expected"),
    [
        (7, 3, 2, 1, (1, 1)),  # out ceil(7/2) = 4; total 3·2 + 3 − 7 = 2
        (224, 7, 2, 1, (2, 3)),  # out 112; total 111·2 + 7 − 224 = 5: smaller half before
        (6, 2, 1, 1, (0, 1)),  # even kernel: out 6; total 5 + 2 − 6 = 1, all after
        (7, 3, 1, 1, (1, 1)),  # stride 1: total K − 1 = 2
        (224, 3, 2, 1, (0, 1)),  # TF's MobileNet stem: out 112; total 222 + 3 − 224 = 1
        (7, 3, 1, 2, (2, 2)),  # dilation 2: total (3 − 1)·2 = 4
        (7, 1, 2, 1, (0, 0)),  # 1×1 stride 2: total 3·2 + 1 − 7 = 0
        (6, 1, 4, 1, (0, 0)),  # out 2; 1·4 + 1 − 6 = −1 → clamped to 0
    ],
)
def test_same_padding(
    size: int, kernel: int, stride: int, dilation: int, expected: tuple[int, int]
) -> None:
    """same padding follows TensorFlow: total max((⌈W/S⌉ − 1)·S + (K − 1)·D + 1 − W, 0)."""
    assert same_padding(size, kernel, stride, dilation) == expected


def test_same_padding_gives_ceil_of_size_over_stride() -> None:
    """With its same padding, a window gives ⌈W/S⌉ outputs: 224 → 112, 7 → 4."""
    for size, kernel, stride in [(224, 7, 2), (7, 3, 2), (6, 2, 1), (5, 4, 3)]:
        before, after = same_padding(size, kernel, stride, 1)
        assert window_output_size(size, kernel, stride, 1, before, after) == -(-size // stride)


# ------------------------------------------------------------------ transposed_output_size


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "padding", "output_padding", "expected"),
    [
        (28, 2, 2, 1, 0, 0, 56),  # U-Net's up-conv: 27·2 + 1 + 1 = 56
        (4, 3, 2, 1, 1, 1, 8),  # 3·2 − 2 + 2 + 1 + 1 = 8: output_padding restores 2×
        (4, 3, 2, 1, 1, 0, 7),  # 3·2 − 2 + 2 + 0 + 1 = 7
        (5, 3, 1, 1, 0, 0, 7),  # stride 1: W + K − 1, the "full" convolution
        (5, 3, 1, 1, 1, 0, 5),  # padding 1 crops one on each side: 5
        (3, 3, 2, 2, 0, 0, 9),  # dilation 2: 2·2 + 2·2 + 1 = 9
    ],
)
def test_transposed_output_size(
    size: int, kernel: int, stride: int, dilation: int, padding: int, output_padding: int,
    expected: int,
) -> None:
    """Transposed size is (W − 1)·S − 2P + D·(K − 1) + output_padding + 1 (PyTorch)."""
    assert transposed_output_size(size, kernel, stride, dilation, padding, output_padding) == (
        expected
    )


def test_transposed_undoes_the_forward_size() -> None:
    """A stride-2 conv 8 → 4 (K3, P1) is undone by its transpose with output_padding 1."""
    forward = window_output_size(8, 3, 2, 1, 1, 1)
    assert forward == 4  # (8 + 2 − 3)/2 + 1 = 4.5 → 4
    assert transposed_output_size(forward, 3, 2, 1, 1, 1) == 8


# ------------------------------------------------------------------ adaptive_window_total


@pytest.mark.parametrize(
    ("size", "out", "expected"),
    [
        (7, 7, 7),  # one input per window
        (14, 7, 14),  # windows of 2, no overlap
        (5, 3, 7),  # [0,2) [1,4) [3,5): 2 + 3 + 2
        (10, 4, 12),  # [0,3) [2,5) [5,8) [7,10): 3 each
        (3, 5, 7),  # growing: [0,1) [0,2) [1,2) [1,3) [2,3): 1 + 2 + 1 + 2 + 1
        (7, 1, 7),  # global: one window over everything
        (1, 4, 4),  # one input read by four windows
    ],
)
def test_adaptive_window_total(size: int, out: int, expected: int) -> None:
    """The adaptive windows [⌊o·W/out⌋, ⌈(o+1)·W/out⌉) have the hand-summed total length."""
    assert adaptive_window_total(size, out) == expected


def test_adaptive_window_total_matches_adaptive_map() -> None:
    """adaptive_window_total equals the summed lengths of AdaptiveMap's spans."""
    for size, out in [(5, 3), (10, 4), (3, 5), (13, 7), (100, 9)]:
        spans = [AdaptiveMap(size, out).span(o) for o in range(out)]
        assert adaptive_window_total(size, out) == sum(hi - lo + 1 for lo, hi in spans)


# ------------------------------------------------------------------ index maps


def test_window_map_span_and_period() -> None:
    """A window map reads [o·S − P, o·S − P + (K − 1)·D] and repeats every output by S."""
    conv = WindowMap(kernel=3, stride=2, dilation=1, pad_before=1)
    assert conv.span(0) == (-1, 1)  # the first window starts in the padding
    assert conv.span(3) == (5, 7)  # 3·2 − 1 = 5
    assert conv.period == (1, 2)
    dilated = WindowMap(kernel=3, stride=1, dilation=2, pad_before=2)
    assert dilated.span(0) == (-2, 2)  # taps at −2, 0, 2
    assert dilated.span(4) == (2, 6)


def test_transposed_window_map_span() -> None:
    """A transposed conv (K3, S2, P1) output o reads the inputs i with 2i − 1 + k = o."""
    up = TransposedWindowMap(kernel=3, stride=2, dilation=1, padding=1)
    assert up.span(0) == (0, 0)  # k = 1, i = 0
    assert up.span(1) == (0, 1)  # k = 2 → i = 0; k = 0 → i = 1
    assert up.span(2) == (1, 1)  # k = 1, i = 1
    assert up.span(3) == (1, 2)
    assert up.period == (2, 1)


def test_transposed_window_map_kernel_two_stride_two() -> None:
    """U-Net's up-conv (K2, S2): outputs 2i and 2i + 1 both read only input i."""
    up = TransposedWindowMap(kernel=2, stride=2, dilation=1, padding=0)
    assert [up.span(o) for o in range(4)] == [(0, 0), (0, 0), (1, 1), (1, 1)]


def test_transposed_window_map_empty_span() -> None:
    """Where no kernel tap lands (K1, S2, odd outputs) the span is empty: last < first."""
    up = TransposedWindowMap(kernel=1, stride=2, dilation=1, padding=0)
    assert up.span(0) == (0, 0)
    assert up.span(1) == (0, -1)  # empty, kept at input 0
    assert up.span(2) == (1, 1)


def test_transposed_window_map_with_dilation() -> None:
    """K3, S2, D2: 2i + 2k = o, so odd outputs read nothing and even ones read 3 inputs."""
    up = TransposedWindowMap(kernel=3, stride=2, dilation=2, padding=0)
    assert up.span(4) == (0, 2)  # k = 2, 1, 0 → i = 0, 1, 2
    # o = 0: k = 0, 1, 2 → i = 0, −1, −2; positions before the input count, as padding does
    assert up.span(0) == (-2, 0)
    lo, hi = up.span(3)
    assert hi < lo  # 2i + 2k = 3 has no solution


def test_resample_map_nearest() -> None:
    """Nearest upsampling reads input ⌊o·W_in/W_out⌋: ×2 repeats each input twice."""
    double = ResampleMap(size_in=4, size_out=8, linear=False)
    assert [double.span(o) for o in range(4)] == [(0, 0), (0, 0), (1, 1), (1, 1)]
    assert double.period == (2, 1)
    to_five = ResampleMap(size_in=3, size_out=5, linear=False)
    assert [to_five.span(o)[0] for o in range(5)] == [0, 0, 1, 1, 2]  # ⌊0.6·o⌋
    assert to_five.period == (5, 3)


def test_resample_map_linear() -> None:
    """Linear upsampling (align_corners=False) reads the inputs around (o + ½)·W_in/W_out − ½."""
    double = ResampleMap(size_in=4, size_out=8, linear=True)
    assert double.span(0) == (-1, 0)  # −0.25: the border is not clamped (padding convention)
    assert double.span(1) == (0, 1)  # 0.25
    assert double.span(2) == (0, 1)  # 0.75
    assert double.span(3) == (1, 2)  # 1.25
    triple = ResampleMap(size_in=2, size_out=6, linear=True)
    assert triple.span(1) == (0, 0)  # 1.5/3 − 0.5 = 0 exactly: one input


def test_adaptive_map_span() -> None:
    """An adaptive window o spans [⌊o·W/out⌋, ⌈(o+1)·W/out⌉ − 1]: 5 → 3 gives 0–1, 1–3, 3–4."""
    pool = AdaptiveMap(size_in=5, size_out=3)
    assert [pool.span(o) for o in range(3)] == [(0, 1), (1, 3), (3, 4)]
    assert pool.period == (3, 5)
    assert AdaptiveMap(size_in=14, size_out=7).period == (1, 2)


def test_shift_map_span() -> None:
    """Explicit padding by P shifts: output o reads input o − P."""
    pad = ShiftMap(pad_before=2)
    assert pad.span(0) == (-2, -2)
    assert pad.span(5) == (3, 3)
    assert pad.period == (1, 1)
