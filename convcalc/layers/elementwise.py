"""Layers that act on each element alone: dropout and activations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field

from convcalc.layers.base import (
    Cost,
    LayerFamily,
    LayerSpec,
    Real,
    Shape,
    Step,
    TypeField,
    numel,
)
from convcalc.layers.torch_source import TorchLeaf, call
from convcalc.layers.worked import Worked, number, product

__all__ = ["Activation", "Dropout", "ElementwiseLayer", "LeakyRelu"]


class Dropout(LayerSpec):
    """Dropout: the identity at inference, so no FLOPs are counted."""

    family: ClassVar[LayerFamily] = LayerFamily.elementwise
    reference_op: ClassVar[str] = "convcalc.reference.ops.elementwise:identity"
    type: TypeField[Literal["dropout"]]
    # A probability below 1 (p = 1 zeroes everything); finite by Real, so never .nan.
    p: Real = Field(0.5, ge=0, lt=1, description=(
        "Probability of zeroing an element while training, at least 0 and below 1; the "
        "identity at inference."))

    def apply(self, shape: Shape) -> Step:
        return Step(shape)

    def explain(self, shape: Shape) -> Worked:
        return Worked(["the identity at inference: out = in, no FLOPs"], shape)

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.Dropout``, ``p`` written where it is not PyTorch's 0.5."""
        return TorchLeaf(call("nn.Dropout", p=self.p if self.p != 0.5 else None))


class Activation(LayerSpec):
    """An elementwise non-linearity, or softmax over the channels.

    FLOPs: one per element (the cost of evaluating exp, erf or tanh is not modelled),
    none for ``identity``, three per element for ``softmax`` (exp, sum, divide).
    """

    family: ClassVar[LayerFamily] = LayerFamily.elementwise
    reference_ops: ClassVar[Mapping[str, str]] = {
        name: f"convcalc.reference.ops.elementwise:{name}" for name in (
            "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish", "softmax",
            "identity",
        )
    }
    FLOPS_PER_ELEMENT: ClassVar[dict[str, int]] = {"identity": 0, "softmax": 3}
    TORCH_MODULES: ClassVar[dict[str, str]] = {
        "relu": "nn.ReLU", "relu6": "nn.ReLU6", "gelu": "nn.GELU", "silu": "nn.SiLU",
        "sigmoid": "nn.Sigmoid", "tanh": "nn.Tanh", "hardswish": "nn.Hardswish",
        "softmax": "nn.Softmax", "identity": "nn.Identity",
    }
    type: TypeField[Literal["relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish",
                            "softmax", "identity"]]

    def apply(self, shape: Shape) -> Step:
        per_element = self.FLOPS_PER_ELEMENT.get(self.type, 1)
        return Step(shape, Cost(flops=per_element * numel(shape)))

    def explain(self, shape: Shape) -> Worked:
        per_element = self.FLOPS_PER_ELEMENT.get(self.type, 1)
        if per_element == 0:
            return Worked(["the identity: out = in, no FLOPs"], shape)
        if per_element == 1:
            return Worked([], shape, flops=product(list(shape)), flops_note="one per element")
        return Worked([], shape, flops=number(per_element) * product(list(shape)),
                      flops_note="exp, sum and divide per element")

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return the activation's module; softmax is over the channels, ``dim=1``."""
        return TorchLeaf(call(self.TORCH_MODULES[self.type],
                              dim=1 if self.type == "softmax" else None))


class LeakyRelu(LayerSpec):
    """Leaky ReLU, ``max(x, a·x)``: one operation per element."""

    family: ClassVar[LayerFamily] = LayerFamily.elementwise
    reference_op: ClassVar[str] = "convcalc.reference.ops.elementwise:leaky_relu"
    type: TypeField[Literal["leaky_relu"]]
    negative_slope: Real = Field(0.01, description=(
        "Slope for negative inputs: a finite number (an infinite slope gives 0·∞, not a "
        "number, at zero)."))

    def apply(self, shape: Shape) -> Step:
        return Step(shape, Cost(flops=numel(shape)))

    def explain(self, shape: Shape) -> Worked:
        return Worked([], shape, flops=product(list(shape)), flops_note="one per element")

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.LeakyReLU``, the slope written where it is not PyTorch's 0.01."""
        slope = self.negative_slope
        return TorchLeaf(call("nn.LeakyReLU", negative_slope=slope if slope != 0.01 else None))


ElementwiseLayer = Dropout | Activation | LeakyRelu
"""This family's layer classes, in the order they are defined; the union of every layer
type (convcalc.layers.containers.Layer) is made of these."""
