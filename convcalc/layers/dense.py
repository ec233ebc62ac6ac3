"""Fully connected layers and reshaping to them: ``linear`` and ``flatten``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from convcalc.common import shape_text
from convcalc.errors import LayerError
from convcalc.layers.backward import INPUT, VIEW, Backward, Saved
from convcalc.layers.base import (
    Bias,
    Cost,
    LayerFamily,
    LayerSpec,
    Shape,
    Size,
    Step,
    TypeField,
    numel,
)
from convcalc.layers.torch_source import TorchLeaf, call
from convcalc.layers.worked import Worked, equation, number, product, weight_note

__all__ = ["DenseLayer", "Flatten", "Linear"]


class Linear(LayerSpec):
    """A fully connected layer on a flat input ``[C]``: params ``C·units (+ units)``."""

    family: ClassVar[LayerFamily] = LayerFamily.dense
    reference_op: ClassVar[str] = "convcalc.reference.ops.dense:linear"
    type: TypeField[Literal["linear"]]
    units: Size = Field(description="Output features.")
    bias: Bias = True

    def resolve(self, shape: Shape) -> int:
        """Return the input features, or raise if the input is not flat."""
        if len(shape) != 1:
            raise LayerError(
                f"linear needs a flat input [features], got {shape_text(shape)}; "
                f"add '- flatten' (→ {numel(shape)}) or a global pooling layer before it"
            )
        return shape[0]

    def apply(self, shape: Shape) -> Step:
        macs = self.resolve(shape) * self.units
        biases = self.units if self.bias else 0
        cost = Cost(params=macs + biases, macs=macs, flops=2 * macs + biases,
                    bias_params=biases)
        return Step((self.units,), cost, None)

    def explain(self, shape: Shape) -> Worked:
        macs = number(self.resolve(shape)) * number(self.units)
        params = macs + number(self.units) if self.bias else macs
        return Worked([equation("params", params)], (self.units,), params.value, macs=macs,
                      flops=number(self.units) if self.bias else None,
                      flops_note=weight_note(self.bias))

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return dX and dW, each the forward's ``C·units`` MACs (a matrix product each),
        the bias gradient's adds (one per unit), and the input kept for dW."""
        macs = number(self.resolve(shape)) * number(self.units)
        return Backward(macs if input_grad else None, macs,
                        number(self.units) if self.bias else None,
                        "one add per unit for the bias gradient" if self.bias else "",
                        (Saved(INPUT, shape),))

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.Linear`` from the input features to the units."""
        return TorchLeaf(call("nn.Linear", self.resolve(shape), self.units,
                              bias=None if self.bias else False))


class Flatten(LayerSpec):
    """Flatten channels and positions into one feature axis: ``[C·∏W]``."""

    family: ClassVar[LayerFamily] = LayerFamily.dense
    reference_op: ClassVar[str] = "convcalc.reference.ops.dense:flatten"
    type: TypeField[Literal["flatten"]]

    def apply(self, shape: Shape) -> Step:
        return Step((numel(shape),), Cost(), None if len(shape) > 1 else ())

    def explain(self, shape: Shape) -> Worked:
        out = product(list(shape))
        return Worked([equation("out", out) + " (C·∏W)"], (out.value,))

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return a view's backward: nothing kept or computed. Flattening a channel slice is
        a view too: its channels and positions stay evenly strided, so merging them needs
        no copy."""
        return VIEW

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.Flatten``, which keeps the batch dim."""
        return TorchLeaf(call("nn.Flatten"))


DenseLayer = Linear | Flatten
"""This family's layer classes, in the order they are defined; the union of every layer
type (convcalc.layers.containers.Layer) is made of these."""
