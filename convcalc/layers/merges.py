"""Merges: how a container's branch outputs combine, one registered definition each.

``add`` sums equal shapes elementwise (residual blocks); ``concat`` joins the branches'
channels (Inception). Each definition owns its shape rule and cost, its worked formulas,
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
from convcalc.layers.base import Cost, Shape, numel
from convcalc.layers.worked import Worked, number, product

__all__ = ["MERGES", "Add", "Concat", "FieldRule", "Merge", "MergeName", "merge_definition"]

MergeName = Literal["concat", "add"]
"""The merges a container may name; ``parallel``'s default first (the schema keeps this
order). A test keeps it equal to the names in ``MERGES``."""


class FieldRule(StrEnum):
    """How a merge's receptive field follows from its branches' fields."""

    union = "union"
    """Each output position sees what the same position of any branch sees."""


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

    def torch_expression(self, operands: Sequence[str]) -> str:
        """Return the PyTorch expression merging the tensors ``operands`` (source text)."""
        raise NotImplementedError(f"the {self.name} merge has no torch_expression()")

    def torch_statements(self, outputs: str) -> list[str]:
        """Return the lines of a ``forward`` that return the merge of the list ``outputs``."""
        raise NotImplementedError(f"the {self.name} merge has no torch_statements()")


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

    def torch_expression(self, operands: Sequence[str]) -> str:
        return f"torch.cat([{', '.join(operands)}], dim=1)"

    def torch_statements(self, outputs: str) -> list[str]:
        return [f"return torch.cat({outputs}, dim=1)"]


MERGES: dict[str, Merge] = {merge.name: merge for merge in (
    Add("add", FieldRule.union, "convcalc.reference.ops.merge:add"),
    Concat("concat", FieldRule.union, "convcalc.reference.ops.merge:concat"),
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
