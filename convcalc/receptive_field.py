"""Receptive fields, walked forward through the network one index map at a time.

After Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks"
(Distill, 2019): an output unit ``o`` of a layer sees the network-input positions
``[o·S − P, o·S − P + r − 1]``, where ``r`` is the receptive-field size, ``S`` the
effective stride and ``P`` the effective padding. For a sliding window that gives the
paper's recurrences ``r += (K−1)·D·S``, ``P += p_before·S``, ``S *= s``.

Upsampling and transposed convolutions make the map from a unit to its inputs periodic
rather than affine (two neighbouring outputs can read the same input). We keep, per
spatial dimension, the exact first and last input position of every unit in one period
and carry the period along, so the walk stays exact there too; with a period of 1 (a
network of convolutions and pools) it is the paper's recurrence. The size reported is the
largest over the units of a period, the stride ``S`` may be a fraction (``1/2`` after a
2× upsampling), and the padding is ``−(first input position of unit 0)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

from convcalc.geometry import IndexMap

__all__ = [
    "MAX_FIELD_LOOKUPS",
    "MAX_PERIOD",
    "AxisField",
    "LookupBudget",
    "PeriodTooLong",
    "StrideMismatch",
    "merge_cost",
    "merge_fields",
]

MAX_PERIOD = 4096
"""The longest period tracked; past it the receptive field is reported as untracked."""
MAX_FIELD_LOOKUPS = 2**23
"""The most input-field look-ups one network's walk may spend (about 2 s); past them the
receptive field is reported as untracked. Each layer costs ``AxisField.cost``: one look-up
per unit of its period, or, when some units see nothing, two per tap up to two per unit of
the input period, so a network of convolutions and pools spends one a layer."""


@dataclass
class LookupBudget:
    """The field look-ups one walk has spent, against MAX_FIELD_LOOKUPS.

    Attributes:
        spent: look-ups spent so far.
    """

    spent: int = 0

    def afford(self, lookups: int) -> bool:
        """Return whether ``lookups`` more fit in the budget; spend them if so."""
        if self.spent + lookups > MAX_FIELD_LOOKUPS:
            return False
        self.spent += lookups
        return True


class PeriodTooLong(Exception):
    """The unit-to-input map's period grew past MAX_PERIOD."""


class StrideMismatch(Exception):
    """Branches meeting at a merge have different effective strides."""


@dataclass(frozen=True)
class AxisField:
    """The receptive field along one spatial dimension, for every unit of one period.

    Attributes:
        period: units per period q.
        shift: network-input positions the field moves per period T (stride = T/q).
        lefts: first input position seen by units 0..q−1.
        rights: last input position seen by units 0..q−1.
    """

    period: int
    shift: int
    lefts: tuple[int, ...]
    rights: tuple[int, ...]

    @classmethod
    def identity(cls) -> AxisField:
        """Return the field of the network input itself: each unit sees itself."""
        return cls(1, 1, (0,), (0,))

    def edges(self, unit: int) -> tuple[int, int]:
        """Return the first and last input positions unit ``unit`` sees."""
        turns, index = divmod(unit, self.period)
        offset = turns * self.shift
        return self.lefts[index] + offset, self.rights[index] + offset

    def through(self, index_map: IndexMap) -> AxisField:
        """Return the field after a layer whose units read ``index_map.span(o)``.

        Costs at most ``self.cost(index_map)`` input-field look-ups, whatever the kernel.
        """
        period, shift = self._next_period(index_map)
        lefts, rights = [], []
        monotone = self._monotone()
        for unit in range(period):
            first, last = index_map.span(unit)
            if first > last:  # the unit reads nothing: an empty field, kept in place
                left = self.edges(first)[0]
                lefts.append(left)
                rights.append(left - 1)
            elif monotone:  # the extreme inputs have the extreme fields
                lefts.append(self.edges(first)[0])
                rights.append(self.edges(last)[1])
            else:
                left, right = self._reach(index_map.reads(unit))
                lefts.append(left)
                rights.append(right)
        return AxisField(period, shift, tuple(lefts), tuple(rights))

    def _next_period(self, index_map: IndexMap) -> tuple[int, int]:
        """Return the period and shift of the field after ``index_map``.

        Raises PeriodTooLong past MAX_PERIOD.
        """
        period_out, period_in = index_map.period
        turns = self.period // math.gcd(period_in, self.period)
        period = period_out * turns
        if period > MAX_PERIOD:
            raise PeriodTooLong(period)
        return period, period_in * turns // self.period * self.shift

    def cost(self, index_map: IndexMap) -> int:
        """Return how many input-field look-ups ``through(index_map)`` does at most.

        One per unit of the new period when fields are monotone, else two per read, and
        at most two per unit of this field's period (see ``_reach``). Raises PeriodTooLong
        past MAX_PERIOD.
        """
        period, _ = self._next_period(index_map)
        if self._monotone():
            return period
        return period * 2 * min(index_map.widest, self.period)

    def _reach(self, reads: range) -> tuple[int, int]:
        """Return the first and last input positions the units ``reads`` see, together.

        Unit ``x + q`` sees what unit ``x`` sees moved on by the shift (never backwards),
        and ``cycle`` steps of the range move ``x`` on by whole periods: so the earliest
        left edge is among the first ``cycle`` reads and the latest right edge among the
        last ``cycle``, however many taps the kernel has. A unit that sees nothing
        (``left > right``) is passed over; when all do, the field is empty, kept in place.
        """
        cycle = self.period // math.gcd(reads.step, self.period)
        head = [self.edges(x) for x in reads[:cycle]]
        lefts = [left for left, right in head if left <= right]
        if not lefts:  # the first cycle meets every unit of the period the range meets
            return head[0][0], head[0][0] - 1
        rights = [right for left, right in map(self.edges, reads[-cycle:]) if left <= right]
        return min(lefts), max(rights)

    def _monotone(self) -> bool:
        """Return whether every unit sees something and fields never move backwards."""
        if any(left > right for left, right in zip(self.lefts, self.rights, strict=True)):
            return False
        lefts = (*self.lefts, self.lefts[0] + self.shift)
        rights = (*self.rights, self.rights[0] + self.shift)
        return all(a <= b for a, b in pairwise(lefts)) and all(
            a <= b for a, b in pairwise(rights))

    @property
    def size(self) -> int:
        """Return the largest number of input positions any unit sees (first to last)."""
        return max(max(last - first + 1, 0)
                   for first, last in zip(self.lefts, self.rights, strict=True))

    @property
    def stride(self) -> Fraction:
        """Return the effective stride: input positions between neighbouring units."""
        return Fraction(self.shift, self.period)

    @property
    def padding(self) -> int:
        """Return the effective padding: how far before input 0 unit 0's field starts."""
        return -self.lefts[0]

    def expanded(self, period: int) -> AxisField:
        """Return the same field described over a longer period (a multiple of this one)."""
        return AxisField(
            period,
            self.shift * (period // self.period),
            tuple(self.edges(u)[0] for u in range(period)),
            tuple(self.edges(u)[1] for u in range(period)),
        )


def merge_cost(fields: list[AxisField]) -> int:
    """Return how many look-ups ``merge_fields(fields)`` does: each branch over the period.

    Raises PeriodTooLong past MAX_PERIOD.
    """
    period = math.lcm(*(f.period for f in fields))
    if period > MAX_PERIOD:
        raise PeriodTooLong(period)
    return period * len(fields)


def merge_fields(fields: list[AxisField]) -> AxisField:
    """Return the field of a merge (add or concat): each unit sees the union of the branches.

    Raises StrideMismatch when the branches' effective strides differ.
    """
    strides = {f.stride for f in fields}
    if len(strides) > 1:
        raise StrideMismatch(sorted(strides))
    period = math.lcm(*(f.period for f in fields))
    if period > MAX_PERIOD:
        raise PeriodTooLong(period)
    expanded = [f.expanded(period) for f in fields]
    lefts, rights = [], []
    for unit in range(period):
        seen = [(f.lefts[unit], f.rights[unit]) for f in expanded
                if f.lefts[unit] <= f.rights[unit]]
        if not seen:  # no branch sees anything at this unit
            seen = [(expanded[0].lefts[unit], expanded[0].lefts[unit] - 1)]
        lefts.append(min(left for left, _ in seen))
        rights.append(max(right for _, right in seen))
    return AxisField(period, expanded[0].shift, tuple(lefts), tuple(rights))
