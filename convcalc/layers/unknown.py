"""A layer convcalc does not know: ``unknown``, the row an imported operator becomes.

``convcalc net model.onnx --allow-unknown`` imports each node of an operator convcalc has
no rule for as one ``unknown`` row: its output shape is the one the file gives, and it
counts nothing, so every total it is part of is a lower bound. The row is marked
(``"unknown": true`` in the JSON, ``totals.lower_bound``), the receptive field is not
tracked past it (its windows are not known), and ``verify`` and ``export`` refuse it: a
run or a module for an operation whose rules are not known would be made up.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, Strict
from pydantic_core import PydanticCustomError

from convcalc.common import shape_text
from convcalc.errors import LayerError
from convcalc.layers.base import LayerFamily, LayerSpec, Shape, Size, Step, TypeField
from convcalc.layers.torch_source import TorchLeaf
from convcalc.layers.worked import Worked

__all__ = ["OP_PATTERN", "Unknown", "UnknownLayer"]

OP_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$"
"""An operator's name: an ONNX op type, optionally domain-qualified (``com.acme:Frobnicate``)."""


def _op_name(value: Any) -> Any:
    """Refuse an operator name that is not one, saying what one is."""
    if not re.fullmatch(OP_PATTERN, value):
        raise PydanticCustomError("op_name", "Input should be an operator name: up to 200 "
                                             "ASCII letters, digits and _ . : -, starting "
                                             "with a letter or _")
    return value


class Unknown(LayerSpec):
    """An operation convcalc has no rule for, counted as zero: its output shape is given.

    Its parameters, MACs and FLOPs are not known and are counted 0, so the report's totals
    are lower bounds; the receptive field is untracked from this row on.
    """

    family: ClassVar[LayerFamily] = LayerFamily.unknown
    reference_op: ClassVar[str] = "convcalc.reference.ops.unknown:unknown"
    type: TypeField[Literal["unknown"]]
    op: Annotated[str, Strict(), AfterValidator(_op_name), Field(description=(
        "The operator it stands for, as the model file names it (an ONNX op type such as "
        "Frobnicate); shown in the report and in the refusals of verify and export."))]
    output: Annotated[tuple[Size, ...], Field(min_length=1, max_length=4, description=(
        "Its output shape without the batch, channels first, as the model file gives it: "
        "[C], [C, L], [C, H, W] or [C, D, H, W]."))]

    def resolve(self, shape: Shape) -> Shape:
        """Return the output shape: the one written, whatever the input (it is not known how
        the operator maps one to the other)."""
        return tuple(self.output)

    def apply(self, shape: Shape) -> Step:
        return Step(self.resolve(shape), known=False)

    def explain(self, shape: Shape) -> Worked:
        out = self.resolve(shape)
        return Worked([
            f"operator {self.op} is not known to convcalc: out = {shape_text(out)} as the model "
            "file gives it",
            "its parameters, MACs and FLOPs are not known and are counted as 0: the totals "
            "are lower bounds",
            "the receptive field is not tracked past it",
        ], out)

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Refuse: there is no module for an operator whose rules are not known."""
        raise LayerError(
            f"export cannot write operator {self.op}: convcalc does not know what it computes "
            "(an unknown row); replace the row with the layers it stands for")


UnknownLayer = Unknown
"""This family's layer classes (one); the union of every layer type
(convcalc.layers.containers.Layer) is made of these."""
