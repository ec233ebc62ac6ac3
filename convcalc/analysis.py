"""Walk a network: apply each layer to its input shape, fold the rows, total them.

The only place that knows how containers nest. Each layer's own rules come from its
class (``LayerSpec.apply``); this module threads shapes and receptive fields through
the layers, names the layers, adds merge and subtotal rows, and checks the layer limit.
The same walk builds the plan tree (``convcalc.plan``) the report carries, so that the
export and verify follow the rows without walking the network again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from convcalc.common import as_number
from convcalc.errors import LayerError, format_location
from convcalc.layers import Container, Cost, LayerSpec, Shape, Step
from convcalc.layers.base import numel
from convcalc.layers.containers import merge_shapes
from convcalc.layers.merges import MergeName
from convcalc.plan import Group, Leaf, Merge, Plan, PlanNode, Turn
from convcalc.receptive_field import (
    MAX_FIELD_LOOKUPS,
    AxisField,
    LookupBudget,
    PeriodTooLong,
    StrideMismatch,
    merge_cost,
    merge_fields,
)
from convcalc.results import DType, LayerRow, LayerWarning, ReceptiveField, Report, Totals
from convcalc.spec import Network
from convcalc.textsafe import echo

__all__ = [
    "MAX_FULL_NAME",
    "MAX_LAYERS",
    "ShapeRow",
    "analyze",
    "check_rows",
    "count_rows",
    "walk_shapes",
]

MAX_LAYERS = 100_000
"""The most rows (layers, merges and subtotals, repeats expanded) a network may have.

100,000 rows take about 2.5 s and 300 MB as JSON, 6 s and 400 MB as a table; the time and
memory are linear in the rows, so the limit is what keeps a 60-byte ``repeat:`` file to
seconds and megabytes (docs/performance.md)."""

_TOO_COSTLY = (f"the receptive field takes more than {MAX_FIELD_LOOKUPS:,} look-ups to track "
               "(a long period with many layers or wide kernels); it is not reported from "
               "here on")

MAX_FULL_NAME = 1_000
"""The longest full name a row may have (its containers' names and its own, joined by dots):
each row keeps its full name, so deep nesting of long names would otherwise cost up to
200 levels × 201 characters a row, 4 GB over 100,000 rows."""

Location = tuple[str | int, ...]
Fields = tuple[AxisField, ...] | Literal["global", "untracked"]
"""The receptive field per spatial dim, or why there is none."""


def count_rows(layers: Sequence[LayerSpec]) -> int:
    """Return how many report rows ``layers`` expand to, repeats included.

    Each container is counted once however often it is shared (YAML aliases), so the
    count costs time in the file's size, not in the network's.
    """
    return _count_rows(layers, {})


def _count_rows(layers: Sequence[LayerSpec], seen: dict[int, int]) -> int:
    """Return the rows of ``layers``; ``seen`` maps an id of a container to its rows."""
    total = 0
    for layer in layers:
        if isinstance(layer, Container):
            rows = seen.get(id(layer))
            if rows is None:
                inner = sum(_count_rows(body, seen) for _, body in layer.bodies())
                inner += 1 if layer.merge_kind else 0
                rows = seen[id(layer)] = (inner + 1) * layer.repeat + (layer.repeat > 1)
            total += rows
        else:
            total += 1
    return total


def check_rows(network: Network) -> int:
    """Return how many rows ``network`` expands to; raise LayerError past MAX_LAYERS."""
    rows = count_rows(network.layers)
    if rows > MAX_LAYERS:
        raise LayerError(
            f"the network expands to {rows:,} rows (layers, merges and container subtotals, "
            f"repeats included), past the limit of {MAX_LAYERS:,}; lower a 'repeat'",
            location=("layers",),
        )
    return rows


def _receptive_field(fields: Fields) -> ReceptiveField | None:
    if isinstance(fields, str):
        return None
    return ReceptiveField.model_construct(
        size=tuple(f.size for f in fields),
        stride=tuple(as_number(f.stride) for f in fields),
        padding=tuple(f.padding for f in fields),
    )


def _names(layers: Sequence[tuple[LayerSpec, Location]]) -> list[str]:
    """Return each layer's own name; unnamed ones get ``<type><n>``, unique among siblings.

    ``layers`` pairs each layer with its location, for the duplicate-name message.
    """
    taken: dict[str, Location] = {}
    for layer, location in layers:
        if layer.name is None:
            continue
        if layer.name in taken:
            raise LayerError(
                f"the name {echo(layer.name)} is already used by the layer at "
                f"{format_location(taken[layer.name])}; names must be unique among siblings",
                location=location,
                field_name="name",
            )
        taken[layer.name] = location
    counters: dict[str, int] = {}
    names = []
    for layer, _ in layers:
        if layer.name is not None:
            names.append(layer.name)
            continue
        while True:
            counters[layer.type] = counters.get(layer.type, 0) + 1
            candidate = f"{layer.type}{counters[layer.type]}"
            if candidate not in taken:
                break
        taken[candidate] = ()
        names.append(candidate)
    return names


def _full_name(prefix: str, name: str, location: Location) -> str:
    """Return ``prefix + name``, or raise LayerError past MAX_FULL_NAME characters."""
    if len(prefix) + len(name) > MAX_FULL_NAME:
        full = prefix + name
        raise LayerError(
            f"the layer's full name (its containers' names and its own, joined by dots) is "
            f"{len(full):,} characters long, past the limit of {MAX_FULL_NAME:,}; shorten "
            "the names or nest less",
            location=location, layer=full,
        )
    return prefix + name


def _located(layers: Sequence[LayerSpec], location: Location) -> list[tuple[LayerSpec, Location]]:
    """Return each layer of a list with its own location."""
    return [(layer, (*location, index)) for index, layer in enumerate(layers)]


class _Walk:
    """One walk over a network, collecting rows and warnings."""

    def __init__(self, batch: int, dtype: DType, strict: bool) -> None:
        self.batch = batch
        self.element_bytes = dtype.bytes
        self.strict = strict
        self.rows: list[LayerRow] = []
        # How many leaf and merge rows so far: the next one's index among the checked rows.
        self.checked = 0
        # Running sums of the non-container rows' counts, one entry per row and one before
        # the first: a subtotal is a difference of two, so nesting costs nothing per level.
        self.sums: list[tuple[int, int, int, int, int, int]] = [(0, 0, 0, 0, 0, 0)]
        self.warnings: list[LayerWarning] = []
        # Networks repeat themselves (repeat:, aliases, stages of equal blocks): a layer
        # equal to one seen before on an equal input gives the same step.
        self.steps: dict[tuple[LayerSpec, Shape], Step] = {}
        self.last_field: tuple[Fields, ReceptiveField | None] = ("global", None)
        self.afford = LookupBudget().afford  # field look-ups, against MAX_FIELD_LOOKUPS

    def apply(self, layer: LayerSpec, shape: Shape) -> Step:
        """Return ``layer.apply(shape)``, computed once per equal layer and shape."""
        key = (layer, shape)
        step = self.steps.get(key)
        if step is None:
            step = self.steps[key] = layer.apply(shape)
        return step

    def receptive_field(self, fields: Fields) -> ReceptiveField | None:
        """Return the report's receptive field for ``fields``, reusing an unchanged one."""
        if self.last_field[0] is not fields:
            self.last_field = (fields, _receptive_field(fields))
        return self.last_field[1]

    def sequence(
        self, layers: Sequence[LayerSpec], names: list[str], shape: Shape, fields: Fields,
        prefix: str, depth: int, location: Location,
    ) -> tuple[Shape, Fields, tuple[PlanNode, ...]]:
        """Walk ``layers`` in order; return the output shape, fields and the plan's nodes."""
        nodes: list[PlanNode] = []
        node: PlanNode | None
        for index, (layer, name) in enumerate(zip(layers, names, strict=True)):
            here = (*location, index)
            full = _full_name(prefix, name, here)
            if isinstance(layer, Container):
                shape, fields, node = self.container(layer, shape, fields, full, depth, here)
            else:
                shape, fields, node = self.leaf(layer, shape, fields, full, depth, here)
            if node is not None:
                nodes.append(node)
        return shape, fields, tuple(nodes)

    def leaf(
        self, layer: LayerSpec, shape: Shape, fields: Fields, name: str, depth: int,
        location: Location,
    ) -> tuple[Shape, Fields, Leaf | None]:
        try:
            step = self.apply(layer, shape)
        except LayerError as error:
            error.location, error.layer = location, name
            raise
        for message in step.warnings:
            self.warn(name, location, message)
        before = fields
        if not isinstance(fields, str) and step.index_maps is None:
            fields = "global"
        elif not isinstance(fields, str) and step.index_maps:
            pairs = list(zip(fields, step.index_maps, strict=True))
            try:
                lookups = sum(f.cost(m) for f, m in pairs)
            except PeriodTooLong:
                fields = "untracked"
                self.warn(name, location, "the receptive field's period grew too long to "
                          "track (many upsamplings); it is not reported from here on")
            else:
                if self.afford(lookups):
                    fields = tuple(f.through(m) for f, m in pairs)
                else:
                    fields = "untracked"
                    self.warn(name, location, _TOO_COSTLY)
        leaf = self.leaf_row(layer, name, depth, shape, step, before, fields, location)
        return step.output_shape, fields, leaf

    def container(
        self, layer: Container, shape: Shape, fields: Fields, name: str, depth: int,
        location: Location,
    ) -> tuple[Shape, Fields, Group | None]:
        start, first_shape = len(self.rows), shape
        turns: list[Turn] = []
        if layer.repeat == 1:
            shape, fields, bodies, merge = self.bodies(layer, shape, fields, name, depth + 1,
                                                       location)
            turns.append(Turn(bodies, merge, None))
        else:
            for turn in range(layer.repeat):
                turn_start, turn_shape = len(self.rows), shape
                turn_name = f"{name}.{turn}"
                shape, fields, bodies, merge = self.bodies(layer, shape, fields, turn_name,
                                                           depth + 2, location)
                turn_row = self.subtotal(turn_name, layer, depth + 1, turn_shape, shape,
                                         fields, turn_start, location)
                turns.append(Turn(bodies, merge, turn_row))
        row = self.subtotal(name, layer, depth, first_shape, shape, fields, start, location)
        return shape, fields, None if row is None else Group(layer, row, tuple(turns))

    def bodies(
        self, layer: Container, shape: Shape, fields: Fields, name: str, depth: int,
        location: Location,
    ) -> tuple[Shape, Fields, tuple[tuple[PlanNode, ...], ...], Merge | None]:
        """Walk one turn of ``layer``: return its output shape and fields, each body's
        nodes and the merge (None: one body, or a walk that keeps no rows)."""
        bodies = layer.bodies()
        # Names are unique across all bodies: they share the container's prefix.
        located = [pair for path, body in bodies for pair in _located(body, (*location, *path))]
        names = iter(_names(located))
        outputs = [
            self.sequence(body, [next(names) for _ in body], shape, fields, name + ".", depth,
                          (*location, *path))
            for path, body in bodies
        ]
        nodes = tuple(body_nodes for _, _, body_nodes in outputs)
        kind = layer.merge_kind
        if kind is None:
            return outputs[0][0], outputs[0][1], nodes, None
        try:
            merged, cost = merge_shapes(kind, [out for out, _, _ in outputs])
        except LayerError as error:
            error.location, error.layer = location, name
            raise
        merged_fields = self.merge(name, location, [f for _, f, _ in outputs])
        siblings = set(_names(located))
        merge_name: str = kind
        while merge_name in siblings:  # a child already has the merge's name
            merge_name += "_"
        merge = self.merge_row(kind, f"{name}.{merge_name}", depth, shape, merged, cost,
                               merged_fields, location, tuple(out for out, _, _ in outputs))
        return merged, merged_fields, nodes, merge

    def merge(self, name: str, location: Location, branches: list[Fields]) -> Fields:
        if any(f == "untracked" for f in branches):
            return "untracked"
        if any(f == "global" for f in branches):
            return "global"
        axes: list[list[AxisField]] = [list(axis) for axis in zip(*branches, strict=True)]
        try:
            if not self.afford(sum(merge_cost(axis) for axis in axes)):
                self.warn(name, location, _TOO_COSTLY)
                return "untracked"
            return tuple(merge_fields(axis) for axis in axes)
        except StrideMismatch as mismatch:
            strides = ", ".join(str(s) for s in mismatch.args[0])
            raise LayerError(
                f"the branches reach the merge with different effective strides ({strides}), "
                "so their units do not line up; make every branch downsample alike",
                location=location, layer=name,
            ) from None
        except PeriodTooLong:
            self.warn(name, location, "the receptive field's period grew too long to track")
            return "untracked"

    def subtotal(
        self, name: str, layer: Container, depth: int, shape: Shape, out: Shape,
        fields: Fields, start: int, location: Location,
    ) -> LayerRow | None:
        """Add a container's subtotal row of the rows from ``start`` on; return it."""
        end = self.sums[-1]
        begin = self.sums[start]
        params, non_trainable, macs, flops, activation, biases = (
            e - b for e, b in zip(end, begin, strict=True))
        self.rows.append(LayerRow.model_construct(
            name=name, type=layer.type, depth=depth, container=True, input_shape=shape,
            output_shape=out, params=params, non_trainable_params=non_trainable, macs=macs,
            flops=flops, activation_bytes=activation,
            receptive_field=self.receptive_field(fields), bias_params=biases,
            location=location, spec=layer,
        ))
        self.sums.append(end)
        return self.rows[-1]

    def leaf_row(
        self, layer: LayerSpec, name: str, depth: int, shape: Shape, step: Step,
        fields_in: Fields, fields: Fields, location: Location,
    ) -> Leaf | None:
        """Add a layer's row; return its leaf of the plan (None: a walk that keeps no rows)."""
        row = self.add_row(name, layer.type, depth, shape, step.output_shape, step.cost,
                           fields, location, layer, fields_in=fields_in)
        return Leaf(layer, row, self.checked - 1)

    def merge_row(
        self, kind: MergeName, name: str, depth: int, shape: Shape, out: Shape, cost: Cost,
        fields: Fields, location: Location, branch_shapes: tuple[Shape, ...],
    ) -> Merge | None:
        """Add a merge's row; return its merge of the plan (None: a walk that keeps no rows)."""
        row = self.add_row(name, kind, depth, shape, out, cost, fields, location, None,
                           branch_shapes=branch_shapes)
        return Merge(kind, row, self.checked - 1)

    def add_row(
        self, name: str, layer_type: str, depth: int, shape: Shape, out: Shape, cost: Cost,
        fields: Fields, location: Location, spec: LayerSpec | None,
        fields_in: Fields | None = None, branch_shapes: tuple[Shape, ...] = (),
    ) -> LayerRow:
        """Add the row of a layer or a merge (``spec`` None) and count it; return it."""
        self.rows.append(LayerRow.model_construct(
            name=name, type=layer_type, depth=depth, container=False, input_shape=shape,
            output_shape=out, params=cost.params,
            non_trainable_params=cost.non_trainable_params,
            macs=cost.macs * self.batch, flops=cost.flops * self.batch,
            activation_bytes=numel(out) * self.batch * self.element_bytes,
            receptive_field=self.receptive_field(fields), bias_params=cost.bias_params,
            location=location, spec=spec, fields_in=fields_in, fields_out=fields,
            branch_shapes=branch_shapes,
        ))
        row = self.rows[-1]
        last = self.sums[-1]
        self.sums.append((last[0] + row.params, last[1] + row.non_trainable_params,
                          last[2] + row.macs, last[3] + row.flops,
                          last[4] + row.activation_bytes, last[5] + row.bias_params))
        self.checked += 1
        return row

    def warn(self, name: str, location: Location, message: str) -> None:
        if self.strict:
            raise LayerError(f"{message} (strict: warnings are errors)",
                             location=location, layer=name)
        self.warnings.append(LayerWarning(layer=name, message=message))


def analyze(
    network: Network,
    batch: int = 1,
    dtype: DType = DType.float32,
    strict: bool = False,
) -> Report:
    """Return the report of ``network``: every layer's shapes, counts and receptive field.

    MACs, FLOPs and activation bytes are for ``batch`` samples; parameters are not.
    With ``strict``, the first warning is raised as a LayerError instead.
    The report carries the walk's plan tree as ``report.plan`` (not in the JSON).
    Raises LayerError when the layers do not fit together or exceed MAX_LAYERS rows.
    """
    if batch < 1:
        raise LayerError(f"batch must be at least 1, got {batch}", field_name="batch")
    check_rows(network)
    walk = _Walk(batch, dtype, strict)
    rank = len(network.input) - 1
    fields: Fields = tuple(AxisField.identity() for _ in range(rank)) if rank else "global"
    out, _, nodes = walk.sequence(network.layers,
                                  _names(_located(network.layers, ("layers",))),
                                  tuple(network.input), fields, "", 0, ("layers",))
    rows = tuple(walk.rows)
    leaves = [row for row in rows if not row.container]
    params = sum(r.params for r in leaves)
    non_trainable = sum(r.non_trainable_params for r in leaves)
    totals = Totals.model_construct(
        params=params,
        non_trainable_params=non_trainable,
        macs=sum(r.macs for r in leaves),
        flops=sum(r.flops for r in leaves),
        activation_bytes=sum(r.activation_bytes for r in leaves),
        param_bytes=(params + non_trainable) * dtype.bytes,
    )
    report = Report.model_construct(
        name=network.name, input_shape=tuple(network.input), output_shape=out, batch=batch,
        dtype=dtype, layers=rows, totals=totals, warnings=tuple(walk.warnings),
    )
    report._plan = Plan(network, nodes)  # the one writer of the report's plan
    return report


class ShapeRow(NamedTuple):
    """One layer of a shape-only walk.

    Attributes:
        name: the layer's full name, as the report names it.
        spec: the layer as written.
        input_shape: its input shape, batch not included.
    """

    name: str
    spec: LayerSpec
    input_shape: Shape


class _ShapeWalk(_Walk):
    """A walk that keeps only each layer's name, spec and input shape, and the warnings:
    no rows, counts, totals, receptive field or plan tree."""

    def __init__(self) -> None:
        super().__init__(1, DType.float32, strict=False)
        self.leaves: list[ShapeRow] = []

    def leaf_row(
        self, layer: LayerSpec, name: str, depth: int, shape: Shape, step: Step,
        fields_in: Fields, fields: Fields, location: Location,
    ) -> Leaf | None:
        self.leaves.append(ShapeRow(name, layer, shape))
        return None

    def merge_row(
        self, kind: MergeName, name: str, depth: int, shape: Shape, out: Shape, cost: Cost,
        fields: Fields, location: Location, branch_shapes: tuple[Shape, ...],
    ) -> Merge | None:
        return None

    def subtotal(
        self, name: str, layer: Container, depth: int, shape: Shape, out: Shape,
        fields: Fields, start: int, location: Location,
    ) -> LayerRow | None:
        return None


def walk_shapes(network: Network) -> tuple[tuple[ShapeRow, ...], tuple[LayerWarning, ...]]:
    """Return each layer's name, spec and input shape, and the layers' warnings.

    What ``analyze`` checks, without what it counts: the same layer rules, errors and
    layer warnings, but no rows, totals or receptive field (so none of the field's
    warnings). Many times faster than ``analyze`` (no result model per row); for ``solve
    inputs``, which walks a network once per input size. Raises LayerError as ``analyze``
    does, the row limit included.
    """
    check_rows(network)
    walk = _ShapeWalk()
    walk.sequence(network.layers, _names(_located(network.layers, ("layers",))),
                  tuple(network.input), "global", "", 0, ("layers",))
    return tuple(walk.leaves), tuple(walk.warnings)
