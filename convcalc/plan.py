"""The network as the analysis walked it: a tree of layers, merges and containers, with rows.

``analyze`` builds this tree in the walk that makes the report's rows and leaves it on
the report (``Report.plan``, not in the JSON). The export, verify and anything else that
needs the layers in execution order beside their rows read the tree, so the row order is
written once, in ``convcalc.analysis``. Pure: no numpy.

The tree, top down: a ``Plan`` holds the network's nodes; a node is a ``Leaf`` (one layer
and its row) or a ``Group`` (a container: its subtotal row and its turns, one per
``repeat``); a ``Turn`` is the container's bodies, run on the same input, then its
``Merge`` (None for a single body), then its ``after`` nodes on the merged output. A group
whose layer is an ``aux`` head runs its one body on its input and passes the input on
(its body's output leaves the network). A ``graph``'s turns are ``GraphTurn``s instead:
its nodes in order, each a ``GraphStep`` (a node of the tree, or a ``Merge``) with the
names it reads, and the name of the node it gives out. A graph is a ``Group`` like any
container, so whatever needs only a container's row and layer treats it alike, and only
what runs the turns learns one more kind. Every row of the report is in the tree exactly
once, and ``plan_rows`` gives them back in the report's order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from convcalc.layers import Container, LayerSpec
from convcalc.layers.merges import MergeName

if TYPE_CHECKING:  # results.py carries a Plan: these are for the annotations only
    from convcalc.results import LayerRow
    from convcalc.spec import Network

__all__ = ["GraphStep", "GraphTurn", "Group", "Leaf", "Merge", "Plan", "PlanNode", "Turn",
           "checked_nodes", "plan_rows"]


@dataclass(frozen=True, slots=True)
class Leaf:
    """One layer to run.

    Attributes:
        layer: the layer as written.
        row: the calculator's row for it.
        index: its position among the checked (non-container) rows.
    """

    layer: LayerSpec
    row: LayerRow
    index: int


@dataclass(frozen=True, slots=True)
class Merge:
    """The merge closing a turn of a container: the bodies' outputs joined.

    Attributes:
        kind: the merge's name (``add``, ``concat``), a key of ``MERGES``.
        row: the calculator's merge row.
        index: its position among the checked rows.
    """

    kind: MergeName
    row: LayerRow
    index: int


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a container: bodies on the same input, then a merge (None: one body),
    then the ``after`` nodes on the merged output.

    An empty body is the identity: its output is the turn's input.

    Attributes:
        bodies: each body's nodes, in the order of ``Container.bodies``.
        merge: the merge of the bodies' outputs; None when there is one body.
        row: the turn's subtotal row when the container repeats; None when it does not
            (the container's own row is then the only subtotal).
        after: the nodes of ``Container.after_layers``, run on the merged output.
    """

    bodies: tuple[tuple[PlanNode, ...], ...]
    merge: Merge | None
    row: LayerRow | None
    after: tuple[PlanNode, ...] = ()


@dataclass(frozen=True, slots=True)
class GraphStep:
    """One node of a graph's turn: what runs, and the names of the values it reads.

    Attributes:
        name: the node's own name in the graph (its row's last name part).
        reads: the names of the values it reads, in order (``input``: the turn's input).
        node: the layer or container that runs (reading ``reads[0]``), or the merge of
            every value it reads.
    """

    name: str
    reads: tuple[str, ...]
    node: PlanNode | Merge


@dataclass(frozen=True, slots=True)
class GraphTurn:
    """One turn of a ``graph``: its steps in the nodes' order.

    Attributes:
        steps: each node, with the names it reads.
        output: the name of the step whose value the turn gives out.
        row: the turn's subtotal row when the graph repeats; None when it does not.
    """

    steps: tuple[GraphStep, ...]
    output: str
    row: LayerRow | None


@dataclass(frozen=True, slots=True)
class Group:
    """A container as it runs: its turns one after another, then its subtotal row.

    Attributes:
        layer: the container as written.
        row: its subtotal row (after all its turns' rows).
        turns: one per ``repeat``, in order (a graph's are ``GraphTurn``s).
    """

    layer: Container
    row: LayerRow
    turns: tuple[Turn | GraphTurn, ...]


PlanNode = Leaf | Group
"""A node of a sequence of layers: a layer, or a container."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The tree of one analysis.

    Attributes:
        network: the network it was built from (the very object ``analyze`` was given).
        nodes: the network's top-level nodes, in execution order.
    """

    network: Network
    nodes: tuple[PlanNode, ...]


def plan_rows(nodes: Sequence[PlanNode]) -> Iterator[LayerRow]:
    """Yield every row of ``nodes`` in the report's order: containers after their children."""
    for node in nodes:
        if isinstance(node, Leaf):
            yield node.row
            continue
        for turn in node.turns:
            if isinstance(turn, GraphTurn):
                for step in turn.steps:
                    if isinstance(step.node, Merge):
                        yield step.node.row
                    else:
                        yield from plan_rows((step.node,))
                if turn.row is not None:
                    yield turn.row
                continue
            for body in turn.bodies:
                yield from plan_rows(body)
            if turn.merge is not None:
                yield turn.merge.row
            yield from plan_rows(turn.after)
            if turn.row is not None:
                yield turn.row
        yield node.row


def checked_nodes(nodes: Sequence[PlanNode]) -> Iterator[Leaf | Merge]:
    """Yield every leaf and merge of ``nodes`` in execution order (their ``index`` order)."""
    for node in nodes:
        if isinstance(node, Leaf):
            yield node
            continue
        for turn in node.turns:
            if isinstance(turn, GraphTurn):
                for step in turn.steps:
                    if isinstance(step.node, Merge):
                        yield step.node
                    else:
                        yield from checked_nodes((step.node,))
                continue
            for body in turn.bodies:
                yield from checked_nodes(body)
            if turn.merge is not None:
                yield turn.merge
            yield from checked_nodes(turn.after)
