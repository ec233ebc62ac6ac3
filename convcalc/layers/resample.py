"""Layers that change the spatial size without weights: ``pad`` and ``upsample``."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from convcalc.errors import LayerError
from convcalc.geometry import ResampleMap, ShiftMap
from convcalc.layers.base import (
    MAX_SIZE,
    Cost,
    Dims,
    LayerSpec,
    NonNegative,
    Shape,
    Step,
    numel,
    per_dim,
    resolve_padding,
    spatial,
)

__all__ = ["Pad", "Upsample"]


class Pad(LayerSpec):
    """Zero padding: one int, one per dim, or (before, after) per dim."""

    type: Literal["pad"]
    padding: NonNegative | tuple[NonNegative, ...] | tuple[tuple[NonNegative, NonNegative], ...]

    def apply(self, shape: Shape) -> Step:
        dims = spatial(shape, "pad")
        ones = (1,) * len(dims)
        pads = resolve_padding(self.padding, dims, ones, ones, ones)
        out = (shape[0], *(d + b + a for d, (b, a) in zip(dims, pads, strict=True)))
        return Step(out, Cost(), tuple(ShiftMap(b) for b, _ in pads))


class Upsample(LayerSpec):
    """Upsampling by an integer ``scale`` or to a ``size``, nearest or linear.

    ``linear`` is bilinear in 2-D and trilinear in 3-D, with ``align_corners=False``.
    FLOPs: none for nearest; for linear, ``2^r`` multiplies and ``2^r − 1`` adds per output
    element in ``r`` spatial dims.
    """

    type: Literal["upsample"]
    scale: Dims | None = None
    size: Dims | None = None
    mode: Literal["nearest", "linear"] = "nearest"

    @model_validator(mode="after")
    def _scale_or_size(self) -> Upsample:
        if (self.scale is None) == (self.size is None):
            raise ValueError("give exactly one of 'scale' (an int factor) or 'size'")
        return self

    def apply(self, shape: Shape) -> Step:
        dims = spatial(shape, "upsample")
        rank = len(dims)
        if self.size is not None:
            sizes = per_dim(self.size, rank, "size")
        else:
            sizes = tuple(d * s for d, s in zip(dims, per_dim(self.scale, rank, "scale"),  # type: ignore[arg-type]
                                                 strict=True))
            if max(sizes) > MAX_SIZE:
                raise LayerError(f"scale makes the output {sizes}, past the limit {MAX_SIZE}",
                                 field_name="scale")
        out = (shape[0], *sizes)
        flops = (2 ** (rank + 1) - 1) * numel(out) if self.mode == "linear" else 0
        maps = tuple(ResampleMap(d, s, self.mode == "linear") for d, s in zip(dims, sizes,
                                                                              strict=True))
        return Step(out, Cost(flops=flops), maps)
