"""One walk over verify's plan, shared by the passes that fold a value through it.

`PlanFold` runs ``nodes`` in order: a leaf maps the value, a block runs each body on the
same value (an empty body is the identity) and, when it has a merge, combines the bodies'
outputs, then runs its ``after`` nodes on the result; an aux head's block runs its body
and gives its input on (``head`` sees the head's output). A pass says only what a leaf
and a merge do to its value: the value pass (arrays), the probe (supports) and the walk
of the calculator's fields (reaches). A graph's block binds each step's value to its
name and hands each step the values it names; a value is let go after the last step that
reads it, so a pass holds what the graph still needs and no more. Pure: no numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from convcalc.layers.containers import GRAPH_INPUT
from convcalc.reference.plan import Block, GraphBlock, Leaf, Merge, Node

__all__ = ["PlanFold"]

V = TypeVar("V")


class PlanFold(Generic[V]):
    """Fold a value of type ``V`` through a plan; subclasses give ``leaf`` and ``merge``."""

    def nodes(self, nodes: Sequence[Node], x: V) -> V:
        """Return the value after ``nodes``, run in order on ``x``."""
        for node in nodes:
            if isinstance(node, Block):
                x = self.block(node, x)
            elif isinstance(node, GraphBlock):
                x = self.graph(node, x)
            else:
                x = self.leaf(node, x)
        return x

    def graph(self, block: GraphBlock, x: V) -> V:
        """Return the value after one turn of a graph: each step on the values it names."""
        values = {GRAPH_INPUT: x}
        for index, step in enumerate(block.steps):
            inputs = [values[name] for name in step.reads]
            for name in set(step.reads):
                if block.last_read[name] == index:
                    del values[name]  # nothing later reads it
            values[step.name] = (self.merge(step.merge, inputs) if step.merge is not None
                                 else self.nodes(step.nodes, inputs[0]))
        return values[block.output]

    def block(self, block: Block, x: V) -> V:
        """Return the value after one turn of a container: its bodies, then its merge."""
        outputs = [self.nodes(body, x) if body else x for body in block.bodies]
        if block.aux:
            self.head(outputs[0])
            return x
        merged = outputs[0] if block.merge is None else self.merge(block.merge, outputs)
        return self.nodes(block.after, merged)

    def head(self, output: V) -> None:
        """Take the output of an aux head, which leaves the network (by default: dropped)."""

    def leaf(self, leaf: Leaf, x: V) -> V:
        """Return the value after one layer."""
        raise NotImplementedError

    def merge(self, merge: Merge, outputs: list[V]) -> V:
        """Return the value of a merge of the bodies' ``outputs``."""
        raise NotImplementedError
