"""Layers that change the spatial size without weights: ``pad`` and ``upsample``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from convcalc.errors import LayerError
from convcalc.geometry import ResampleMap, ShiftMap
from convcalc.layers.backward import PASS_THROUGH, VIEW, Backward
from convcalc.layers.base import (
    MAX_SIZE,
    Cost,
    Dims,
    LayerFamily,
    LayerSpec,
    NonNegative,
    Shape,
    Step,
    TypeField,
    numel,
    per_dim,
    resolve_padding,
    spatial,
)
from convcalc.layers.torch_source import TorchLeaf, call, ints, torch_padding
from convcalc.layers.worked import Worked, lines_per_dim, number, product

__all__ = ["Pad", "ResampleLayer", "Upsample", "UpsampleSizes"]


@dataclass(frozen=True)
class UpsampleSizes:
    """An upsampling resolved against one input shape, per spatial dim.

    Attributes:
        dims: input spatial sizes.
        scale: the factors, or None when a size was given.
        out: output spatial sizes.
    """

    dims: Shape
    scale: tuple[int, ...] | None
    out: Shape


class Pad(LayerSpec):
    """Zero padding: one int, one per dim, or (before, after) per dim."""

    family: ClassVar[LayerFamily] = LayerFamily.resample
    reference_op: ClassVar[str] = "convcalc.reference.ops.resample:pad"
    type: TypeField[Literal["pad"]]
    padding: (NonNegative | tuple[NonNegative, ...]
              | tuple[tuple[NonNegative, NonNegative], ...]) = Field(
        description="Zeros to add: one int, one per dimension [1, 2], or (before, after) per "
                    "dimension [[0, 1], [0, 1]].")

    def resolve(self, shape: Shape) -> tuple[tuple[int, int], ...]:
        """Return (before, after) per spatial dim of ``shape``, or raise if they misfit."""
        dims = spatial(shape, "pad")
        ones = (1,) * len(dims)
        return resolve_padding(self.padding, dims, ones, ones, ones)

    def apply(self, shape: Shape) -> Step:
        dims = shape[1:]
        pads = self.resolve(shape)
        out = (shape[0], *(d + b + a for d, (b, a) in zip(dims, pads, strict=True)))
        return Step(out, Cost(), tuple(ShiftMap(b) for b, _ in pads))

    def explain(self, shape: Shape) -> Worked:
        pads = self.resolve(shape)
        sizes = [number(w) + number(b) + number(a)
                 for w, (b, a) in zip(shape[1:], pads, strict=True)]
        lines = lines_per_dim(len(sizes), lambda i: [
            f"out = {sizes[i].text} = {sizes[i].value}"])
        return Worked(lines, (shape[0], *(size.value for size in sizes)))

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return a copy's backward: the gradient cropped back, nothing kept; no padding
        at all is the identity."""
        if not any(before or after for before, after in self.resolve(shape)):
            return VIEW
        return PASS_THROUGH

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.ZeroPad*d`` with the (before, after) pads, last dim first."""
        pads = self.resolve(shape)
        return TorchLeaf(call(f"nn.ZeroPad{len(pads)}d", torch_padding(pads)))


class Upsample(LayerSpec):
    """Upsampling by an integer ``scale`` or to a ``size``, nearest or linear.

    ``linear`` is bilinear in 2-D and trilinear in 3-D, with ``align_corners=False``.
    FLOPs: none for nearest; for linear, ``2^r`` multiplies and ``2^r − 1`` adds per output
    element in ``r`` spatial dims.
    """

    family: ClassVar[LayerFamily] = LayerFamily.resample
    reference_op: ClassVar[str] = "convcalc.reference.ops.resample:upsample"
    type: TypeField[Literal["upsample"]]
    scale: Dims | None = Field(None, description="Integer upsampling factor: one int, or one "
                                                 "per dimension. Give scale or size.")
    size: Dims | None = Field(None, description="Output size: one int, or one per dimension. "
                                                "Give scale or size.")
    mode: Literal["nearest", "linear"] = Field("nearest", description=(
        "Nearest, or linear (bilinear in 2-D, trilinear in 3-D; align_corners=False)."))
    TORCH_LINEAR_MODES: ClassVar[dict[int, str]] = {1: "linear", 2: "bilinear", 3: "trilinear"}
    """PyTorch's name for ``mode: linear`` by the number of spatial dims."""

    @model_validator(mode="after")
    def _scale_or_size(self) -> Upsample:
        if (self.scale is None) == (self.size is None):
            raise ValueError("give exactly one of 'scale' (an int factor) or 'size'")
        return self

    def resolve(self, shape: Shape) -> UpsampleSizes:
        """Return the factors and sizes per dim for an input of ``shape``, or raise."""
        dims = spatial(shape, "upsample")
        rank = len(dims)
        if self.size is not None:
            return UpsampleSizes(dims, None, per_dim(self.size, rank, "size"))
        assert self.scale is not None  # the model validator asks for one of scale and size
        scale = per_dim(self.scale, rank, "scale")
        sizes = tuple(d * s for d, s in zip(dims, scale, strict=True))
        if max(sizes) > MAX_SIZE:
            raise LayerError(f"scale makes the output {sizes}, past the limit {MAX_SIZE}",
                             field_name="scale")
        return UpsampleSizes(dims, scale, sizes)

    def apply(self, shape: Shape) -> Step:
        sizes = self.resolve(shape)
        out = (shape[0], *sizes.out)
        rank = len(sizes.dims)
        flops = (2 ** (rank + 1) - 1) * numel(out) if self.mode == "linear" else 0
        maps = tuple(ResampleMap(d, s, self.mode == "linear")
                     for d, s in zip(sizes.dims, sizes.out, strict=True))
        return Step(out, Cost(flops=flops), maps)

    def explain(self, shape: Shape) -> Worked:
        resolved = self.resolve(shape)
        rank = len(resolved.dims)
        if resolved.scale is None:
            sizes = resolved.out
            lines = lines_per_dim(rank, lambda i: [f"out = {sizes[i]} (given size)"])
        else:
            scaled = [number(w) * number(s)
                      for w, s in zip(resolved.dims, resolved.scale, strict=True)]
            sizes = tuple(size.value for size in scaled)
            lines = lines_per_dim(rank, lambda i: [
                f"out = {scaled[i].text} = {scaled[i].value}"])
        out = (shape[0], *sizes)
        if self.mode == "nearest":
            lines.append("nearest: each output copies one input, no FLOPs")
            return Worked(lines, out)
        taps = 2**rank
        per = (number(taps) + number(taps - 1)).group()
        return Worked(lines, out, flops=per * product(list(out)),
                      flops_note=f"{taps} multiplies and {taps - 1} adds per output element, "
                                 "align_corners=False")

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return the interpolation run backwards: nearest adds each output's gradient
        into the input it copied (one add per output element), linear spreads it over
        its 2^rank neighbours with their weights (as many FLOPs as the forward); nothing
        kept (the sizes suffice)."""
        sizes = self.resolve(shape)
        out = product([shape[0], *sizes.out])
        if self.mode == "linear":
            taps = number(2 ** (len(sizes.dims) + 1) - 1)
            return Backward(flops=taps * out, flops_note="the forward's weights, run back")
        return Backward(flops=out, flops_note="one add per output element")

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.Upsample`` with the size or the factor as given; linear is
        ``linear``, ``bilinear`` or ``trilinear`` by rank, ``align_corners=False``."""
        resolved = self.resolve(shape)
        linear = self.mode == "linear"
        return TorchLeaf(call(
            "nn.Upsample",
            size=ints(resolved.out) if resolved.scale is None else None,
            scale_factor=ints(resolved.scale) if resolved.scale is not None else None,
            mode=self.TORCH_LINEAR_MODES[len(resolved.dims)] if linear else None,
            align_corners=False if linear else None,
        ))


ResampleLayer = Pad | Upsample
"""This family's layer classes, in the order they are defined; the union of every layer
type (convcalc.layers.containers.Layer) is made of these."""
