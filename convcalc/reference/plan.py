"""The network as `verify` runs it: its layers in execution order, each with its report row.

`build_plan` takes the plan tree the analysis built with the report (``Report.plan``,
``convcalc.plan``), pairs each of its leaves and merges with the report's row in the same
place, and lays ``repeat`` out flat: a container becomes its turns, each a block of bodies,
a merge and the ``after`` nodes; an ``aux`` head is a block that passes its input on; a
``graph``'s turn is a ``GraphBlock`` of named steps, each reading the values it names.
Verify's passes and its memory estimate walk this plan rather than the network. Pure:
no numpy. (Each windowed layer's options are resolved by the ops
themselves, in ``convcalc.reference.ops._window``, apart from the calculator's rules.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from convcalc.analysis import analyze
from convcalc.layers.containers import GRAPH_INPUT
from convcalc.plan import GraphTurn, Leaf, Merge, PlanNode
from convcalc.results import LayerRow, Report
from convcalc.spec import Network

__all__ = [
    "Block",
    "GraphBlock",
    "GraphStep",
    "Leaf",
    "Merge",
    "Node",
    "PlanMismatch",
    "build_plan",
    "checked_rows",
]


class PlanMismatch(ValueError):
    """The report's rows do not follow the network (a report of another network)."""


@dataclass(frozen=True)
class Block:
    """One turn of a container: bodies on the same input, then a merge (None: one body),
    then the ``after`` nodes on the merged output.

    An empty body is the identity: its output is the block's input. An aux head's block
    (``aux``) gives its input on: its body's output leaves the network.
    """

    bodies: tuple[tuple[Node, ...], ...]
    merge: Merge | None
    after: tuple[Node, ...] = ()
    aux: bool = False


@dataclass(frozen=True)
class GraphStep:
    """One node of a graph's turn: the nodes that run on the value ``reads[0]`` names (a
    layer, or a container's turns laid out), or the merge of every value it reads.

    Attributes:
        name: the name its value is bound to.
        reads: the names of the values it reads (``input``: the block's input).
        nodes: what runs, when the node is a layer or a container (else ``()``).
        merge: the merge, when the node is one (else None).
    """

    name: str
    reads: tuple[str, ...]
    nodes: tuple[Node, ...] = ()
    merge: Merge | None = None


@dataclass(frozen=True)
class GraphBlock:
    """One turn of a ``graph``: named steps in order, and the name of the one given out.

    Attributes:
        steps: the graph's nodes, in order.
        output: the name of the value the block gives out.
        last_read: per name, the index of the last step that reads it (the output's is
            ``len(steps)``), so that a pass can let a value go once nothing needs it.
    """

    steps: tuple[GraphStep, ...]
    output: str
    last_read: dict[str, int]


Node = Leaf | Block | GraphBlock
"""``Leaf`` and ``Merge`` are the plan tree's own (``convcalc.plan``)."""


def _last_reads(steps: Sequence[GraphStep], output: str) -> dict[str, int]:
    """Return, per name, the index of the last step reading it; the output's is past
    the last step."""
    last = {GRAPH_INPUT: -1}
    for index, step in enumerate(steps):
        last[step.name] = index
        for name in step.reads:
            last[name] = index
    last[output] = len(steps)
    return last


class _Rows:
    """The report's rows, consumed in execution order."""

    def __init__(self, rows: Sequence[LayerRow]) -> None:
        self.rows = iter(rows)

    def take(self, container: bool, type_name: str) -> LayerRow:
        row = next(self.rows, None)
        if row is None or row.container != container or row.type != type_name:
            found = f"row '{row.name}' ({row.type})" if row is not None else "no more rows"
            what = "container" if container else "layer"
            raise PlanMismatch(
                f"the report does not follow the network: expected a {what} "
                f"row of type {type_name}, found {found}"
            )
        return row


def _sequence(nodes: Sequence[PlanNode], rows: _Rows) -> Iterator[Node]:
    for node in nodes:
        if isinstance(node, Leaf):
            row = rows.take(False, node.layer.type)
            yield node if row is node.row else Leaf(node.layer, row, node.index)
            continue
        for turn in node.turns:
            if isinstance(turn, GraphTurn):
                steps: list[GraphStep] = []
                for step in turn.steps:
                    if isinstance(step.node, Merge):
                        joined = step.node
                        row = rows.take(False, joined.kind)
                        if row is not joined.row:
                            joined = Merge(joined.kind, row, joined.index)
                        steps.append(GraphStep(step.name, step.reads, merge=joined))
                    else:
                        steps.append(GraphStep(step.name, step.reads,
                                               tuple(_sequence((step.node,), rows))))
                if turn.row is not None:
                    rows.take(True, node.layer.type)  # the turn's subtotal
                yield GraphBlock(tuple(steps), turn.output, _last_reads(steps, turn.output))
                continue
            bodies = tuple(tuple(_sequence(body, rows)) for body in turn.bodies)
            merge = turn.merge
            if merge is not None:
                row = rows.take(False, merge.kind)
                merge = merge if row is merge.row else Merge(merge.kind, row, merge.index)
            after = tuple(_sequence(turn.after, rows))
            if turn.row is not None:
                rows.take(True, node.layer.type)  # the turn's subtotal
            yield Block(bodies, merge, after, node.layer.aux)
        rows.take(True, node.layer.type)


def build_plan(network: Network, report: Report) -> tuple[Node, ...]:
    """Return the network's nodes in execution order, each leaf and merge with its row.

    The nodes are those of the plan tree ``analyze(network)`` left on ``report``, each
    given the row in its place in ``report.layers`` (a report's copy may have other
    rows). A report made otherwise, or of another object than ``network``, has its tree
    built again by ``analyze(network)``. Raises PlanMismatch when the report's rows do
    not follow the network.
    """
    plan = report.plan
    if plan is None or plan.network is not network:
        plan = analyze(network).plan
        assert plan is not None  # analyze always leaves one
    rows = _Rows(report.layers)
    nodes = tuple(_sequence(plan.nodes, rows))
    leftover = next(rows.rows, None)
    if leftover is not None:
        raise PlanMismatch(
            f"the report does not follow the network: row '{leftover.name}' is left over"
        )
    return nodes


def checked_rows(plan: Sequence[Node]) -> Iterator[Leaf | Merge]:
    """Yield every leaf and merge of ``plan`` in execution order (their ``index`` order)."""
    for node in plan:
        if isinstance(node, Leaf):
            yield node
            continue
        if isinstance(node, GraphBlock):
            for step in node.steps:
                if step.merge is not None:
                    yield step.merge
                else:
                    yield from checked_rows(step.nodes)
            continue
        for body in node.bodies:
            yield from checked_rows(body)
        if node.merge is not None:
            yield node.merge
        yield from checked_rows(node.after)


# --------------------------------------------------------------------------------------
# Options per spatial dimension
#
# These repeat what convcalc.layers does to resolve kernels and padding (`same` included)
# on purpose: verify checks the calculator's shapes, so the arrays must get their padding
# from rules written apart from the ones under test, not from the same function.
