"""How many bytes `verify`'s arrays need at once, estimated before anything is allocated.

Two passes run one after the other, so the need is the larger of the two:

* the value pass, on real arrays: the activations alive at once (a container keeps its
  input and its finished branches until the merge; a graph every value that a later
  node still reads), the running layer's parameters, and
  every array its kernel allocates besides its output (the ops allocate them all in
  numpy, so a test can hold this estimate against `tracemalloc`): a convolution's padded
  input, its channels-last copy and its weights' channels-last copy; a transposed
  convolution's uncropped result; the zero bias of a layer without one; resampling's tap
  tables and adaptive pooling's window bounds, per output index of every dim;
* the receptive-field probe (probe.py), one item per input position ("slab") along one
  dim, the other dims of length 1, run in chunks of slabs that fit the limit; its need is
  given per slab, times the paths it follows, plus what it keeps for the whole run (every
  row's supports and expected reach, per unit of every dim).

Float32 throughout. Pure arithmetic: each op (reference/ops/) gives its own scratch, slab
and table bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from convcalc.layers.containers import GRAPH_INPUT
from convcalc.reference.lookup import layer_op
from convcalc.reference.ops._op import Positions
from convcalc.reference.ops.pool import WINDOW_BOUND_BYTES
from convcalc.reference.ops.resample import TAP_TABLE_BYTES
from convcalc.reference.plan import Block, GraphBlock, Leaf, Merge, Node
from convcalc.results import Report

__all__ = [
    "CHECK_RECORD_BYTES",
    "ELEMENT_BYTES",
    "KERNEL_RANK",
    "ROW_RECORD_BYTES",
    "TAP_TABLE_BYTES",
    "WINDOW_BOUND_BYTES",
    "MemoryEstimate",
    "estimate_memory",
]

ELEMENT_BYTES = 4
"""Every array of values verify allocates is float32."""
KERNEL_RANK = 3
"""Spatial dims the kernels work in (kernels.KERNEL_RANK): tables exist for each."""
UNIT_RECORD_BYTES = 3 * 8 + 2 * 8
"""What the probe keeps per unit of every row and dim for the whole run: its supports
(first, last, count) and the calculator's reach (first, last), int64 each."""
ROW_RECORD_BYTES = 8 * 1024
"""What the passes keep and make in Python per checked row besides its arrays: what was
measured, the arrays' headers, the options and small tables handed to the kernels."""
CHECK_RECORD_BYTES = 8 * 1024
"""What checking one row along one dim makes in Python besides its per-unit arrays: the
fit, the measurement and the check records."""
UNIT_CHECK_BYTES = 256
"""What comparing one row's units takes at once, per unit (the fit's and the field's
arrays, and the field's edges as Python pairs)."""


class MemoryEstimate(BaseModel):
    """The bytes verify's arrays need at once.

    Attributes:
        value_bytes: the value pass's peak: activations, one layer's parameters, scratch.
        parameter_bytes: the largest layer's parameters (part of ``value_bytes``).
        slab_bytes: the probe's peak for one slab (one input position along one dim),
            the largest over the dims, for all the paths it follows.
        slabs: the most slabs one probe pass has: the input's longest spatial side.
        probe_fixed_bytes: what the probe keeps whatever its chunks: the supports and
            reach of every row, the checks' arrays, tap tables.
    """

    model_config = ConfigDict(frozen=True)

    value_bytes: int
    parameter_bytes: int
    slab_bytes: int
    slabs: int
    probe_fixed_bytes: int = 0

    def slabs_per_chunk(self, limit: int) -> int:
        """Return how many slabs one probe chunk takes so the probe stays within ``limit``."""
        if self.slab_bytes == 0:
            return max(self.slabs, 1)
        room = limit - self.probe_fixed_bytes
        return max(1, min(self.slabs, room // self.slab_bytes))

    def probe_bytes(self, limit: int) -> int:
        """Return the probe's estimated peak with chunks sized for ``limit``."""
        return self.slabs_per_chunk(limit) * self.slab_bytes + self.probe_fixed_bytes

    def peak(self, limit: int) -> int:
        """Return the estimated peak of the whole run with probe chunks sized for ``limit``."""
        return max(self.value_bytes, self.probe_bytes(limit))


# (bytes of a new output array, or None when the output is the input or a view of it;
#  scratch bytes; parameter bytes)
Cost = tuple[int | None, int, int]

def _tables(leaf: Leaf) -> int:
    """Return the bytes of a layer's index tables (resampling, adaptive pooling)."""
    return layer_op(leaf.layer).tables(leaf.layer, leaf.row)


def _value_cost(batch: int) -> Callable[[Leaf | Merge], Cost]:
    def cost(step: Leaf | Merge) -> Cost:
        row = step.row
        out = batch * math.prod(row.output_shape) * ELEMENT_BYTES
        if isinstance(step, Merge):
            return out, 0, 0
        op = layer_op(step.layer)
        if not op.new_output:
            return None, 0, 0
        parameters = (row.params + row.non_trainable_params) * ELEMENT_BYTES
        return out, op.value_scratch(step.layer, row, batch), parameters

    return cost


def _probe_cost(dim: int) -> Callable[[Leaf | Merge], Cost]:
    """Return one slab's cost along ``dim``: one item, length 1 in the other dims."""

    def cost(step: Leaf | Merge) -> Cost:
        row = step.row
        spatial = len(row.input_shape) > 1
        kind = layer_op(step.layer).positions if isinstance(step, Leaf) else Positions.moved
        if kind == Positions.mixed:
            # which slabs reach it: a bool per position; the probe stops there
            return 0, row.input_shape[1 + dim] if spatial else 0, 0
        if not spatial or len(row.output_shape) < 2:
            return 0, 0, 0  # past the first layer that mixes all positions
        out = row.output_shape[1 + dim] * ELEMENT_BYTES
        if isinstance(step, Merge):
            return out, 0, 0
        if kind == Positions.kept:
            return None, 0, 0
        return out, layer_op(step.layer).probe_scratch(step.layer, row, dim), 0

    return cost


class _Peak:
    """The largest number of bytes alive at once over one pass, walked like the executor."""

    def __init__(self, cost: Callable[[Leaf | Merge], Cost]) -> None:
        self.cost = cost
        self.peak = 0

    def nodes(self, nodes: Sequence[Node], current: int, held: int, pinned: int) -> int:
        """Return the output's bytes; ``held`` is alive around, ``pinned`` is the input kept
        by the enclosing block (counted once it is no longer the current array)."""
        extra = 0
        for node in nodes:
            if isinstance(node, Block):
                out = self.block(node, current, held + extra)
            elif isinstance(node, GraphBlock):
                out = self.graph(node, current, held + extra)
            else:
                new, scratch, parameters = self.cost(node)
                self.peak = max(
                    self.peak, held + extra + current + (new or 0) + scratch + parameters
                )
                out = current if new is None else new
            current, extra = out, pinned
        return current

    def graph(self, block: GraphBlock, current: int, held: int) -> int:
        """Return the output's bytes of a graph's turn, as `PlanFold.graph` runs it: every
        value alive until the last step that reads it (the input's bytes stay counted:
        the caller holds them)."""
        alive = {GRAPH_INPUT: current}
        for index, step in enumerate(block.steps):
            inputs = [alive[name] for name in dict.fromkeys(step.reads)]
            others = sum(alive.values()) - sum(inputs)
            if step.merge is not None:
                new, scratch, _ = self.cost(step.merge)
                self.peak = max(self.peak, held + others + sum(inputs) + (new or 0) + scratch)
                out = new if new is not None else inputs[0]
            else:
                source = step.reads[0]
                kept = alive[source] if block.last_read[source] > index else 0
                out = self.nodes(step.nodes, alive[source], held + others, kept)
            for name in dict.fromkeys(step.reads):
                if block.last_read[name] == index and name != GRAPH_INPUT:
                    del alive[name]
            alive[step.name] = out
        return alive[block.output]

    def block(self, block: Block, current: int, held: int) -> int:
        outputs = 0
        for body in block.bodies:
            if body:
                # the block's input stays alive: the main path (or the merge) reads it again
                outputs += self.nodes(body, current, held + outputs, current)
        if block.aux:  # the head's output leaves; the main path goes on with the input
            return current
        if block.merge is None:
            merged = outputs or current
        else:
            new, scratch, _ = self.cost(block.merge)
            self.peak = max(self.peak, held + current + outputs + (new or 0) + scratch)
            merged = new or current
        return self.nodes(block.after, merged, held, 0) if block.after else merged


def estimate_memory(plan: Sequence[Node], report: Report, probe_terms: int = 1
                    ) -> MemoryEstimate:
    """Return the bytes verify's passes over ``plan`` need at once (``report`` gives shapes).

    ``probe_terms`` is the most paths the probe follows at once (probe.py): each holds
    its own arrays.
    """
    batch = report.batch
    # the caller keeps the network input alive for the whole pass
    inputs = batch * math.prod(report.input_shape) * ELEMENT_BYTES
    value = _Peak(_value_cost(batch))
    value.nodes(plan, inputs, 0, inputs)
    records = ROW_RECORD_BYTES * len(_steps(plan))
    leaves = _leaves(plan)
    parameters = max(
        ((leaf.row.params + leaf.row.non_trainable_params) * ELEMENT_BYTES for leaf in leaves),
        default=0,
    )
    spatial = report.input_shape[1:]
    if not spatial:
        return MemoryEstimate(
            value_bytes=value.peak + records, parameter_bytes=parameters, slab_bytes=0,
            slabs=0
        )
    slab = 0
    for dim, width in enumerate(spatial):
        probe = _Peak(_probe_cost(dim))
        probe.nodes(plan, width * ELEMENT_BYTES, 0, width * ELEMENT_BYTES)
        slab = max(slab, probe.peak * probe_terms)
    return MemoryEstimate(
        value_bytes=value.peak + records,
        parameter_bytes=parameters,
        slab_bytes=slab,
        slabs=max(spatial),
        probe_fixed_bytes=_probe_fixed(plan, spatial) + records,
    )


def _probe_fixed(plan: Sequence[Node], spatial: Sequence[int]) -> int:
    """Return what the probe keeps whatever its chunks (see UNIT_RECORD_BYTES)."""
    # an elementwise row shares its input's supports and reach
    units = [max(step.row.output_shape[1:]) for step in _steps(plan)
             if len(step.row.output_shape) > 1
             and not (isinstance(step, Leaf)
                      and layer_op(step.layer).positions == Positions.kept)]
    kept = UNIT_RECORD_BYTES * len(spatial) * sum(units)
    checking = UNIT_CHECK_BYTES * max(max(units, default=0), max(spatial))
    tables = max((_tables(leaf) for leaf in _leaves(plan)), default=0)
    # per dim: the slabs' covered flags and the other dims' sets
    flags = 2 * max(spatial) + ELEMENT_BYTES * sum(spatial)
    records = CHECK_RECORD_BYTES * len(spatial) * len(units)
    return kept + checking + tables + flags + records


def _steps(plan: Sequence[Node]) -> list[Leaf | Merge]:
    found: list[Leaf | Merge] = []
    for node in plan:
        if isinstance(node, Leaf):
            found.append(node)
        elif isinstance(node, GraphBlock):
            for step in node.steps:
                found.extend([step.merge] if step.merge is not None else _steps(step.nodes))
        else:
            for body in node.bodies:
                found.extend(_steps(body))
            if node.merge is not None:
                found.append(node.merge)
            found.extend(_steps(node.after))
    return found


def _leaves(plan: Sequence[Node]) -> list[Leaf]:
    found: list[Leaf] = []
    for node in plan:
        if isinstance(node, Leaf):
            found.append(node)
        elif isinstance(node, GraphBlock):
            for step in node.steps:
                found.extend(_leaves(step.nodes))
        else:
            for body in node.bodies:
                found.extend(_leaves(body))
            found.extend(_leaves(node.after))
    return found
