"""What the calculator's model says each output unit sees, on the real arrays and beyond.

The calculator describes each layer by index maps (convcalc/geometry.py): output unit o
reads input units ``index_map.reads(o)``. Its receptive field (convcalc/receptive_field.py)
counts padding as positions: a unit's field extends into the padding of every layer
before it. On arrays, padding is zeros and a path through it carries nothing, so a unit
near a border can see less of the input than its field clipped to the input: behind a
ceil-mode window that overhangs its input, a dilated tap that lands in padding, or a
transposed convolution's unit that reads nothing.

For every checked row and spatial dim, `expected_fields` gives both:

* ``reach``: the calculator's own index maps followed layer after layer, keeping only the
  units that exist: the first and last input position each unit really reaches. The
  probe's measurement must equal it at every unit.
* ``field``: the calculator's receptive field per unit (its periodic form), whose
  summary the report prints. Where it clipped to the input equals ``reach``, no padding
  is in the way and the printed size, stride and padding must describe the unit.

At a ``mul``, a branch broadcast along the dim is held fixed, as in the calculator and the
probe: the model is the union of the other branches'.

Pure Python on small integer arrays: no kernels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from convcalc.geometry import IndexMap
from convcalc.layers.merges import FieldRule, merge_definition
from convcalc.receptive_field import (
    AxisField,
    LookupBudget,
    PeriodTooLong,
    StrideMismatch,
    merge_cost,
    merge_fields,
)
from convcalc.reference.plan import Leaf, Merge, Node
from convcalc.reference.walk import PlanFold

__all__ = ["Expected", "Reach", "expected_fields"]

_NONE = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Reach:
    """First and last input position each unit of a layer reaches along one dim.

    Attributes:
        first: per unit, the first input position (a huge number when none).
        last: per unit, the last input position (−1 when none).
    """

    first: np.ndarray
    last: np.ndarray

    @classmethod
    def nothing(cls, units: int) -> Reach:
        """Return the reach of ``units`` units that no input position reaches."""
        return cls(np.full(units, _NONE, np.int64), np.full(units, -1, np.int64))

    def through(self, index_map: IndexMap, units: int) -> Reach:
        """Return the reach of ``units`` output units that read this layer by ``index_map``."""
        size = len(self.first)
        empty = Reach.nothing(units)
        first, last = empty.first, empty.last
        for unit in range(units):
            reads = index_map.reads(unit)
            taps = np.arange(reads.start, reads.stop, reads.step)
            taps = taps[(taps >= 0) & (taps < size)]
            if taps.size:
                first[unit] = self.first[taps].min()
                last[unit] = self.last[taps].max()
        return Reach(first, last)


@dataclass(frozen=True)
class Expected:
    """The calculator's model of one row along one dim.

    Attributes:
        reach: what each unit reaches on the real arrays.
        field: the calculator's periodic field, or None when it stopped tracking it.
    """

    reach: Reach
    field: AxisField | None


class _Walk(PlanFold[Expected | None]):
    """Follows the calculator's index maps along one dim, recording each row's model.

    The field costs look-ups as in the analysis (`AxisField.cost`, `merge_cost`), against
    the same MAX_FIELD_LOOKUPS: past it the field is untracked from there on, as the
    report says. The analysis spends its budget over every dim, this walk over one, so
    it never stops tracking a field the report printed.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.rows: dict[int, Expected] = {}
        self.afford = LookupBudget().afford

    def merged(self, states: Sequence[Expected]) -> Expected:
        """Return the model of a merge of ``states``: the union of the branches."""
        reach = Reach(np.minimum.reduce([s.reach.first for s in states]),
                      np.maximum.reduce([s.reach.last for s in states]))
        fields = [s.field for s in states if s.field is not None]
        field = None
        if len(fields) == len(states):
            try:
                if self.afford(merge_cost(fields)):
                    field = merge_fields(fields)
            except (PeriodTooLong, StrideMismatch):
                field = None
        return Expected(reach, field)

    def merge(self, merge: Merge, outputs: list[Expected | None]) -> Expected | None:
        if merge_definition(merge.kind).field_rule == FieldRule.local_union:
            # a branch broadcast along this dim is held fixed (a branch past a layer that
            # mixes all positions is one that a mul broadcasts): the others' union
            units = merge.row.output_shape[1 + self.dim]
            outputs = [out for out in outputs
                       if out is not None and not len(out.reach.first) == 1 < units]
            if not outputs:
                return None
        if any(out is None for out in outputs):
            return None
        merged = self.merged([out for out in outputs if out is not None])
        self.rows[merge.index] = merged
        return merged

    def leaf(self, leaf: Leaf, state: Expected | None) -> Expected | None:
        if state is None:
            return None
        maps = leaf.layer.apply(leaf.row.input_shape).index_maps
        if maps is None:  # the layer mixes all positions
            return None
        if maps:
            index_map = maps[self.dim]
            field = None
            if state.field is not None:
                try:
                    if self.afford(state.field.cost(index_map)):
                        field = state.field.through(index_map)
                except PeriodTooLong:
                    field = None
            reach = state.reach.through(index_map, leaf.row.output_shape[1 + self.dim])
            state = Expected(reach, field)
        self.rows[leaf.index] = state
        return state


def expected_fields(plan: Sequence[Node], width: int, dim: int) -> dict[int, Expected]:
    """Return, per checked-row index, the calculator's model of its units along ``dim``
    (rows past the first layer that mixes all positions are left out)."""
    walk = _Walk(dim)
    positions = np.arange(width, dtype=np.int64)
    walk.nodes(plan, Expected(Reach(positions, positions.copy()), AxisField.identity()))
    return walk.rows
