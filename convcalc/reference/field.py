"""Receptive fields read off the probe: which input positions reach each output unit.

The probe (probe.py) runs one "slab" per input position b along a dim: ones at b, zeros
elsewhere, through the network with every weight 1. For a layer's output unit u along
the dim, the slabs that reach it are its support on the real, bordered input; `Supports`
keeps the first and last of them and how many there are.

The calculator's convention (convcalc/receptive_field.py) counts padding as positions:
unit u's field is ``[L(u), R(u)]`` with ``L(u) = u·S − P`` for u ≡ 0 mod q (q is the
field's period; 1 for a network of convolutions and pools), and ``size`` is the largest
``R − L + 1`` over a period. From the arrays:

* units whose support lies strictly inside the input show size, stride and padding
  exactly (`measure`): the stride from first(u + q) − first(u), the padding from
  u·S − first(u), the size as the largest span;
* every unit's first and last position must be where the calculator's own windows lead
  on the same arrays (`unit_mismatches`, against expected.py's reach);
* every unit with no padding in the way must see exactly the printed field clipped to
  the input (`formula_mismatches`, for u ≡ 0 mod q).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from convcalc.receptive_field import AxisField

__all__ = ["AxisFit", "Supports", "as_fraction", "field_edges", "formula_mismatches",
           "measure", "uncut_units", "unit_mismatches"]

_EMPTY_FIRST = np.iinfo(np.int64).max
MAX_TRIM = 4
"""The most units the fit drops at the two ends of the unclipped stretch together."""
MAX_FIT_PERIOD = 256
"""The longest period the fit tries."""


@dataclass
class Supports:
    """Per output unit along one dim: first and last input position reaching it, and count.

    Attributes:
        first: first input position per unit (a huge number when none reaches it).
        last: last input position per unit (−1 when none).
        count: how many input positions reach it.
    """

    first: np.ndarray
    last: np.ndarray
    count: np.ndarray

    @classmethod
    def empty(cls, units: int) -> Supports:
        """Return supports of ``units`` units that no position reaches yet."""
        return cls(
            np.full(units, _EMPTY_FIRST, np.int64),
            np.full(units, -1, np.int64),
            np.zeros(units, np.int64),
        )

    def add(self, reached: np.ndarray, start: int) -> None:
        """Fold in ``reached`` (slabs × units, bool) for the slabs ``start, start + 1, …``.

        A unit sees few slabs, so the reached pairs are few: listing them is faster than
        reducing the whole matrix down its columns.
        """
        slabs, units = np.nonzero(reached)
        positions = slabs + start
        np.minimum.at(self.first, units, positions)
        np.maximum.at(self.last, units, positions)
        np.add.at(self.count, units, 1)

    @property
    def reached(self) -> np.ndarray:
        """Return which units some input position reaches."""
        return self.count > 0


@dataclass(frozen=True)
class AxisFit:
    """Size, stride and padding read off the unclipped units of one dim.

    Attributes:
        unclipped: units whose support lies strictly inside the input.
        span: how many units the fit used, first to last (0 without a fit).
        period: the period q the fit found, or None without a fit.
        size: the largest span among the units used, or None without a fit.
        stride: T/q, from first(u + q) − first(u) = T, or None without a fit.
        padding: u·S − first(u) for a unit u ≡ 0 mod q, or None.
    """

    unclipped: int
    span: int
    period: int | None
    size: int | None
    stride: Fraction | None
    padding: int | None


def as_fraction(value: int | float) -> Fraction:
    """Return a stride from the report (an int, or a float after upsampling) as a fraction."""
    return Fraction(value).limit_denominator(1 << 20)


def _inside(supports: Supports, width: int) -> tuple[int, int] | None:
    """Return the longest stretch [a, b] of units whose reached ones all lie strictly inside.

    A support touching position 0 or W − 1 may be clipped there, so it is not used.
    """
    reached = supports.reached
    inside = reached & (supports.first > 0) & (supports.last < width - 1)
    best: tuple[int, int] | None = None
    start = None
    for unit in range(len(inside) + 1):
        if unit == len(inside) or (reached[unit] and not inside[unit]):
            if start is not None:
                stretch = np.flatnonzero(inside[start:unit]) + start
                if stretch.size and (best is None or stretch[-1] - stretch[0] > best[1] - best[0]):
                    best = (int(stretch[0]), int(stretch[-1]))
            start = None
        elif start is None:
            start = unit
    return best


def _shift(supports: Supports, low: int, high: int, period: int) -> int | None:
    """Return T if every unit u in [low, high − period] has first(u + period) = first(u) + T
    and last(u + period) = last(u) + T (and is reached exactly when u + period is)."""
    reached = supports.reached[low:high + 1]
    first = supports.first[low:high + 1]
    last = supports.last[low:high + 1]
    if not np.array_equal(reached[period:], reached[:-period]):
        return None
    both = reached[period:]
    moves = np.concatenate([(first[period:] - first[:-period])[both],
                            (last[period:] - last[:-period])[both]])
    if moves.size == 0 or not np.all(moves == moves[0]) or moves[0] <= 0:
        return None
    return int(moves[0])


def measure(supports: Supports, width: int) -> AxisFit:
    """Return the size, stride and padding the unclipped units show along one dim.

    The unclipped units are a stretch; a unit at either end can be one whose field is
    clipped but whose clipped end fell in a dilation hole, so the fit may drop a few
    there (at most MAX_TRIM and a quarter of the stretch, the fewest first), and takes the
    shortest period q ≤ MAX_FIT_PERIOD for which the rest repeat exactly, needing at
    least 2q + 1 units.
    """
    stretch = _inside(supports, width)
    if stretch is None:
        return AxisFit(0, 0, None, None, None, None)
    low, high = stretch
    unclipped = int(supports.reached[low:high + 1].sum())
    for trim in range(min(MAX_TRIM, (high - low + 1) // 4) + 1):
        for left in range(trim + 1):
            first_unit, last_unit = low + left, high - (trim - left)
            length = last_unit - first_unit + 1
            for period in range(1, min((length - 1) // 2, MAX_FIT_PERIOD) + 1):
                shift = _shift(supports, first_unit, last_unit, period)
                if shift is not None:
                    return _fit(supports, unclipped, first_unit, last_unit, period, shift)
    return AxisFit(unclipped, 0, None, None, None, None)


def _fit(supports: Supports, unclipped: int, low: int, high: int, period: int,
         shift: int) -> AxisFit:
    used = slice(low, high + 1)
    spans = (supports.last[used] - supports.first[used] + 1)[supports.reached[used]]
    padding = None
    for unit in range(low, high + 1):
        if unit % period == 0 and supports.reached[unit]:
            padding = unit * shift // period - int(supports.first[unit])
            break
    return AxisFit(unclipped, high - low + 1, period, int(spans.max()),
                   Fraction(shift, period), padding)


def unit_mismatches(supports: Supports, first: np.ndarray, last: np.ndarray) -> list[int]:
    """Return the units whose measured first or last position differs from the expected
    (``last`` −1 where no position is expected to reach the unit)."""
    if len(first) != len(supports.first):
        return list(range(max(len(first), len(supports.first))))
    reached = supports.reached
    expected = last >= 0
    wrong = (reached != expected) | (reached & ((supports.first != first)
                                                | (supports.last != last)))
    return [int(u) for u in np.flatnonzero(wrong)]


def field_edges(field: AxisField, units: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the calculator's first and last position (padding counted) of each unit."""
    edges = np.array([field.edges(unit) for unit in range(units)], np.int64).reshape(-1, 2)
    return edges[:, 0], edges[:, 1]


def uncut_units(field: AxisField, reach_first: np.ndarray, reach_last: np.ndarray,
                width: int) -> np.ndarray:
    """Return which units reach exactly their field clipped to the input: no path to an
    end of it runs through padding."""
    left, right = field_edges(field, len(reach_first))
    low, high = np.maximum(left, 0), np.minimum(right, width - 1)
    field_empty = low > high
    reach_empty = reach_last < 0
    return np.where(field_empty, reach_empty,
                    ~reach_empty & (reach_first == low) & (reach_last == high))


def formula_mismatches(supports: Supports, width: int, size: int, stride: Fraction,
                       padding: int, period: int, checked: np.ndarray) -> list[int]:
    """Return the ``checked`` units whose support is not the printed field clipped to the
    input: ``[u·S − P, u·S − P + r − 1]`` ∩ ``[0, W − 1]``.

    The printed numbers describe unit u exactly only for u ≡ 0 mod q, the field's period;
    of those, with q > 1, only the start (the size is the largest over a period, so the
    end need only lie within it).
    """
    units = np.arange(len(supports.count), dtype=np.int64)
    left = units * stride.numerator // stride.denominator - padding
    right = left + size - 1
    low, high = np.maximum(left, 0), np.minimum(right, width - 1)
    reached, first, last = supports.reached, supports.first, supports.last
    if period == 1:
        wrong = np.where(low > high, reached, ~reached | (first != low) | (last != high))
    else:
        wrong = (units % period == 0) & reached & ((first != low) | (last > high))
    return [int(u) for u in np.flatnonzero(wrong & checked)]
