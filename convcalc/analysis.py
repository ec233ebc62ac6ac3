"""Walk a network: apply each layer to its input shape, fold the rows, total them.

The only place that knows how containers nest. Each layer's own rules come from its
class (``LayerSpec.apply``); this module threads shapes, receptive fields and global
context through the layers, names the layers, adds merge and subtotal rows, marks the
rows of auxiliary heads, and checks the layer limit.

Global context: a ``mul`` merge that broadcasts a branch along a spatial dim (a pooled
``C×1×1`` scale) makes its output depend on every input position along that dim through
the scale, beyond its local field. Its row and every later row whose input depends on its
output (through any path: layers, merges, ``after`` layers, an aux head on it) carry
``global_context``; a container's row carries its output's.
The same walk builds the plan tree (``convcalc.plan``) the report carries, so that the
export and verify follow the rows without walking the network again.

A ``graph`` is walked in its nodes' order with an environment: each name (``input``, then
every node's) bound to its value's shape, receptive field and global context. A layer
node reads the one value it names, a merge node joins the values it names by the same
rules (and the same code, ``_Walk.join``) as a container's bodies: ``add``/``concat``
take the union of the fields, ``mul`` the union of the branches not broadcast, and global
context. Rows come in the nodes' order, then the graph's subtotal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from convcalc.common import as_number
from convcalc.errors import LayerError, format_location
from convcalc.layers import Container, Cost, LayerSpec, Shape, Step
from convcalc.layers.base import numel
from convcalc.layers.containers import GRAPH_INPUT, Graph, GraphMerge, merge_shapes
from convcalc.layers.merges import MergeName, merge_definition
from convcalc.plan import GraphStep, GraphTurn, Group, Leaf, Merge, Plan, PlanNode, Turn
from convcalc.receptive_field import (
    MAX_FIELD_LOOKUPS,
    AxisField,
    LookupBudget,
    PeriodTooLong,
    StrideMismatch,
    merge_cost,
    merge_fields,
)
from convcalc.results import (
    AuxTotals,
    DType,
    LayerRow,
    LayerWarning,
    ReceptiveField,
    Report,
    Totals,
)
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
    count costs time in the file's size, not in the network's; a graph's merge nodes are
    a row each and its layer nodes as any layer.
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
                if isinstance(layer, Graph):
                    inner += sum(isinstance(node.node, GraphMerge) for node in layer.nodes)
                inner += _count_rows(layer.after_layers(), seen)
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
        # (params, non-trainable, macs, flops, activation bytes, biases) over every row, then
        # (macs, flops, activation bytes) over the rows not in an aux head, then the count of
        # unknown rows.
        self.sums: list[tuple[int, ...]] = [(0,) * 10]
        # Inside an aux head: its rows are marked, and another aux is refused.
        self.in_aux = False
        self.has_aux = False
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
        context: bool, prefix: str, depth: int, location: Location,
    ) -> tuple[Shape, Fields, bool, tuple[PlanNode, ...]]:
        """Walk ``layers`` in order; return the output shape, fields, global context and
        the plan's nodes."""
        nodes: list[PlanNode] = []
        node: PlanNode | None
        for index, (layer, name) in enumerate(zip(layers, names, strict=True)):
            here = (*location, index)
            full = _full_name(prefix, name, here)
            if isinstance(layer, Container):
                shape, fields, context, node = self.container(layer, shape, fields, context,
                                                              full, depth, here)
            else:
                shape, fields, node = self.leaf(layer, shape, fields, context, full, depth,
                                                here)
            if node is not None:
                nodes.append(node)
        return shape, fields, context, tuple(nodes)

    def leaf(
        self, layer: LayerSpec, shape: Shape, fields: Fields, context: bool, name: str,
        depth: int, location: Location,
    ) -> tuple[Shape, Fields, Leaf | None]:
        try:
            step = self.apply(layer, shape)
        except LayerError as error:
            error.location, error.layer = location, name
            raise
        for message in step.warnings:
            self.warn(name, location, message)
        before = fields
        if not isinstance(fields, str) and not step.known:
            fields = "untracked"  # its windows are not known
        elif not isinstance(fields, str) and step.index_maps is None:
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
        leaf = self.leaf_row(layer, name, depth, shape, step, before, fields, context,
                             location)
        return step.output_shape, fields, leaf

    def container(
        self, layer: Container, shape: Shape, fields: Fields, context: bool, name: str,
        depth: int, location: Location,
    ) -> tuple[Shape, Fields, bool, Group | None]:
        if layer.aux:
            return self.aux(layer, shape, fields, context, name, depth, location)
        if isinstance(layer, Graph):
            return self.graph_turns(layer, shape, fields, context, name, depth, location)
        start, first_shape = len(self.rows), shape
        turns: list[Turn | GraphTurn] = []
        if layer.repeat == 1:
            shape, fields, context, turn_nodes = self.bodies(layer, shape, fields, context,
                                                             name, depth + 1, location)
            turns.append(Turn(*turn_nodes[:2], None, turn_nodes[2]))
        else:
            for turn in range(layer.repeat):
                turn_start, turn_shape = len(self.rows), shape
                turn_name = f"{name}.{turn}"
                shape, fields, context, turn_nodes = self.bodies(
                    layer, shape, fields, context, turn_name, depth + 2, location)
                turn_row = self.subtotal(turn_name, layer, depth + 1, turn_shape, shape,
                                         fields, context, turn_start, location)
                turns.append(Turn(*turn_nodes[:2], turn_row, turn_nodes[2]))
        row = self.subtotal(name, layer, depth, first_shape, shape, fields, context, start,
                            location)
        return shape, fields, context, None if row is None else Group(layer, row, tuple(turns))

    def graph_turns(
        self, layer: Graph, shape: Shape, fields: Fields, context: bool, name: str,
        depth: int, location: Location,
    ) -> tuple[Shape, Fields, bool, Group | None]:
        """Walk a graph's turns (one per ``repeat``) and add its subtotal rows."""
        start, first_shape = len(self.rows), shape
        turns: list[Turn | GraphTurn] = []
        for turn in range(layer.repeat):
            turn_start, turn_shape = len(self.rows), shape
            turn_name = name if layer.repeat == 1 else f"{name}.{turn}"
            inner = depth + 1 if layer.repeat == 1 else depth + 2
            shape, fields, context, steps = self.graph(layer, shape, fields, context,
                                                       turn_name, inner, location)
            turn_row = None
            if layer.repeat > 1:
                turn_row = self.subtotal(turn_name, layer, depth + 1, turn_shape, shape,
                                         fields, context, turn_start, location)
            turns.append(GraphTurn(steps, layer.output_name, turn_row))
        row = self.subtotal(name, layer, depth, first_shape, shape, fields, context, start,
                            location)
        return shape, fields, context, None if row is None else Group(layer, row, tuple(turns))

    def graph(
        self, layer: Graph, shape: Shape, fields: Fields, context: bool, name: str,
        depth: int, location: Location,
    ) -> tuple[Shape, Fields, bool, tuple[GraphStep, ...]]:
        """Walk one turn of a graph: each node on the values it names; return the output's
        shape, fields and global context, and the turn's steps."""
        values: dict[str, tuple[Shape, Fields, bool]] = {GRAPH_INPUT: (shape, fields, context)}
        steps: list[GraphStep] = []
        previous = GRAPH_INPUT
        for index, graph_node in enumerate(layer.nodes):
            here = (*location, "nodes", index)
            own = graph_node.name
            full = _full_name(name + ".", own, here)
            reads = graph_node.sources(previous)
            node = graph_node.node
            step: PlanNode | Merge | None
            if isinstance(node, GraphMerge):
                inputs = [values[source] for source in reads]
                merged, merged_fields, merged_context, step = self.join(
                    node.type, full, depth, inputs[0][0], inputs, here, full)
                values[own] = (merged, merged_fields, merged_context)
            elif isinstance(node, Container):
                out_shape, out_fields, out_context, step = self.container(
                    node, *values[reads[0]], full, depth, here)
                values[own] = (out_shape, out_fields, out_context)
            else:
                in_shape, in_fields, in_context = values[reads[0]]
                out_shape, out_fields, step = self.leaf(node, in_shape, in_fields, in_context,
                                                        full, depth, here)
                values[own] = (out_shape, out_fields, in_context)
            if step is not None:
                steps.append(GraphStep(own, reads, step))
            previous = own
        return (*values[layer.output_name], tuple(steps))

    def join(
        self, kind: MergeName, name: str, depth: int, shape: Shape,
        outputs: Sequence[tuple[Shape, Fields, bool]], location: Location, blame: str,
    ) -> tuple[Shape, Fields, bool, Merge | None]:
        """Merge ``outputs`` (each a shape, fields and global context) by ``kind`` and add
        the merge's row called ``name``; ``shape`` is the row's input shape. An error
        names the layer ``blame`` (a container's merge: the container)."""
        shapes = [out for out, *_ in outputs]
        try:
            merged, cost = merge_shapes(kind, shapes)
        except LayerError as error:
            error.location, error.layer = location, blame
            raise
        definition = merge_definition(kind)
        merged_fields = self.merge(blame, location, [f for _, f, _ in outputs],
                                   definition.local_branches(shapes))
        merged_context = (any(c for _, _, c in outputs)
                          or definition.broadcasts_spatially(shapes))
        merge = self.merge_row(kind, name, depth, shape, merged, cost, merged_fields,
                               merged_context, location, tuple(shapes))
        return merged, merged_fields, merged_context, merge

    def aux(
        self, layer: Container, shape: Shape, fields: Fields, context: bool, name: str,
        depth: int, location: Location,
    ) -> tuple[Shape, Fields, bool, Group | None]:
        """Walk an aux head: its rows are marked; the main path goes on with its input."""
        if self.in_aux:
            raise LayerError("an aux head cannot stand inside another aux head; move it out "
                             "to the main path", location=location, layer=name)
        self.in_aux = self.has_aux = True
        try:
            start = len(self.rows)
            out, head_fields, head_context, turn_nodes = self.bodies(
                layer, shape, fields, context, name, depth + 1, location)
            row = self.subtotal(name, layer, depth, shape, out, head_fields, head_context,
                                start, location)
        finally:
            self.in_aux = False
        group = None if row is None else Group(layer, row, (Turn(*turn_nodes[:2], None),))
        return shape, fields, context, group

    def bodies(
        self, layer: Container, shape: Shape, fields: Fields, context: bool, name: str,
        depth: int, location: Location,
    ) -> tuple[Shape, Fields, bool, tuple[tuple[tuple[PlanNode, ...], ...], Merge | None,
                                           tuple[PlanNode, ...]]]:
        """Walk one turn of ``layer``: return its output shape, fields and global context,
        and its plan pieces: each body's nodes, the merge (None: one body, or a walk that
        keeps no rows) and the ``after`` nodes."""
        bodies = layer.bodies()
        after = layer.after_layers()
        # Names are unique across all bodies and the after layers: they share the
        # container's prefix.
        located = [pair for path, body in bodies for pair in _located(body, (*location, *path))]
        located += _located(after, (*location, "after"))
        names = iter(_names(located))
        outputs = [
            self.sequence(body, [next(names) for _ in body], shape, fields, context,
                          name + ".", depth, (*location, *path))
            for path, body in bodies
        ]
        nodes = tuple(body_nodes for *_, body_nodes in outputs)
        kind = layer.merge_kind
        merge = None
        if kind is None:
            merged, merged_fields, merged_context = outputs[0][:3]
        else:
            siblings = set(_names(located))
            merge_name: str = kind
            while merge_name in siblings:  # a child already has the merge's name
                merge_name += "_"
            merged, merged_fields, merged_context, merge = self.join(
                kind, f"{name}.{merge_name}", depth, shape,
                [(out, f, c) for out, f, c, _ in outputs], location, name)
        out, out_fields, out_context, after_nodes = self.sequence(
            after, [next(names) for _ in after], merged, merged_fields, merged_context,
            name + ".", depth, (*location, "after"))
        return out, out_fields, out_context, (nodes, merge, after_nodes)

    def merge(self, name: str, location: Location, branches: list[Fields],
              local: tuple[tuple[bool, ...], ...]) -> Fields:
        """Return the merge's fields: per spatial dim, the union of the branches that count
        there (``local[dim][branch]``; a branch broadcast by ``mul`` does not)."""
        counted = [f for i, f in enumerate(branches) if any(dim[i] for dim in local)]
        if any(f == "untracked" for f in counted):
            return "untracked"
        if any(f == "global" for f in counted) or not local:
            return "global"
        axes: list[list[AxisField]] = [
            [f[dim] for i, f in enumerate(branches) if local[dim][i] and not isinstance(f, str)]
            for dim in range(len(local))]
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
        fields: Fields, context: bool, start: int, location: Location,
    ) -> LayerRow | None:
        """Add a container's subtotal row of the rows from ``start`` on; return it.

        Parameters are summed over every row under it; MACs, FLOPs and activation bytes
        over the rows under it with its own ``aux`` (an aux head's: all of its rows; any
        other container's: those not in an aux head), as the totals are.
        """
        end = self.sums[-1]
        begin = self.sums[start]
        sums = [e - b for e, b in zip(end, begin, strict=True)]
        params, non_trainable, macs, flops, activation, biases = sums[:6]
        if not self.in_aux:
            macs, flops, activation = sums[6:9]
        self.rows.append(LayerRow.model_construct(
            name=name, type=layer.type, depth=depth, container=True, input_shape=shape,
            output_shape=out, params=params, non_trainable_params=non_trainable, macs=macs,
            flops=flops, activation_bytes=activation,
            receptive_field=self.receptive_field(fields), aux=self.in_aux,
            global_context=context, unknown=sums[9] > 0, bias_params=biases,
            location=location, spec=layer, fields_out=fields,
        ))
        self.sums.append(end)
        return self.rows[-1]

    def leaf_row(
        self, layer: LayerSpec, name: str, depth: int, shape: Shape, step: Step,
        fields_in: Fields, fields: Fields, context: bool, location: Location,
    ) -> Leaf | None:
        """Add a layer's row; return its leaf of the plan (None: a walk that keeps no rows)."""
        row = self.add_row(name, layer.type, depth, shape, step.output_shape, step.cost,
                           fields, context, location, layer, fields_in=fields_in,
                           known=step.known)
        return Leaf(layer, row, self.checked - 1)

    def merge_row(
        self, kind: MergeName, name: str, depth: int, shape: Shape, out: Shape, cost: Cost,
        fields: Fields, context: bool, location: Location, branch_shapes: tuple[Shape, ...],
    ) -> Merge | None:
        """Add a merge's row; return its merge of the plan (None: a walk that keeps no rows)."""
        row = self.add_row(name, kind, depth, shape, out, cost, fields, context, location,
                           None, branch_shapes=branch_shapes)
        return Merge(kind, row, self.checked - 1)

    def add_row(
        self, name: str, layer_type: str, depth: int, shape: Shape, out: Shape, cost: Cost,
        fields: Fields, context: bool, location: Location, spec: LayerSpec | None,
        fields_in: Fields | None = None, branch_shapes: tuple[Shape, ...] = (),
        known: bool = True,
    ) -> LayerRow:
        """Add the row of a layer or a merge (``spec`` None) and count it; return it."""
        self.rows.append(LayerRow.model_construct(
            name=name, type=layer_type, depth=depth, container=False, input_shape=shape,
            output_shape=out, params=cost.params,
            non_trainable_params=cost.non_trainable_params,
            macs=cost.macs * self.batch, flops=cost.flops * self.batch,
            activation_bytes=numel(out) * self.batch * self.element_bytes,
            receptive_field=self.receptive_field(fields), aux=self.in_aux,
            global_context=context, unknown=not known, bias_params=cost.bias_params,
            location=location, spec=spec, fields_in=fields_in, fields_out=fields,
            branch_shapes=branch_shapes,
        ))
        row = self.rows[-1]
        last = self.sums[-1]
        main = 0 if self.in_aux else 1
        self.sums.append((last[0] + row.params, last[1] + row.non_trainable_params,
                          last[2] + row.macs, last[3] + row.flops,
                          last[4] + row.activation_bytes, last[5] + row.bias_params,
                          last[6] + main * row.macs, last[7] + main * row.flops,
                          last[8] + main * row.activation_bytes, last[9] + (not known)))
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
    out, _, _, nodes = walk.sequence(network.layers,
                                     _names(_located(network.layers, ("layers",))),
                                     tuple(network.input), fields, False, "", 0, ("layers",))
    rows = tuple(walk.rows)
    leaves = [row for row in rows if not row.container]
    main = [row for row in leaves if not row.aux]
    heads = [row for row in leaves if row.aux]
    params = sum(r.params for r in leaves)
    non_trainable = sum(r.non_trainable_params for r in leaves)
    aux = None
    if walk.has_aux:
        aux = AuxTotals.model_construct(
            params=sum(r.params for r in heads),
            non_trainable_params=sum(r.non_trainable_params for r in heads),
            macs=sum(r.macs for r in heads), flops=sum(r.flops for r in heads),
            activation_bytes=sum(r.activation_bytes for r in heads))
    totals = Totals.model_construct(
        params=params,
        non_trainable_params=non_trainable,
        macs=sum(r.macs for r in main),
        flops=sum(r.flops for r in main),
        activation_bytes=sum(r.activation_bytes for r in main),
        param_bytes=(params + non_trainable) * dtype.bytes,
        aux=aux,
        lower_bound=any(row.unknown for row in leaves),
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
        fields_in: Fields, fields: Fields, context: bool, location: Location,
    ) -> Leaf | None:
        self.leaves.append(ShapeRow(name, layer, shape))
        return None

    def merge_row(
        self, kind: MergeName, name: str, depth: int, shape: Shape, out: Shape, cost: Cost,
        fields: Fields, context: bool, location: Location, branch_shapes: tuple[Shape, ...],
    ) -> Merge | None:
        return None

    def subtotal(
        self, name: str, layer: Container, depth: int, shape: Shape, out: Shape,
        fields: Fields, context: bool, start: int, location: Location,
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
                  tuple(network.input), "global", False, "", 0, ("layers",))
    return tuple(walk.leaves), tuple(walk.warnings)
