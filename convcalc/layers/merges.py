"""Merges: how a container's branch outputs combine, one registered definition each.

``add`` sums equal shapes elementwise (residual blocks); ``concat`` joins the branches'
channels (Inception); ``mul`` multiplies elementwise with broadcasting (squeeze-and-excitation
scales ``C×H×W`` by ``C×1×1``). Each definition owns its shape rule and cost, its worked formulas,
its receptive-field rule, its PyTorch source (what the exported ``Residual`` and
``Parallel`` classes do to merge) and where its reference op lives. ``MERGES`` maps a name to its
definition and ``merge_definition`` looks one up; a name it does not know is an error,
never another merge. A new merge is one more definition in ``MERGES`` and its name in
``MergeName``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Literal

from convcalc.common import shape_text
from convcalc.errors import LayerError
from convcalc.layers.backward import PASS_THROUGH, Backward, Saved, branch
from convcalc.layers.base import Cost, Shape, numel
from convcalc.layers.worked import Term, Worked, number, product

__all__ = [
    "MERGES",
    "Add",
    "Concat",
    "FieldRule",
    "Merge",
    "MergeName",
    "Mul",
    "merge_definition",
]

MergeName = Literal["concat", "add", "mul"]
"""The merges a container may name; ``parallel``'s default first (the schema keeps this
order). A test keeps it equal to the names in ``MERGES``."""


class FieldRule(StrEnum):
    """How a merge's receptive field follows from its branches' fields."""

    union = "union"
    """Each output position sees what the same position of any branch sees."""
    local_union = "local_union"
    """Per spatial dim, the union over the branches not broadcast along it: a broadcast
    branch (size 1 there while the output is larger) carries global context along that
    dim, not a spatial extent, so it is held fixed."""


@dataclass(frozen=True)
class Merge:
    """A merge of branch outputs: its rules, one instance per name in ``MERGES``.

    Attributes:
        name: the merge's name, as written in YAML and in the report's rows.
        field_rule: how the receptive field follows from the branches'.
        reference_op: where verify finds its reference op,
            ``"convcalc.reference.ops.merge:<name>"`` (a string: no numpy here).
    """

    name: str
    field_rule: FieldRule
    reference_op: str

    torch_summary: ClassVar[str]
    """How the exported ``Parallel`` class's docstring names this merge."""

    def apply(self, shapes: Sequence[Shape]) -> tuple[Shape, Cost]:
        """Return the merged shape and its cost for one sample.

        Raises LayerError when the shapes cannot merge (naming every branch's shape).
        """
        raise NotImplementedError(f"the {self.name} merge has no apply()")

    def explain(self, shapes: Sequence[Shape]) -> Worked:
        """Return the worked formulas of merging ``shapes`` (one sample)."""
        raise NotImplementedError(f"the {self.name} merge has no explain()")

    def backward(self, shapes: Sequence[Shape], input_grads: Sequence[bool]) -> Backward:
        """Return the merge's backward for one sample: its FLOPs and what it keeps, given
        which branches need a gradient (``input_grads``, one per branch)."""
        raise NotImplementedError(f"the {self.name} merge has no backward()")

    def torch_expression(self, operands: Sequence[str]) -> str:
        """Return the PyTorch expression merging the tensors ``operands`` (source text)."""
        raise NotImplementedError(f"the {self.name} merge has no torch_expression()")

    def torch_statements(self, outputs: str) -> list[str]:
        """Return the lines of a ``forward`` that return the merge of the list ``outputs``."""
        raise NotImplementedError(f"the {self.name} merge has no torch_statements()")

    def local_branches(self, shapes: Sequence[Shape]) -> tuple[tuple[bool, ...], ...]:
        """Return, per spatial dim, whether each branch's field counts there.

        Every branch counts along every dim, except where ``field_rule`` is
        ``local_union``: there a branch broadcast along a dim does not.
        """
        spatial = len(shapes[0]) - 1 if shapes else 0
        return tuple(tuple(True for _ in shapes) for _ in range(spatial))

    def broadcasts_spatially(self, shapes: Sequence[Shape]) -> bool:
        """Return whether a branch is broadcast along a spatial dim (global context)."""
        return not all(all(dim) for dim in self.local_branches(shapes))


class Add(Merge):
    """Elementwise sum of equal shapes: ``(n − 1)·numel`` FLOPs for ``n`` branches."""

    torch_summary: ClassVar[str] = '"add"'

    def apply(self, shapes: Sequence[Shape]) -> tuple[Shape, Cost]:
        if len(set(shapes)) > 1:
            listed = ", ".join(shape_text(s) for s in shapes)
            raise LayerError(f"add needs equal shapes, the branches give {listed}")
        return shapes[0], Cost(flops=(len(shapes) - 1) * numel(shapes[0]))

    def explain(self, shapes: Sequence[Shape]) -> Worked:
        out, _ = self.apply(shapes)
        listed = " + ".join(shape_text(s) for s in shapes)
        flops = (number(len(shapes)) - number(1)).group() * product(list(out))
        return Worked([f"add: {listed} → {shape_text(out)} (equal shapes, elementwise)"],
                      out, flops=flops, flops_note="one add per element for each extra branch")

    def backward(self, shapes: Sequence[Shape], input_grads: Sequence[bool]) -> Backward:
        """Return the gradient handed to every branch as it is: nothing computed or kept."""
        return PASS_THROUGH

    def torch_expression(self, operands: Sequence[str]) -> str:
        return " + ".join(operands)

    def torch_statements(self, outputs: str) -> list[str]:
        return [f"total = {outputs}[0]", f"for output in {outputs}[1:]:",
                f"    total = {self.torch_expression(['total', 'output'])}", "return total"]


class Concat(Merge):
    """Channels joined in branch order; the spatial sizes must be equal. No FLOPs."""

    torch_summary: ClassVar[str] = '"concat" (over channels)'

    def apply(self, shapes: Sequence[Shape]) -> tuple[Shape, Cost]:
        if len({s[1:] for s in shapes}) > 1 or len({len(s) for s in shapes}) > 1:
            listed = ", ".join(shape_text(s) for s in shapes)
            raise LayerError(
                f"concat joins channels and needs equal spatial sizes, the branches give "
                f"{listed}"
            )
        return (sum(s[0] for s in shapes), *shapes[0][1:]), Cost()

    def explain(self, shapes: Sequence[Shape]) -> Worked:
        out, _ = self.apply(shapes)
        written = " + ".join(str(s[0]) for s in shapes)
        kept = f", spatial {shape_text(out[1:])} kept" if len(out) > 1 else ""
        return Worked([f"concat: channels = {written} = {out[0]}{kept}"], out)

    def backward(self, shapes: Sequence[Shape], input_grads: Sequence[bool]) -> Backward:
        """Return the gradient cut into the branches' channels: nothing computed or kept."""
        return PASS_THROUGH

    def torch_expression(self, operands: Sequence[str]) -> str:
        return f"torch.cat([{', '.join(operands)}], dim=1)"

    def torch_statements(self, outputs: str) -> list[str]:
        return [f"return torch.cat({outputs}, dim=1)"]


class Mul(Merge):
    """Elementwise product with broadcasting: ``(n − 1)·numel(output)`` FLOPs, no MACs.

    The branches have equal rank, and in every dimension each branch is the largest size
    or 1 (squeeze-and-excitation: ``C×H×W`` times a ``C×1×1`` scale).
    """

    torch_summary: ClassVar[str] = '"mul" (broadcasting)'

    def apply(self, shapes: Sequence[Shape]) -> tuple[Shape, Cost]:
        out = self._broadcast(shapes)
        return out, Cost(flops=(len(shapes) - 1) * numel(out))

    @staticmethod
    def _broadcast(shapes: Sequence[Shape]) -> Shape:
        """Return the broadcast shape, or raise LayerError naming every branch's shape."""
        ranks = {len(s) for s in shapes}
        out = tuple(max(sizes) for sizes in zip(*shapes, strict=False))
        if len(ranks) > 1 or any(size not in (1, top) for s in shapes
                                 for size, top in zip(s, out, strict=True)):
            listed = ", ".join(shape_text(s) for s in shapes)
            raise LayerError(
                f"mul needs shapes that broadcast (equal rank, and in every dimension each "
                f"branch the largest size or 1), the branches give {listed}")
        return out

    def explain(self, shapes: Sequence[Shape]) -> Worked:
        out, _ = self.apply(shapes)
        listed = " × ".join(shape_text(s) for s in shapes)
        flops = (number(len(shapes)) - number(1)).group() * product(list(out))
        broadcast = [shape_text(s) for s in shapes if s != out]
        how = (f"{', '.join(broadcast)} broadcast over the size-1 dims" if broadcast
               else "equal shapes")
        return Worked([f"mul: {listed} → {shape_text(out)} ({how}, elementwise)"],
                      out, flops=flops,
                      flops_note="one multiply per output element for each extra branch")

    def backward(self, shapes: Sequence[Shape], input_grads: Sequence[bool]) -> Backward:
        """Return, for each branch that needs a gradient, the gradient times the other
        branches ((n − 1)·numel(output) multiplies) summed over the dims it was broadcast
        along (numel(output) − numel(branch) adds), and the other branches kept for it."""
        out = self._broadcast(shapes)
        flops: Term | None = None
        kept: dict[int, Saved] = {}
        for index, (shape, needed) in enumerate(zip(shapes, input_grads, strict=True)):
            if not needed:
                continue
            term = (number(len(shapes)) - number(1)).group() * product(list(out))
            if shape != out:
                term = term + (product(list(out)) - product(list(shape))).group()
            flops = term if flops is None else flops + term
            kept.update({other: Saved(branch(other), shapes[other])
                         for other in range(len(shapes)) if other != index})
        return Backward(flops=flops, flops_note="the others' product per branch, summed "
                        "where broadcast", saved=tuple(kept[i] for i in sorted(kept)))

    def torch_expression(self, operands: Sequence[str]) -> str:
        return " * ".join(operands)

    def torch_statements(self, outputs: str) -> list[str]:
        return [f"total = {outputs}[0]", f"for output in {outputs}[1:]:",
                f"    total = {self.torch_expression(['total', 'output'])}", "return total"]

    def local_branches(self, shapes: Sequence[Shape]) -> tuple[tuple[bool, ...], ...]:
        out = self._broadcast(shapes)
        return tuple(tuple(not (s[dim] == 1 < out[dim]) for s in shapes)
                     for dim in range(1, len(out)))


MERGES: dict[str, Merge] = {merge.name: merge for merge in (
    Add("add", FieldRule.union, "convcalc.reference.ops.merge:add"),
    Concat("concat", FieldRule.union, "convcalc.reference.ops.merge:concat"),
    Mul("mul", FieldRule.local_union, "convcalc.reference.ops.merge:mul"),
)}
"""Merge name -> its definition."""


def merge_definition(name: str) -> Merge:
    """Return the definition of the merge called ``name``, or raise LayerError."""
    try:
        return MERGES[name]
    except KeyError:
        known = ", ".join(sorted(MERGES))
        raise LayerError(f"there is no merge called {name!r}; the merges are {known}") \
            from None
