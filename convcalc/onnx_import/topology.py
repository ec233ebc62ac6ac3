"""Nesting the importer's graph: the network file's ``layers`` from a list of nodes.

``nest(nodes)`` turns the DAG that the ONNX reader gives (``dag.Node``: leaves reading one
tensor, merges reading several) into the containers of the format: chains become flat
lists, a fork whose branches rejoin at one merge a ``residual`` or a ``parallel``, and
what is not series-parallel a ``graph`` container over the smallest region that needs it.

The method is the reduction of a two-terminal series-parallel graph, on the tensors:
every node's output is a vertex (the graph's input too), a leaf an edge from the tensor it
reads to its own, a merge's operands edges (in operand order) into the merge's vertex.
Each edge carries a *label*, the layers that turn its source tensor into what it gives.
Two reductions run until one edge, from the input to the output, is left:

- **series**: a vertex read once and made by one edge (a leaf, or a merge already
  folded) joins the two labels;
- **parallel**: operands of one merge that come from the same tensor become one
  container over that tensor: all of them, and the merge is folded into a ``residual``
  or ``parallel``; some of them, and they are re-associated into a container of their
  own (contiguous runs for ``concat``, whose channel order is the operands' order; any
  of them for the commutative ``add`` and ``mul``), so an ``add`` of three becomes
  nested adds.

Before that, a ``concat`` whose first operands are those of an earlier ``concat`` reads
that one instead, when that one dominates its other operands (DenseNet concatenates
``[x, f1(x), f2(…)]`` anew for every layer, and the next layer reads each): the value is
the same, and the growing concatenations become a row of ``parallel`` blocks. (An ``add``
is not rewritten so: reusing an earlier sum would count fewer FLOPs than the file
computes.)

When neither reduction applies, the graph is not series-parallel there. The smallest
single-entry single-exit regions left, each from a merge's immediate dominator to the
merge where nothing between them is read beyond the merge (the region takes only those
readers of its entry that lead into it, so a skip around it stays nested), become
``graph`` containers, one edge each, shortest first and not overlapping, and the
reductions go on, so the rest stays nested. A nesting deeper than ``MAX_DEPTH``
containers (which the loader's nesting limit could refuse) is written as a flat ``graph``
of its nodes instead.

Containers are unnamed, so the analysis names them (``residual1``), except where a
``graph`` needs names: there a folded merge's container takes the merge node's name, a
re-associated one the merge's name and a counter, a nested graph its output node's name.
Leaves keep their node names; the rows' order is the nodes' where nesting allows (a
``residual``'s heavier branch first, as torchvision writes a ResNet's body).

The reductions cost about linear time in the nodes; each round of regions left over costs
a dominator pass over what remains (benchmarks/bench_onnx_topology.py measures both).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from convcalc.onnx_import.dag import Node

__all__ = ["GRAPH_INPUT", "MAX_DEPTH", "nest"]

GRAPH_INPUT = "input"
"""The name of the network's input among the nodes' inputs (and a graph's own input)."""

MAX_DEPTH = 40
"""The deepest nesting of containers written; a deeper part is a flat ``graph``. A
container is two or three levels of the file's mappings and lists, and the loader reads
at most 200 (``convcalc.loader.MAX_NESTING``)."""

_MERGES = frozenset({"add", "concat", "mul"})
_GATES = frozenset({"sigmoid", "hardsigmoid"})
"""The last layer of a squeeze-and-excitation branch."""
_AFTER = frozenset({"relu", "relu6", "leaky_relu", "gelu", "silu", "elu", "mish",
                    "hardswish", "tanh"})
"""The activations taken into a ``residual``'s ``after`` when one follows its add."""
_MAX_NAME = 200
_SEARCH_PASSES = 8
"""How many vertices, per vertex left, one round's region searches may meet before only
the last merge's is made (see ``_Reduction._regions``)."""


@dataclass(eq=False)
class _Leaf:
    """A leaf layer: its node's name and layer mapping."""

    name: str
    layer: dict[str, Any]
    depth: int = 0


@dataclass(eq=False)
class _Block:
    """Branches over one tensor joined by a merge: a ``residual`` or ``parallel``.

    ``name`` is the merge node's when the block is that merge, else a made-up one; the
    file shows it only inside a ``graph``.
    """

    kind: str
    branches: list[deque[_Item]]
    name: str
    depth: int


@dataclass(eq=False)
class _Step:
    """One vertex of a graph region: its operands' chains (source, layers), and the
    merge that joins them (None: a single chain, whose last layer is the vertex)."""

    name: str
    chains: list[tuple[str, list[_Item]]]
    merge: str | None


@dataclass(eq=False)
class _Region:
    """A region that is not series-parallel, written as a ``graph`` of its steps."""

    name: str
    source: str
    steps: list[_Step]
    depth: int


_Item = _Leaf | _Block | _Region


class _Edge:
    """An edge of the reduced graph: from a tensor to a vertex, through ``label``."""

    __slots__ = ("label", "source", "target")

    def __init__(self, source: str, target: str, label: deque[_Item]) -> None:
        self.source = source
        self.target = target
        self.label = label


def _depth(items: Iterable[_Item]) -> int:
    """Return the deepest nesting of containers among ``items``."""
    return max((item.depth for item in items), default=0)


def _joined(first: deque[_Item], second: deque[_Item]) -> deque[_Item]:
    """Return ``first`` then ``second``, extending the longer (so a chain costs n log n)."""
    if len(first) >= len(second):
        first.extend(second)
        return first
    second.extendleft(reversed(first))
    return second


def _checked(nodes: Sequence[Node]) -> None:
    """Raise ValueError unless ``nodes`` are a DAG as ``dag.Node`` describes."""
    if not nodes:
        raise ValueError("no nodes to nest")
    seen: set[str] = set()
    for node in nodes:
        if node.name == GRAPH_INPUT or node.name in seen:
            raise ValueError(f"node name {node.name!r} is the input's or used twice")
        for source in node.inputs:
            if source != GRAPH_INPUT and source not in seen:
                raise ValueError(f"node {node.name!r} reads {source!r}, no earlier node")
        if node.merge is None:
            if node.layer is None or len(node.inputs) != 1:
                raise ValueError(f"leaf node {node.name!r} needs a layer and one input")
        elif node.merge not in _MERGES or node.layer is not None or len(node.inputs) < 2:
            raise ValueError(f"merge node {node.name!r} needs add, concat or mul, no "
                             "layer, and two inputs or more")
        seen.add(node.name)
    needed = {nodes[-1].name}
    for node in reversed(nodes):
        if node.name not in needed:
            raise ValueError(f"node {node.name!r} is read by no node and is not the output")
        needed.update(node.inputs)


def _common(tree: dict[str, str], order: dict[str, int], first: str, second: str) -> str:
    """Return the nearest common dominator of two vertices, walking up the dominator
    ``tree`` by the nodes' order."""
    while first != second:
        while order[first] > order[second]:
            first = tree[first]
        while order[second] > order[first]:
            second = tree[second]
    return first


def _reassociated(nodes: Sequence[Node]) -> list[Node]:
    """Return the nodes with each concat's leading operands that an earlier concat joins
    read from that concat instead (the longest such run, repeatedly), where that concat
    dominates the other operands (as in DenseNet, whose next layer reads each concat),
    so that the rewrite adds no skip to the graph."""
    order = {GRAPH_INPUT: -1} | {node.name: index for index, node in enumerate(nodes)}
    dominator = {GRAPH_INPUT: GRAPH_INPUT}
    earlier: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    result = []

    def dominates(above: str, below: str) -> bool:
        while order[below] > order[above]:
            below = dominator[below]
        return below == above

    for node in nodes:
        operands = node.inputs
        while node.merge == "concat":
            best: tuple[tuple[str, ...], str] | None = None
            for key, name in earlier.get(operands[0], ()):
                if (len(key) < len(operands) and operands[:len(key)] == key
                        and (best is None or len(key) > len(best[0]))
                        and all(dominates(name, rest) for rest in operands[len(key):])):
                    best = (key, name)
            if best is None:
                break
            operands = (best[1], *operands[len(best[0]):])
        found = operands[0]
        for source in operands[1:]:
            found = _common(dominator, order, found, source)
        dominator[node.name] = found
        if node.merge == "concat":
            earlier.setdefault(node.inputs[0], []).append((node.inputs, node.name))
        result.append(node if operands == node.inputs
                      else Node(node.name, operands, merge=node.merge))
    return result


class _Reduction:
    """The graph of tensors being reduced (see the module's docstring)."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.order = {GRAPH_INPUT: -1} | {node.name: i for i, node in enumerate(nodes)}
        self.sink = nodes[-1].name
        self.taken = set(self.order)
        self.counters: dict[str, int] = {}
        self.incoming: dict[str, list[_Edge]] = {GRAPH_INPUT: []}
        self.outgoing: dict[str, set[_Edge]] = {GRAPH_INPUT: set()}
        self.merge: dict[str, str] = {}
        for node in nodes:
            self.outgoing[node.name] = set()
            if node.merge is None:
                assert node.layer is not None
                edges = [_Edge(node.inputs[0], node.name, deque([_Leaf(node.name,
                                                                       node.layer)]))]
            else:
                self.merge[node.name] = node.merge
                edges = [_Edge(source, node.name, deque()) for source in node.inputs]
            self.incoming[node.name] = edges
            for edge in edges:
                self.outgoing[edge.source].add(edge)

    def run(self) -> deque[_Item]:
        """Return the label of the one edge left from the input to the output."""
        pending = deque(sorted(self.incoming, key=self.order.__getitem__))
        while True:
            while pending:
                self._reduce(pending.popleft(), pending)
            edges = self.incoming[self.sink]
            if len(edges) == 1 and edges[0].source == GRAPH_INPUT:
                return edges[0].label
            regions = self._regions()
            if not regions:  # the last merge always bounds one (see _regions)
                raise RuntimeError("nest: no region left to write as a graph")
            for source, target, inside in regions:
                self._collapse(source, target, inside)
                pending.extend((source, target))

    def _reduce(self, vertex: str, pending: deque[str]) -> None:
        """Apply the reductions that ``vertex`` allows, queueing the vertices they touch."""
        if vertex not in self.incoming:
            return
        incoming = self.incoming[vertex]
        if vertex in self.merge:
            touched = self._group(vertex)
            if not touched:
                return
            pending.extend(touched)
            pending.append(vertex)
            return
        outgoing = self.outgoing[vertex]
        if vertex == GRAPH_INPUT or vertex == self.sink or len(outgoing) != 1:
            return
        (before,) = incoming
        (after,) = outgoing
        self.outgoing[before.source].discard(before)
        self.outgoing[before.source].add(after)
        after.source = before.source
        after.label = _joined(before.label, after.label)
        del self.incoming[vertex], self.outgoing[vertex]
        pending.extend((after.source, after.target))

    def _group(self, vertex: str) -> list[str]:
        """Join a merge's operands that come from one tensor; return the tensors touched."""
        incoming = self.incoming[vertex]
        kind = self.merge[vertex]
        groups: list[list[int]] = []
        if kind == "concat":
            start = 0
            for index in range(1, len(incoming) + 1):
                if index == len(incoming) or incoming[index].source != incoming[start].source:
                    if index - start > 1:
                        groups.append(list(range(start, index)))
                    start = index
        else:
            by_source: dict[str, list[int]] = {}
            for index, edge in enumerate(incoming):
                by_source.setdefault(edge.source, []).append(index)
            groups = [indices for indices in by_source.values() if len(indices) > 1]
        if not groups:
            return []
        if len(groups[0]) == len(incoming):
            name = vertex
            del self.merge[vertex]
        else:
            name = ""
        dropped: set[int] = set()
        for indices in groups:
            members = [incoming[index] for index in indices]
            branches = [edge.label for edge in members]
            block = _Block(kind, branches, name or self._fresh(vertex), 1 + max(
                _depth(branch) for branch in branches))
            first = members[0]
            for edge in members[1:]:
                self.outgoing[edge.source].discard(edge)
            first.label = deque([block])
            dropped.update(indices[1:])
        self.incoming[vertex] = [edge for index, edge in enumerate(incoming)
                                 if index not in dropped]
        return [incoming[indices[0]].source for indices in groups]

    def _fresh(self, base: str) -> str:
        """Return a name made from ``base`` that no node or made-up name has."""
        base = base[:_MAX_NAME - 8]
        count = self.counters.get(base, 0) + 1
        while f"{base}_{count}" in self.taken:
            count += 1
        self.counters[base] = count
        name = f"{base}_{count}"
        self.taken.add(name)
        return name

    def _alive(self) -> list[str]:
        """Return the vertices left, in the nodes' order."""
        return sorted(self.incoming, key=self.order.__getitem__)

    def _regions(self) -> list[tuple[str, str, set[str]]]:
        """Return the smallest single-entry single-exit regions left, not overlapping:
        each its entry, its exit and its vertices.

        A merge and its immediate dominator bound a region when nothing between them is
        read beyond the merge (the region then takes only the entry's readers inside it).
        The last merge left always does: a tensor read beyond it would have to meet the
        output again at a later merge. So a stuck graph always has a region.
        """
        order = self.order
        dominator: dict[str, str] = {GRAPH_INPUT: GRAPH_INPUT}
        for vertex in self._alive()[1:]:
            sources = [edge.source for edge in self.incoming[vertex]]
            found = sources[0]
            for source in sources[1:]:
                found = _common(dominator, order, found, source)
            dominator[vertex] = found
        # Shortest first, while the searches have cost less than a few passes over the
        # graph (where skips cross everywhere, every merge's search can be long); the
        # last merge always, so that each round costs linear time and finds a region.
        last = max(self.merge, key=order.__getitem__)
        budget = _SEARCH_PASSES * len(dominator)
        candidates: list[tuple[str, str, set[str]]] = []
        for vertex in sorted(self.merge, key=lambda merge: order[merge] - order[
                dominator[merge]]):
            if budget <= 0 and vertex != last:
                continue
            inside, cost = self._between(dominator[vertex], vertex)
            budget -= cost
            if inside is not None:
                candidates.append((dominator[vertex], vertex, inside))
        chosen: list[tuple[str, str, set[str]]] = []
        for source, target, inside in sorted(
                candidates, key=lambda found: order[found[1]] - order[found[0]]):
            if all(order[target] <= order[start] or order[source] >= order[end]
                   for start, end, _ in chosen):
                chosen.append((source, target, inside))
        return chosen

    def _between(self, source: str, target: str) -> tuple[set[str] | None, int]:
        """Return the vertices on the paths from ``source`` (which dominates ``target``)
        to ``target``, or None when one of them is read from beyond ``target``; and how
        many vertices the search met."""
        inside = {source, target}
        frontier = [target]
        last = self.order[target]
        while frontier:
            for edge in self.incoming[frontier.pop()]:
                if edge.source not in inside:
                    # Read after the exit: no region (found at once, so that the search
                    # stays short where skips cross, as in a ladder of them).
                    if any(self.order[read.target] > last
                           for read in self.outgoing[edge.source]):
                        return None, len(inside)
                    inside.add(edge.source)
                    frontier.append(edge.source)
        for vertex in inside:
            if vertex != source and vertex != target and any(
                    edge.target not in inside for edge in self.outgoing[vertex]):
                return None, len(inside)
        return inside, len(inside)

    def _collapse(self, source: str, target: str, inside: set[str]) -> None:
        """Replace the region from ``source`` to ``target`` by one edge through a graph."""
        steps = []
        for vertex in sorted(inside - {source}, key=self.order.__getitem__):
            edges = self.incoming[vertex]
            steps.append(_Step(vertex, [(edge.source, list(edge.label)) for edge in edges],
                               self.merge.pop(vertex, None)))
        readers = self.outgoing[source]
        readers.difference_update([edge for edge in readers if edge.target in inside])
        for vertex in inside - {source, target}:
            del self.incoming[vertex], self.outgoing[vertex]
        depth = 1 + max(_depth(items) for step in steps for _, items in step.chains)
        edge = _Edge(source, target, deque([_Region(target, source, steps, depth)]))
        self.incoming[target] = [edge]
        readers.add(edge)


def _leaves(items: Iterable[_Item]) -> int:
    """Return how many leaves ``items`` hold (a branch's weight)."""
    total = 0
    stack = list(items)
    while stack:
        item = stack.pop()
        if isinstance(item, _Leaf):
            total += 1
        elif isinstance(item, _Block):
            for branch in item.branches:
                stack.extend(branch)
        else:
            for step in item.steps:
                for _, chain in step.chains:
                    stack.extend(chain)
    return total


def _copied(value: Any) -> Any:
    """Return ``value`` with its lists and mappings copied (a file's values are small)."""
    if isinstance(value, list):
        return [_copied(inner) for inner in value]
    if isinstance(value, dict):
        return {key: _copied(inner) for key, inner in value.items()}
    return value


def _leaf_mapping(name: str, layer: dict[str, Any]) -> dict[str, Any]:
    """Return a leaf's mapping: type, the node's name, then the layer's other keys,
    sharing no list or mapping with ``layer`` (so that YAML writes no anchors, and a
    caller may edit it)."""
    return {"type": layer["type"], "name": name,
            **{key: _copied(value) for key, value in layer.items()
               if key not in ("type", "name")}}


def _layers(items: Sequence[_Item]) -> list[dict[str, Any]]:
    """Return the file's layers for a label, the activation after a residual's add in
    its ``after``."""
    layers: list[dict[str, Any]] = []
    index = 0
    while index < len(items):
        item = items[index]
        layer = _layer(item, named=False)
        follower = items[index + 1] if index + 1 < len(items) else None
        if (layer["type"] == "residual" and isinstance(follower, _Leaf)
                and follower.layer.get("type") in _AFTER):
            layer["after"] = [_layer(follower, named=False)]
            index += 1
        layers.append(layer)
        index += 1
    return layers


def _layer(item: _Item, named: bool) -> dict[str, Any]:
    """Return one item's mapping; a container is named only when ``named`` (in a graph)."""
    if isinstance(item, _Leaf):
        return _leaf_mapping(item.name, item.layer)
    head: dict[str, Any] = {}
    if isinstance(item, _Region):
        head = {"type": "graph", "name": item.name} if named else {"type": "graph"}
        return {**head, "nodes": _graph_nodes(item)}
    branches = [list(branch) for branch in item.branches]
    if item.kind == "add" and len(branches) == 2:
        head = {"type": "residual", "name": item.name} if named else {"type": "residual"}
        body, shortcut = branches
        if _leaves(shortcut) > _leaves(body):
            body, shortcut = shortcut, body
        head["layers"] = _layers(body)
        if shortcut:
            head["shortcut"] = _layers(shortcut)
        return head
    if (item.kind == "mul" and len(branches) == 2 and not branches[1] and branches[0]
            and isinstance(branches[0][-1], _Leaf)
            and branches[0][-1].layer.get("type") in _GATES):
        branches.reverse()  # the product commutes; the file writes x before its gate
    head = {"type": "parallel", "name": item.name} if named else {"type": "parallel"}
    return {**head, "merge": item.kind, "branches": [_layers(branch) for branch in branches]}


def _graph_nodes(region: _Region) -> list[dict[str, Any]]:
    """Return a region's graph nodes: each chain's layers, then the merge joining them."""
    nodes: list[dict[str, Any]] = []
    previous = GRAPH_INPUT

    def read(name: str) -> str:
        return GRAPH_INPUT if name == region.source else name

    for step in region.steps:
        operands = []
        for source, chain in step.chains:
            current = read(source)
            for item in chain:
                node = _layer(item, named=True)
                if current != previous:
                    node["from"] = [current]
                nodes.append(node)
                current = previous = node["name"]
            operands.append(current)
        if step.merge is not None:
            nodes.append({"type": step.merge, "name": step.name, "from": operands})
            previous = step.name
    return nodes


def _flat_graph(nodes: Sequence[Node], source: str) -> dict[str, Any]:
    """Return ``nodes`` (which read only each other and ``source``) as one flat graph."""
    written: list[dict[str, Any]] = []
    previous = GRAPH_INPUT
    for node in nodes:
        reads = [GRAPH_INPUT if name == source else name for name in node.inputs]
        if node.merge is not None:
            written.append({"type": node.merge, "name": node.name, "from": reads})
        else:
            assert node.layer is not None
            mapping = _leaf_mapping(node.name, node.layer)
            if reads != [previous]:
                mapping["from"] = reads
            written.append(mapping)
        previous = node.name
    return {"type": "graph", "nodes": written}


def nest(nodes: Sequence[Node]) -> list[dict[str, Any]]:
    """Return the network file's ``layers`` for ``nodes``: nested containers where the
    graph is series-parallel, ``graph`` containers for the regions where it is not.

    ``nodes`` come in a topological order, each reading earlier nodes or ``input``, the
    last one the output, none unread (see ``dag.Node``). Raises ValueError otherwise.
    """
    _checked(nodes)
    rewritten = _reassociated(nodes)
    top = list(_Reduction(rewritten).run())
    if _depth(top) <= MAX_DEPTH:
        return _layers(top)
    position = {node.name: index for index, node in enumerate(rewritten)}
    layers: list[dict[str, Any]] = []
    run: list[_Item] = []
    start = GRAPH_INPUT
    for item in top:
        if item.depth <= MAX_DEPTH:
            run.append(item)
        else:
            layers.extend(_layers(run))
            run = []
            first = position[start] + 1 if start != GRAPH_INPUT else 0
            layers.append(_flat_graph(rewritten[first:position[item.name] + 1], start))
        start = item.name  # a top-level item is named after the node it ends at
    layers.extend(_layers(run))
    return layers
