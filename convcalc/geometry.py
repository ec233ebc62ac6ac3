"""Window arithmetic shared by every layer type: output sizes, padding rules, index maps.

Everything here is per spatial dimension and pure: integers in, integers out. A layer
module resolves its options to per-dimension numbers and calls these functions; the
receptive-field walk composes the index maps they describe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "AdaptiveMap",
    "IndexMap",
    "ResampleMap",
    "ShiftMap",
    "TransposedWindowMap",
    "WindowMap",
    "adaptive_window_total",
    "dropped_inputs",
    "same_padding",
    "transposed_output_size",
    "window_output_size",
]


def window_output_size(
    size: int,
    kernel: int,
    stride: int,
    dilation: int,
    pad_before: int,
    pad_after: int,
    ceil_mode: bool = False,
) -> int:
    """Return the number of window positions: ``floor((W + P − D·(K−1) − 1)/S) + 1``.

    With ``ceil_mode`` the division rounds up (even when the kernel overhangs the padded
    input by less than a stride), and, as PyTorch does, a last window that would start
    inside the right padding is dropped. Returns 0 or less when the dilated
    kernel does not fit in the padded input; callers turn that into an error.
    """
    span = size + pad_before + pad_after - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1 if span >= 0 else 0
    # PyTorch rounds a negative span up too: a kernel up to S − 1 past the padded input
    # still gives one (partial) window in ceil mode.
    out = -(-span // stride) + 1
    if out > 0 and (out - 1) * stride >= size + pad_before:
        out -= 1
    return max(out, 0)


def dropped_inputs(
    size: int, kernel: int, stride: int, dilation: int, pad_before: int, pad_after: int
) -> int:
    """Return how many trailing padded-input positions no window reaches (floor mode)."""
    span = size + pad_before + pad_after - dilation * (kernel - 1) - 1
    return span % stride if span >= 0 else 0


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """Return TensorFlow's ``same`` padding (before, after): output ``ceil(W/S)``.

    Total padding is ``max((out − 1)·S + (K − 1)·D + 1 − W, 0)``; the smaller half goes
    before, the larger after.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def transposed_output_size(
    size: int, kernel: int, stride: int, dilation: int, padding: int, output_padding: int
) -> int:
    """Return ``(W − 1)·S − 2P + D·(K − 1) + output_padding + 1`` (PyTorch's rule)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _floor_sum(n: int, m: int, a: int, b: int) -> int:
    """Return ``Σ_{i=0}^{n−1} floor((a·i + b)/m)`` in O(log) steps (a, b ≥ 0, m ≥ 1)."""
    total = 0
    while True:
        if a >= m:
            total += (n - 1) * n // 2 * (a // m)
            a %= m
        if b >= m:
            total += n * (b // m)
            b %= m
        y_max = a * n + b
        if y_max < m:
            return total
        n, b, m, a = y_max // m, y_max % m, a, m


def adaptive_window_total(size: int, out: int) -> int:
    """Return the summed length of an adaptive pool's ``out`` windows over ``size`` inputs.

    Window ``o`` spans ``[floor(o·W/out), ceil((o+1)·W/out))``, as PyTorch places them.
    """
    ends = _floor_sum(out, out, size, size + out - 1)  # Σ ceil((o+1)·W/out)
    starts = _floor_sum(out, out, size, 0)  # Σ floor(o·W/out)
    return ends - starts


# ---------------------------------------------------------------- index maps
# An index map says which input positions an output position reads: span(o) = (lo, hi),
# the first and last input index, ignoring the borders (padding counts as positions, as
# the receptive-field convention of Araujo et al. does). Each map is periodic:
# span(o + period_out) = span(o) + period_in, which is what lets the receptive-field walk
# stay exact through upsampling and transposed convolutions.


@dataclass(frozen=True)
class IndexMap:
    """Base of the index maps: which inputs an output position reads."""

    @property
    def period(self) -> tuple[int, int]:
        """Return (period_out, period_in): span(o + period_out) = span(o) + period_in."""
        raise NotImplementedError

    def span(self, o: int) -> tuple[int, int]:
        """Return the first and last input index that output ``o`` reads."""
        raise NotImplementedError

    def reads(self, o: int) -> range:
        """Return every input index output ``o`` reads (empty when it reads none)."""
        first, last = self.span(o)
        return range(first, last + 1)

    @property
    def widest(self) -> int:
        """Return the most input indices any one output reads (an upper bound)."""
        raise NotImplementedError


@dataclass(frozen=True)
class WindowMap(IndexMap):
    """A sliding window (convolution, pooling): ``[o·S − P, o·S − P + (K−1)·D]``.

    Attributes:
        kernel: window size K.
        stride: step S between windows.
        dilation: spacing D between taps.
        pad_before: padding P before the first input.
    """

    kernel: int
    stride: int
    dilation: int
    pad_before: int

    @property
    def period(self) -> tuple[int, int]:
        return 1, self.stride

    def span(self, o: int) -> tuple[int, int]:
        lo = o * self.stride - self.pad_before
        return lo, lo + (self.kernel - 1) * self.dilation

    def reads(self, o: int) -> range:
        first, last = self.span(o)
        return range(first, last + 1, self.dilation)

    @property
    def widest(self) -> int:
        return self.kernel


@dataclass(frozen=True)
class TransposedWindowMap(IndexMap):
    """A transposed convolution: output ``o`` reads inputs ``i`` with ``i·S − P + k·D = o``.

    Attributes:
        kernel: kernel size K.
        stride: upsampling stride S.
        dilation: spacing D between taps.
        padding: PyTorch's ``padding`` P, cropped from both ends of the output.
    """

    kernel: int
    stride: int
    dilation: int
    padding: int

    @property
    def period(self) -> tuple[int, int]:
        return self.stride, 1

    def span(self, o: int) -> tuple[int, int]:
        # The taps that land on o are the k in [0, K) with k·D ≡ o + P (mod S): solve the
        # congruence once instead of looping over the kernel.
        target = o + self.padding
        g = math.gcd(self.dilation, self.stride)
        step = self.stride // g
        if target % g:
            first = None
        else:
            inverse = pow(self.dilation // g, -1, step) if step > 1 else 0
            first = (target // g * inverse) % step if step > 1 else 0
        if first is None or first > self.kernel - 1:
            centre = target // self.stride  # no tap reaches o: an empty span, kept in place
            return centre, centre - 1
        last = first + (self.kernel - 1 - first) // step * step
        return (target - last * self.dilation) // self.stride, (
            target - first * self.dilation
        ) // self.stride

    def reads(self, o: int) -> range:
        # Successive taps that land on o are step = S/g apart in k, so D/g apart in input.
        first, last = self.span(o)
        return range(first, last + 1, self.dilation // math.gcd(self.dilation, self.stride))

    @property
    def widest(self) -> int:
        # The taps landing on one output are S/gcd(D, S) apart in k.
        return -(-self.kernel // (self.stride // math.gcd(self.dilation, self.stride)))


@dataclass(frozen=True)
class ResampleMap(IndexMap):
    """Upsampling from ``size_in`` to ``size_out`` positions, nearest or linear.

    Attributes:
        size_in: input positions.
        size_out: output positions.
        linear: linear interpolation (align_corners=False) rather than nearest.
    """

    size_in: int
    size_out: int
    linear: bool

    @property
    def period(self) -> tuple[int, int]:
        g = math.gcd(self.size_in, self.size_out)
        return self.size_out // g, self.size_in // g

    def span(self, o: int) -> tuple[int, int]:
        ratio = Fraction(self.size_in, self.size_out)
        if not self.linear:
            source = math.floor(o * ratio)
            return source, source
        position = (o + Fraction(1, 2)) * ratio - Fraction(1, 2)
        return math.floor(position), math.ceil(position)

    @property
    def widest(self) -> int:
        return 2 if self.linear else 1


@dataclass(frozen=True)
class AdaptiveMap(IndexMap):
    """An adaptive pool's window ``[floor(o·W/out), ceil((o+1)·W/out) − 1]``.

    Attributes:
        size_in: input positions W.
        size_out: output positions.
    """

    size_in: int
    size_out: int

    @property
    def period(self) -> tuple[int, int]:
        g = math.gcd(self.size_in, self.size_out)
        return self.size_out // g, self.size_in // g

    def span(self, o: int) -> tuple[int, int]:
        lo = o * self.size_in // self.size_out
        hi = -(-(o + 1) * self.size_in // self.size_out) - 1
        return lo, hi

    @property
    def widest(self) -> int:
        return -(-self.size_in // self.size_out) + 1


@dataclass(frozen=True)
class ShiftMap(IndexMap):
    """Explicit padding: output ``o`` reads input ``o − P``.

    Attributes:
        pad_before: positions added before the input.
    """

    pad_before: int

    @property
    def period(self) -> tuple[int, int]:
        return 1, 1

    def span(self, o: int) -> tuple[int, int]:
        return o - self.pad_before, o - self.pad_before

    @property
    def widest(self) -> int:
        return 1
