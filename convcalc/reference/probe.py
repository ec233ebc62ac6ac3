"""The receptive-field probe: which input positions reach each output unit, on arrays.

The probe runs the network's geometry with one channel and every weight 1: conv,
conv_transpose and linear with one input and one output channel and groups 1; pools,
pad and upsample as they are; layers that act on each element alone (activations,
batchnorm, dropout) pass their input on, since they move no position: their supports are
their input's, shared, at no cost. Merges add their branches (a concat is summed into the
one channel). For a spatial dim d, item b of a batch is a "slab": ones at position b
along d, at every position of the other dims.

Every value stays ≥ 0 and is reset to 0 or 1 after each layer (a max pool window wholly in
the padding gives −∞, which becomes 0), so an output unit is non-zero exactly when its
support contains b. Every layer is separable along each dim: with every weight 1, a
layer's output on a product of sets (one set per dim) is the product of what the layer
does along each dim alone. So a slab's array is a union of products, one per path through
the merges: a set along d (which depends on b) times a set along each other dim (which
does not). The probe keeps exactly that: per path a *term*, an array along d of one item
per slab (the other dims of length 1), and, per other dim, the path's set along it (one
array, shared by every slab). A unit along d is reached anywhere along the other dims
exactly when a term reaches it whose other sets are not empty. Terms whose other sets are
equal are merged (their arrays added); a term whose set along some other dim becomes empty
is dropped, as the slab's product would be zero. In a network without such differences
there is one term, and a slab costs the length along d, not the whole volume.

Each layer runs through the real kernel, along one dim at a time: the array keeps its
rank, with unit length and unit options (kernel 1, stride 1, no padding) in the other
dims, so the kernels' own loops place the windows along every dim of the network.

The probe stops at the first layer that mixes all positions (flatten, linear, global
pooling), where it records which slabs reach the output at all.

A ``mul`` merge (``MergeOp.holds_broadcast``) leaves out of the union every branch
broadcast along the probed dim (length 1 there while the merge's output is longer): that
branch is held fixed, so the supports are the local field the calculator reports. What
the held branch depends on goes into the value's *scale*: per slab, whether the slab
reaches every unit through a broadcast value (a branch broadcast along d has one unit
along d, which every output unit reads). The scale passes through every later layer and
merge (each of whose units reads some unit of its input), and past the first layer that
mixes all positions too, so that verify can check ``global_context``: per row and dim,
which slabs the scale holds (``ProbePass.context``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from convcalc.reference.field import Supports
from convcalc.reference.lookup import layer_op, merge_op
from convcalc.reference.ops._op import Positions
from convcalc.reference.ops._threads import in_parallel
from convcalc.reference.ops.merge import summed
from convcalc.reference.plan import Leaf, Merge, Node, checked_rows
from convcalc.reference.walk import PlanFold

__all__ = ["GLOBAL", "MAX_PROBE_TERMS", "Global", "ProbePass", "checked_units", "positions",
           "probe_work", "resolve_shared"]

MAX_PROBE_TERMS = 8
"""The most terms (paths with different extents along the other dims) the probe follows
at once; each costs as much as the whole probe of a network without merges."""


@dataclass(frozen=True)
class Global:
    """The probe's value past the first layer that mixes all positions.

    Attributes:
        scale: per slab, whether every unit depends on it (None: no slab is known to).
        lengths: the value's spatial lengths, as its row reports them (for a ``mul``:
            whether the value is broadcast along the probed dim).
    """

    scale: np.ndarray | None = None
    lengths: tuple[int, ...] = ()


GLOBAL = Global()


@dataclass
class Terms:
    """The probe's value after a row: per key (the other dims' sets), the array along d.

    Attributes:
        arrays: per key, the array along the probed dim, one item per slab.
        others: per key, the sets along the other dims (None at the probed dim).
        source: the checked row whose supports these are (None: the network input).
        scale: per slab, whether it reaches every unit through a broadcast value held
            fixed by a ``mul`` (None: no slab does).
    """

    arrays: dict[bytes, np.ndarray] = field(default_factory=dict)
    others: dict[bytes, tuple[np.ndarray | None, ...]] = field(default_factory=dict)
    source: int | None = None
    scale: np.ndarray | None = None


Value = Terms | Global


@njit(cache=True, nogil=True)
def _binarize_flat(flat: np.ndarray, start: int, stop: int) -> int:
    """Set every positive value of ``flat[start:stop]`` to 1 and every other to 0, in place.

    Probe values are ≥ 0, but a max pool window that lies wholly in the padding gives −∞:
    nothing reaches that unit.
    """
    for index in range(start, stop):
        flat[index] = 1 if flat[index] > 0 else 0
    return 0


def _binarized(y: np.ndarray) -> np.ndarray:
    """Return ``y`` with positive values set to 1, others to 0 (in place when contiguous)."""
    y = np.ascontiguousarray(y)
    in_parallel(_binarize_flat, y.size, y.reshape(-1))
    return y


_FOLD_BLOCK = 512
"""Units one work item of `_fold` takes: a block of columns read row after row."""


@njit(cache=True, nogil=True)
def _fold(values: np.ndarray, start: int, first: np.ndarray, last: np.ndarray,
          count: np.ndarray, first_block: int, stop_block: int) -> int:
    """Fold ``values`` (slabs × units, 0 or 1) into each unit's first and last reaching
    position and count, for the slabs ``start, start + 1, …``, in blocks of units
    ``first_block`` to ``stop_block``; allocates nothing."""
    slabs, units = values.shape
    for block in range(first_block, stop_block):
        low = block * _FOLD_BLOCK
        high = min(low + _FOLD_BLOCK, units)
        for slab in range(slabs):
            position = start + slab
            for unit in range(low, high):
                if values[slab, unit] > 0:
                    first[unit] = min(first[unit], position)
                    last[unit] = max(last[unit], position)
                    count[unit] += 1
    return 0


def positions(step: Leaf | Merge) -> Positions:
    """Return what a row does to positions (a merge's windows are its branches')."""
    return layer_op(step.layer).positions if isinstance(step, Leaf) else Positions.moved


def _key(others: tuple[np.ndarray | None, ...]) -> bytes:
    return b"|".join(b"" if other is None else other.tobytes() for other in others)


def _either(*scales: np.ndarray | None) -> np.ndarray | None:
    """Return the slabs any of ``scales`` holds (None when none holds any)."""
    known = [scale for scale in scales if scale is not None]
    if not known:
        return None
    return np.logical_or.reduce(known) if len(known) > 1 else known[0]


def _reached(value: Terms | Global) -> np.ndarray | None:
    """Return, per slab, whether it reaches some unit of ``value`` (or its scale)."""
    if isinstance(value, Global):
        return value.scale
    reached: list[np.ndarray | None] = [
        np.asarray(array.reshape(array.shape[0], math.prod(array.shape[1:])).any(axis=1))
        for array in value.arrays.values()]
    return _either(value.scale, *reached)


def _broadcast_others(others: tuple[np.ndarray | None, ...], lengths: list[int]
                      ) -> tuple[np.ndarray | None, ...]:
    """Return the other dims' sets broadcast to ``lengths`` where a set has length 1."""
    widened: list[np.ndarray | None] = []
    for axis, other in enumerate(others):
        if other is not None and other.shape[2 + axis] != lengths[axis]:
            shape = list(other.shape)
            shape[2 + axis] = lengths[axis]
            other = np.ascontiguousarray(np.broadcast_to(other, tuple(shape)))
        widened.append(other)
    return tuple(widened)


class ProbePass(PlanFold[Value]):
    """Runs slabs ``start`` to ``stop`` along ``dim`` and folds in each row's supports.

    Attributes:
        supports: per checked-row index, the supports along ``dim`` (shared by the
            chunks of one dim).
        context: per checked-row index, which of the ``widths[dim]`` network-input
            positions its scale holds: positions every unit depends on through a value
            a ``mul`` broadcast along ``dim`` (shared by the chunks of one dim).
        covered: per checked-row index of a layer that mixes all positions, which of the
            ``widths[dim]`` network-input positions reach its input (row 0) and its
            output (row 1).
        shared: per elementwise row, the row whose supports it shares (None: the input).
        most_terms: the most terms the pass held at once.
    """

    def __init__(self, dim: int, start: int, stop: int, widths: tuple[int, ...],
                 supports: dict[int, Supports], covered: dict[int, np.ndarray],
                 tick: Callable[[], None],
                 context: dict[int, np.ndarray] | None = None) -> None:
        self.dim, self.start, self.stop, self.widths = dim, start, stop, widths
        self.supports = supports
        self.context = {} if context is None else context
        self.covered = covered
        self.tick = tick
        self.shared: dict[int, int | None] = {}
        self.most_terms = 0

    def _lengths(self, axis: int, length: int) -> tuple[int, ...]:
        """Return spatial lengths: ``length`` along ``axis``, 1 along the other dims."""
        return tuple(length if dim == axis else 1 for dim in range(len(self.widths)))

    def input(self) -> Terms:
        """Return the slabs: item i is one at position start + i along dim, one item per
        slab; the other dims' sets are their whole inputs."""
        width = self.widths[self.dim]
        slabs = self.stop - self.start
        x = np.zeros((slabs, 1, *self._lengths(self.dim, width)), np.float32)
        x.reshape(slabs, width)[np.arange(slabs), np.arange(self.start, self.stop)] = 1
        others = tuple(None if axis == self.dim else
                       np.ones((1, 1, *self._lengths(axis, length)), np.float32)
                       for axis, length in enumerate(self.widths))
        key = _key(others)
        return Terms({key: x}, {key: others}, None)

    def _length(self, value: Value) -> int | None:
        """Return the value's length along the probed dim (None: not known, flat)."""
        if isinstance(value, Terms):
            array = next(iter(value.arrays.values()))
            return int(array.shape[2 + self.dim])
        return value.lengths[self.dim] if len(value.lengths) > self.dim else None

    def merge(self, merge: Merge, outputs: list[Value]) -> Value:
        op = merge_op(merge.kind)
        scale = _either(*(out.scale for out in outputs))
        if op.holds_broadcast:
            lengths = [self._length(out) for out in outputs]
            top = max((length for length in lengths if length is not None), default=None)
            held = [length == 1 and top is not None and top > 1 for length in lengths]
            # a branch broadcast along the dim: every unit reads its one unit, so it is
            # held fixed here and what reaches it reaches every unit (the scale)
            scale = _either(scale, *(_reached(out) for out, hold in zip(outputs, held,
                                                                        strict=True) if hold))
            outputs = [out for out, hold in zip(outputs, held, strict=True) if not hold]
        terms = [out for out in outputs if isinstance(out, Terms)]
        if len(terms) < len(outputs):
            self.tick()
            return Global(scale, tuple(merge.row.output_shape[1:]))
        # the union of the branches' supports, in one channel
        merged = Terms(source=merge.index, scale=scale)
        grouped: dict[bytes, list[np.ndarray]] = {}
        # the other dims' sets of a branch broadcast along them widen to the output's
        # lengths (the shape check holds the calculator's lengths against the arrays')
        widest = list(merge.row.output_shape[1:])
        for branch in terms:
            for key, array in branch.arrays.items():
                others = branch.others[key]
                if op.holds_broadcast:
                    others = _broadcast_others(others, widest)
                    key = _key(others)
                grouped.setdefault(key, []).append(array)
                merged.others[key] = others
        for key, arrays in grouped.items():
            merged.arrays[key] = _binarized(op.union(*arrays))
        self.read(merge.index, merged)
        return merged

    def leaf(self, leaf: Leaf, x: Value) -> Value:
        if isinstance(x, Global):
            self.tick()
            return Global(x.scale, tuple(leaf.row.output_shape[1:]))
        layer = leaf.layer
        op = layer_op(layer)
        if op.positions == Positions.kept:
            self.shared[leaf.index] = x.source
            self.read_scale(leaf.index, x.scale)
            self.tick()
            return x
        if op.positions == Positions.mixed:
            reached = self.cover(leaf, x)
            return Global(_either(x.scale, reached), tuple(leaf.row.output_shape[1:]))
        y = Terms(source=leaf.index, scale=x.scale)
        dead: tuple[np.ndarray, tuple[np.ndarray | None, ...]] | None = None
        for key, array in x.arrays.items():
            others = x.others[key]
            dims = tuple(array.shape[2 + axis] if other is None else other.shape[2 + axis]
                         for axis, other in enumerate(others))
            moved = tuple(None if other is None else
                          _binarized(op.probe(layer, other, axis, dims))
                          for axis, other in enumerate(others))
            out = _binarized(op.probe(layer, array, self.dim, dims))
            if any(other is not None and not other.any() for other in moved):
                dead = (out, moved)  # this path reaches nothing along another dim
                continue
            new_key = _key(moved)
            if new_key in y.arrays:
                out = _binarized(summed(y.arrays[new_key], out))
            y.arrays[new_key] = out
            y.others[new_key] = moved
        if not y.arrays and dead is not None:
            # no path reaches this row along some other dim: the slabs reach no unit
            out, moved = dead
            out[...] = 0
            y.arrays[b""], y.others[b""] = out, moved
        self.read(leaf.index, y)
        return y

    def read_scale(self, index: int, scale: np.ndarray | None) -> None:
        """Fold in which slabs row ``index``'s scale holds."""
        if index not in self.context:
            self.context[index] = np.zeros(self.widths[self.dim], bool)
        if scale is not None:
            self.context[index][self.start:self.stop] |= scale

    def read(self, index: int, y: Terms) -> None:
        """Fold in which slabs reach each output unit of row ``index`` along the dim."""
        self.read_scale(index, y.scale)
        self.most_terms = max(self.most_terms, len(y.arrays))
        arrays = list(y.arrays.values())
        values = arrays[0] if len(arrays) == 1 else _binarized(summed(*arrays))
        values = values.reshape(values.shape[0], values.shape[2 + self.dim])
        if index not in self.supports:
            self.supports[index] = Supports.empty(values.shape[1])
        found = self.supports[index]
        blocks = (values.shape[1] + _FOLD_BLOCK - 1) // _FOLD_BLOCK
        in_parallel(_fold, blocks, values, self.start, found.first, found.last, found.count)
        self.tick()

    def cover(self, leaf: Leaf, x: Terms) -> np.ndarray:
        """Record which slabs reach the input and the output of a layer that mixes all
        positions (and the row's scale); return which slabs reach its output."""
        if leaf.index not in self.covered:
            self.covered[leaf.index] = np.zeros((2, self.widths[self.dim]), bool)
        covered = self.covered[leaf.index]
        op = layer_op(leaf.layer)
        output = np.zeros(self.stop - self.start, bool)
        for array in x.arrays.values():
            for side, values in enumerate((array, op.probe(leaf.layer, array, self.dim, ()))):
                reached = np.any(values.reshape(values.shape[0], math.prod(values.shape[1:]))
                                 > 0, axis=1)
                covered[side, self.start:self.stop] |= reached
                if side:
                    output |= reached
        self.read_scale(leaf.index, x.scale)
        self.tick()
        return output


def resolve_shared(supports: dict[int, Supports], shared: dict[int, int | None],
                   width: int) -> None:
    """Give each elementwise row the supports of the row it passes on (in index order, so
    a chain of them resolves), or of the network input."""
    positions = np.arange(width, dtype=np.int64)
    identity = Supports(positions, positions.copy(), np.ones(width, np.int64))
    for index in sorted(shared):
        source = shared[index]
        if source is None:
            supports[index] = identity
        elif source in supports:
            supports[index] = supports[source]


def probe_work(plan: Sequence[Node], widths: tuple[int, ...]) -> int:
    """Return the probe's work: over every dim d, W_d slabs times their line (W_d) and,
    per row that runs a kernel, its units in and out along d times its taps along d (a
    bound on the inner-loop trips)."""
    work = 0
    for dim, width in enumerate(widths):
        per_slab = width
        for step in checked_rows(plan):
            row = step.row
            kind = positions(step)
            if len(row.output_shape) < 2 or kind == Positions.mixed:
                break
            if kind == Positions.kept:
                continue
            taps = 1
            if isinstance(step, Leaf):
                taps = layer_op(step.layer).taps(step.layer, row.input_shape[1:], dim)
            per_slab += (row.input_shape[1 + dim] + row.output_shape[1 + dim]) * taps
        work += width * per_slab
    return work


def checked_units(plan: Sequence[Node], rank: int) -> int:
    """Return the output units whose supports verify compares with the calculator's, over
    every row with a field and every spatial dim (an elementwise row shares its input's)."""
    units = 0
    for step in checked_rows(plan):
        row = step.row
        kind = positions(step)
        if kind == Positions.mixed:
            break
        if len(row.output_shape) < 2 or kind == Positions.kept:
            continue
        units += sum(row.output_shape[1:1 + rank])
    return units
