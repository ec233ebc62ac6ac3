"""Normalisation layers: ``batchnorm``."""

from __future__ import annotations

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
from convcalc.layers.worked import Worked, equation, number, product

__all__ = ["BatchNorm", "NormLayer"]


class BatchNorm(LayerSpec):
    """Batch normalisation over channels, in inference form ``x·a + b`` (2 FLOPs an element).

    Params ``2·C`` (γ, β) as PyTorch counts them; ``2·C`` non-trainable running
    statistics (mean, variance) as Keras counts them.
    """

    family: ClassVar[LayerFamily] = LayerFamily.norm
    reference_op: ClassVar[str] = "convcalc.reference.ops.norm:batchnorm"
    type: TypeField[Literal["batchnorm"]]
    eps: Real = Field(1e-5, gt=0, description=(
        "Added to the variance before its square root: a finite number above 0 (an "
        "infinite eps would divide every input away)."))

    def apply(self, shape: Shape) -> Step:
        channels = shape[0]
        cost = Cost(params=2 * channels, non_trainable_params=2 * channels,
                    flops=2 * numel(shape))
        return Step(shape, cost)

    def explain(self, shape: Shape) -> Worked:
        params = number(2) * number(shape[0])
        lines = [equation("params", params, "γ and β per channel"),
                 equation("non-trainable", params, "running mean and variance")]
        return Worked(lines, shape, params.value, params.value,
                      flops=number(2) * product(list(shape)),
                      flops_note="inference form x·a + b: a multiply and an add per element")

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.BatchNorm*d`` by the input's rank (``nn.BatchNorm1d`` on a flat one)."""
        rank = max(len(shape) - 1, 1)
        return TorchLeaf(call(f"nn.BatchNorm{rank}d", shape[0],
                              eps=self.eps if self.eps != 1e-5 else None))


NormLayer = BatchNorm
"""This family's layer classes, in the order they are defined; the union of every layer
type (convcalc.layers.containers.Layer) is made of these."""
