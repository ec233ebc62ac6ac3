"""Pooling: ``maxpool``, ``avgpool``, ``adaptive_*pool`` and ``global_*pool``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import StrictBool

from convcalc.errors import LayerError
from convcalc.geometry import AdaptiveMap, adaptive_window_total
from convcalc.layers.base import (
    Cost,
    Dims,
    LayerFamily,
    LayerSpec,
    Padding,
    Shape,
    Step,
    numel,
    per_dim,
    spatial,
)
from convcalc.layers.window import Window, dim_names, resolve_window
from convcalc.layers.worked import Worked, lines_per_dim, number, product, window_lines

__all__ = ["AdaptiveBins", "AdaptivePool", "AvgPool", "GlobalPool", "MaxPool"]


def _pool_window(
    shape: Shape, layer_type: str, kernel: Dims, stride: Dims | None, dilation: Dims,
    padding: Padding, ceil_mode: bool,
) -> Window:
    """Return the pooling window; explicit padding may be at most half the kernel.

    The limit is PyTorch's, ``padding ≤ ⌊K/2⌋`` on the kernel as written: PyTorch refuses
    a pool past it even when dilation widens the window.
    """
    window = resolve_window(shape, layer_type, kernel, kernel if stride is None else stride,
                            dilation, padding, ceil_mode)
    if padding != "same":
        for name, k, (before, after) in zip(dim_names(len(window.dims)), window.kernel,
                                             window.pads, strict=True):
            if 2 * max(before, after) > k:
                raise LayerError(
                    f"padding {max(before, after)} along {name} is more than half the "
                    f"kernel ({k}): a window could lie entirely in the padding; use "
                    "padding ≤ kernel/2",
                    field_name="padding",
                )
    return window


@dataclass(frozen=True)
class AdaptiveBins:
    """Adaptive pooling's windows resolved against one input shape, per spatial dim.

    Attributes:
        dims: input spatial sizes.
        out: output spatial sizes, as given.
        read: the summed length of the windows (inputs read, overlaps counted twice).
    """

    dims: Shape
    out: Shape
    read: tuple[int, ...]

    def index_maps(self) -> tuple[AdaptiveMap, ...]:
        """Return the receptive-field step of each spatial dim."""
        return tuple(AdaptiveMap(w, o) for w, o in zip(self.dims, self.out, strict=True))


def _pool_lines(window: Window, stride: Dims | None, padding: Padding,
                channels: int) -> tuple[list[str], Shape]:
    """Return a pool's output-size lines (its default stride first) and the shape they give."""
    lines = []
    if stride is None:
        lines.append(f"stride = kernel = {'×'.join(map(str, window.kernel))} (pooling's "
                     "default)")
    sizes, out = window_lines(window, padding == "same")
    lines += sizes
    lines.append(f"channels kept: {channels}")
    return lines, (channels, *out)


class MaxPool(LayerSpec):
    """Max pooling; ``stride`` defaults to the kernel. ``ceil_mode`` follows PyTorch.

    FLOPs: ``∏K − 1`` comparisons per output element.
    """

    family: ClassVar[LayerFamily] = LayerFamily.pool
    reference_op: ClassVar[str] = "convcalc.reference.ops.pool:max_pool"
    type: Literal["maxpool"]
    kernel: Dims
    stride: Dims | None = None
    padding: Padding = 0
    dilation: Dims = 1
    ceil_mode: StrictBool = False

    def window(self, shape: Shape) -> Window:
        """Return the pooling window resolved against an input of ``shape``."""
        return _pool_window(shape, "maxpool", self.kernel, self.stride, self.dilation,
                            self.padding, self.ceil_mode)

    def resolve(self, shape: Shape) -> Window:
        """Return the options per dim for an input of ``shape``: the pooling window."""
        return self.window(shape)

    def apply(self, shape: Shape) -> Step:
        window = self.resolve(shape)
        out = (shape[0], *window.out)
        cost = Cost(flops=numel(out) * (math.prod(window.kernel) - 1))
        empty = [f"{note}: max pooling gives −∞ there" for note in
                 window.padding_only_windows()]
        return Step(out, cost, window.index_maps(), (*window.warnings(), *empty))

    def explain(self, shape: Shape) -> Worked:
        window = self.resolve(shape)
        lines, out = _pool_lines(window, self.stride, self.padding, shape[0])
        kernel = product(window.kernel)
        return Worked(lines, out, flops=product(list(out)) * (kernel - number(1)).group(),
                      flops_note="∏K − 1 comparisons per output")


class AvgPool(LayerSpec):
    """Average pooling; ``stride`` defaults to the kernel. ``ceil_mode`` follows PyTorch.

    FLOPs: ``∏K − 1`` adds and one divide per output element.
    """

    family: ClassVar[LayerFamily] = LayerFamily.pool
    reference_op: ClassVar[str] = "convcalc.reference.ops.pool:avg_pool"
    type: Literal["avgpool"]
    kernel: Dims
    stride: Dims | None = None
    padding: Padding = 0
    ceil_mode: StrictBool = False
    count_include_pad: StrictBool = True

    def window(self, shape: Shape) -> Window:
        """Return the pooling window resolved against an input of ``shape``."""
        return _pool_window(shape, "avgpool", self.kernel, self.stride, 1, self.padding,
                            self.ceil_mode)

    def resolve(self, shape: Shape) -> Window:
        """Return the options per dim for an input of ``shape``: the pooling window."""
        return self.window(shape)

    def apply(self, shape: Shape) -> Step:
        window = self.resolve(shape)
        out = (shape[0], *window.out)
        cost = Cost(flops=numel(out) * math.prod(window.kernel))
        # No average window lies wholly in padding: without dilation, padding ≤ K/2 leaves
        # every window a tap on the input (and ceil mode drops one starting in the padding).
        return Step(out, cost, window.index_maps(), tuple(window.warnings()))

    def explain(self, shape: Shape) -> Worked:
        window = self.resolve(shape)
        lines, out = _pool_lines(window, self.stride, self.padding, shape[0])
        kernel = product(window.kernel)
        taps = kernel.group() if len(window.kernel) > 1 else kernel
        return Worked(lines, out, flops=product(list(out)) * taps,
                      flops_note="∏K − 1 adds and a divide per output")


class AdaptivePool(LayerSpec):
    """Adaptive pooling to a fixed ``output`` size, with PyTorch's window placement.

    Window ``o`` spans ``[floor(o·W/out), ceil((o+1)·W/out))``. FLOPs: for average, one
    operation per element of every window (adds, then one divide); for max, one comparison
    per element of every window but the first.
    """

    family: ClassVar[LayerFamily] = LayerFamily.pool
    reference_ops: ClassVar[Mapping[str, str]] = {
        "adaptive_avgpool": "convcalc.reference.ops.pool:adaptive_avg_pool",
        "adaptive_maxpool": "convcalc.reference.ops.pool:adaptive_max_pool",
    }
    type: Literal["adaptive_avgpool", "adaptive_maxpool"]
    output: Dims

    def resolve(self, shape: Shape) -> AdaptiveBins:
        """Return the windows per dim for an input of ``shape``, or raise if it is flat."""
        dims = spatial(shape, self.type)
        sizes = per_dim(self.output, len(dims), "output")
        read = tuple(adaptive_window_total(w, o) for w, o in zip(dims, sizes, strict=True))
        return AdaptiveBins(dims, sizes, read)

    def apply(self, shape: Shape) -> Step:
        bins = self.resolve(shape)
        out = (shape[0], *bins.out)
        read = shape[0] * math.prod(bins.read)
        flops = read if self.type == "adaptive_avgpool" else read - numel(out)
        return Step(out, Cost(flops=flops), bins.index_maps())

    def explain(self, shape: Shape) -> Worked:
        bins = self.resolve(shape)
        maps = bins.index_maps()

        def lines(i: int) -> list[str]:
            w, o = bins.dims[i], bins.out[i]
            if w % o == 0:
                return [f"out = {o} (given); window = stride = {w}/{o} = {w // o}"]
            lengths = [hi - lo + 1 for lo, hi in map(maps[i].span, range(min(o, 8)))]
            shown = ", ".join(map(str, lengths)) + (", …" if o > 8 else "")
            return [f"out = {o} (given); {w}/{o} is not whole, so the windows "
                    f"[⌊o·{w}/{o}⌋, ⌈(o+1)·{w}/{o}⌉) have {shown} inputs (PyTorch's "
                    "placement)"]

        body = lines_per_dim(len(bins.dims), lines)
        read = product([shape[0], *bins.read])
        out = (shape[0], *bins.out)
        if self.type == "adaptive_avgpool":
            return Worked(body, out, flops=read,
                          flops_note="one operation per element read: adds, then a divide")
        return Worked(body, out, flops=read - product(list(out)),
                      flops_note="elements read less one per window: comparisons")


class GlobalPool(LayerSpec):
    """Global pooling over all spatial positions: output shape ``[C]``.

    FLOPs per channel: ``∏W`` for average (adds and a divide), ``∏W − 1`` for max.
    """

    family: ClassVar[LayerFamily] = LayerFamily.pool
    reference_ops: ClassVar[Mapping[str, str]] = {
        "global_avgpool": "convcalc.reference.ops.pool:global_avg_pool",
        "global_maxpool": "convcalc.reference.ops.pool:global_max_pool",
    }
    type: Literal["global_avgpool", "global_maxpool"]

    def resolve(self, shape: Shape) -> Shape:
        """Return the spatial dims pooled over, or raise if the input is flat."""
        return spatial(shape, self.type)

    def apply(self, shape: Shape) -> Step:
        dims = self.resolve(shape)
        per_channel = math.prod(dims) - (self.type == "global_maxpool")
        return Step((shape[0],), Cost(flops=shape[0] * per_channel), None)

    def explain(self, shape: Shape) -> Worked:
        positions = product(list(self.resolve(shape)))
        lines = [f"out = C = {shape[0]} (one value per channel)"]
        if self.type == "global_avgpool":
            return Worked(lines, (shape[0],), flops=number(shape[0]) * positions,
                          flops_note="adds and a divide per channel")
        return Worked(lines, (shape[0],), flops=number(shape[0]) * (positions - number(1)).group(),
                      flops_note="comparisons")
