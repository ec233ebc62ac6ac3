"""Pooling: ``maxpool``, ``avgpool``, ``adaptive_*pool`` and ``global_*pool``.

PyTorch pads a pool symmetrically, by at most half its kernel, and its ``ceil_mode`` drops
a last window that starts in the right padding by that symmetric padding only; where
convcalc's padding goes past that, the export writes the padding as a module before the
pool, in floor mode over enough extra padding on the right to give convcalc's size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StrictBool

from convcalc.common import dim_names, shape_text
from convcalc.errors import LayerError
from convcalc.geometry import AdaptiveMap, adaptive_window_total
from convcalc.layers.backward import INPUT, Backward, Saved
from convcalc.layers.base import (
    Cost,
    Dilation,
    Dims,
    Kernel,
    LayerFamily,
    LayerSpec,
    Padding,
    Shape,
    Step,
    TypeField,
    WindowPadding,
    numel,
    per_dim,
    spatial,
)
from convcalc.layers.torch_source import TorchHelper, TorchLeaf, call, ints, torch_padding
from convcalc.layers.window import Window, resolve_window
from convcalc.layers.worked import Term, Worked, lines_per_dim, number, product, window_lines

__all__ = ["AdaptiveBins", "AdaptivePool", "AvgPool", "GlobalPool", "MaxPool", "PoolLayer"]

PoolStride = Annotated[Dims | None, Field(
    description="Step between windows: one int, or one per dimension; default the kernel.")]
CeilMode = Annotated[StrictBool, Field(
    description="Round the output size up (PyTorch's ceil_mode); a last window that would "
                "start in the right padding is dropped.")]


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


def _explicit_padding(window: Window, explicit: bool = False) -> list[tuple[int, int]] | None:
    """Return None when PyTorch's own pool padding gives convcalc's output, else explicit pads.

    PyTorch pads symmetrically, at most half the (undilated) kernel. Otherwise (or when
    ``explicit``) the pads are (before, after + extra) per dim, the extra making floor mode
    reach convcalc's ceil-mode size.
    """
    own = all(before == after and 2 * before <= k for (before, after), k
              in zip(window.pads, window.kernel, strict=True))
    if own and not explicit:
        return None
    pads = []
    for size, k, s, d, (before, after), n in zip(window.dims, window.kernel, window.stride,
                                                 window.dilation, window.pads, window.out,
                                                 strict=True):
        padded, extent = size + before + after, d * (k - 1) + 1
        floor_count = (padded - extent) // s + 1
        extra = (n - 1) * s + extent - padded if n > floor_count else 0
        pads.append((before, after + extra))
    return pads


def elementwise_with(flops: Term, note: str, saved: tuple[Saved, ...]) -> Backward:
    """Return a pool's backward: ``flops`` for the input gradient, ``saved`` kept."""
    return Backward(flops=flops, flops_note=note, saved=saved)


def _kept_input(shape: Shape, window: Window, explicit: bool = False) -> Saved:
    """Return the input a pool keeps for its backward: the input itself, or, where
    PyTorch's pool cannot hold the padding (``_explicit_padding``), the padded copy a pad
    before the pool makes (its (before, after) padding)."""
    if _explicit_padding(window, explicit) is None:
        return Saved(INPUT, shape)
    return Saved("padded input", (shape[0], *(size + before + after for size, (before, after)
                                              in zip(shape[1:], window.pads, strict=True))))


_PADDED_AVG_POOL = TorchHelper("PaddedAvgPool", '''
class PaddedAvgPool(nn.Module):
    """Average pooling over explicit padding (F.pad's order, last dim first).

    Each window's sum is divided by how many of its positions count: the input's, and the
    ``counted`` padding's; the rest of ``padding`` only lets the last window fit.
    """

    def __init__(
        self, pool: nn.Module, padding: tuple[int, ...], counted: tuple[int, ...]
    ) -> None:
        super().__init__()
        self.pool = pool
        self.padding = padding
        self.counted = counted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ones = F.pad(torch.ones_like(x[:1, :1]), self.counted, value=1.0)
        rest = [total - counted for total, counted in zip(self.padding, self.counted)]
        return self.pool(F.pad(x, self.padding)) / self.pool(F.pad(ones, rest))

    def extra_repr(self) -> str:
        return f"padding={self.padding}, counted={self.counted}"
''', ("import torch.nn.functional as F",))
"""The exported file's average pool over explicit padding, with PyTorch's divisor."""


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
        lines.append(f"stride = kernel = {shape_text(window.kernel)} (pooling's "
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
    type: TypeField[Literal["maxpool"]]
    kernel: Kernel
    stride: PoolStride = None
    padding: WindowPadding = 0
    dilation: Dilation = 1
    ceil_mode: CeilMode = False

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

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return one add per output element (each gradient goes back to its window's
        maximum), the input and the int64 indices of the maxima kept."""
        window = self.resolve(shape)
        out = (shape[0], *window.out)
        return Backward(flops=product(list(out)),
                        flops_note="one add per output, into its maximum's place",
                        saved=(_kept_input(shape, window), Saved("indices", out, "int64")))

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.MaxPool*d``; padding it cannot hold is a −inf pad module before it.

        −inf is what a max pool's own padding means: it never wins a window.
        """
        window = self.resolve(shape)
        rank = len(window.dims)
        explicit = _explicit_padding(window)
        padding = tuple(before for before, _ in window.pads)
        module = call(
            f"nn.MaxPool{rank}d", ints(window.kernel),
            stride=ints(window.stride) if window.stride != window.kernel else None,
            padding=ints(padding) if explicit is None and any(padding) else None,
            dilation=ints(window.dilation) if any(d != 1 for d in window.dilation) else None,
            ceil_mode=True if explicit is None and self.ceil_mode else None,
        )
        if explicit is None:
            return TorchLeaf(module)
        return TorchLeaf(module, call(f"nn.ConstantPad{rank}d", torch_padding(explicit),
                                      float("-inf")))


class AvgPool(LayerSpec):
    """Average pooling; ``stride`` defaults to the kernel. ``ceil_mode`` follows PyTorch.

    FLOPs: ``∏K − 1`` adds and one divide per output element.
    """

    family: ClassVar[LayerFamily] = LayerFamily.pool
    reference_op: ClassVar[str] = "convcalc.reference.ops.pool:avg_pool"
    type: TypeField[Literal["avgpool"]]
    kernel: Kernel
    stride: PoolStride = None
    padding: WindowPadding = 0
    ceil_mode: CeilMode = False
    count_include_pad: StrictBool = Field(
        True, description="Whether the padding counts in each window's divisor.")

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

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return ∏K FLOPs per output element (its gradient divided and spread over its
        window), the input kept (PyTorch's kernel reads its size from it)."""
        window = self.resolve(shape)
        out = (shape[0], *window.out)
        small = len(window.dims) == 3 and any(size < k for size, k in zip(
            window.dims, window.kernel, strict=True))
        return Backward(flops=product(list(out)) * product(window.kernel).group(),
                        flops_note="∏K per output: its share to every tap of its window",
                        saved=(_kept_input(shape, window, small),))

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.AvgPool*d``, or ``PaddedAvgPool`` around it over explicit padding.

        Over explicit padding each window's sum is divided by the positions it counts (the
        input, plus the padding with ``count_include_pad``), as PyTorch's divisor does; with
        ``count_include_pad`` and no extra padding a zero pad module before a plain average
        pool does it.
        """
        window = self.resolve(shape)
        rank = len(window.dims)
        # AvgPool3d alone refuses an input smaller than its kernel, padding or not.
        small = rank == 3 and any(size < k for size, k in zip(window.dims, window.kernel,
                                                              strict=True))
        explicit = _explicit_padding(window, explicit=small)
        padding = tuple(before for before, _ in window.pads)
        own = explicit is None
        module = call(
            f"nn.AvgPool{rank}d", ints(window.kernel),
            stride=ints(window.stride) if window.stride != window.kernel else None,
            padding=ints(padding) if own and any(padding) else None,
            ceil_mode=True if own and self.ceil_mode else None,
            count_include_pad=False if own and any(padding) and not self.count_include_pad
            else None,
        )
        if explicit is None:
            return TorchLeaf(module)
        if self.count_include_pad and list(explicit) == list(window.pads):
            return TorchLeaf(module, call(f"nn.ZeroPad{rank}d", torch_padding(explicit)))
        counted = window.pads if self.count_include_pad else [(0, 0)] * rank
        return TorchLeaf(call("PaddedAvgPool", module, padding=torch_padding(explicit),
                              counted=torch_padding(counted)), helper=_PADDED_AVG_POOL)


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
    type: TypeField[Literal["adaptive_avgpool", "adaptive_maxpool"]]
    output: Dims = Field(description="Output size: one int, or one per dimension.")

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

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return the average's share spread over every element read, or one add per
        output for the maximum; kept: the input (average to any size above 1; to size 1
        PyTorch takes a mean, which keeps nothing), or the input and the int64 indices
        (maximum)."""
        bins = self.resolve(shape)
        out = (shape[0], *bins.out)
        if self.type == "adaptive_maxpool":
            return elementwise_with(product(list(out)), "one add per output, into its "
                                    "maximum's place",
                                    (Saved(INPUT, shape), Saved("indices", out, "int64")))
        kept = () if all(size == 1 for size in bins.out) else (Saved(INPUT, shape),)
        return elementwise_with(product([shape[0], *bins.read]),
                                "one per element read: its window's share", kept)

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.AdaptiveAvgPool*d`` or ``nn.AdaptiveMaxPool*d`` to the output size."""
        bins = self.resolve(shape)
        kind = "Avg" if self.type == "adaptive_avgpool" else "Max"
        return TorchLeaf(call(f"nn.Adaptive{kind}Pool{len(bins.dims)}d", ints(bins.out)))


class GlobalPool(LayerSpec):
    """Global pooling over all spatial positions: output shape ``[C]``.

    FLOPs per channel: ``∏W`` for average (adds and a divide), ``∏W − 1`` for max.
    """

    family: ClassVar[LayerFamily] = LayerFamily.pool
    reference_ops: ClassVar[Mapping[str, str]] = {
        "global_avgpool": "convcalc.reference.ops.pool:global_avg_pool",
        "global_maxpool": "convcalc.reference.ops.pool:global_max_pool",
    }
    type: TypeField[Literal["global_avgpool", "global_maxpool"]]

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

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return the average's share to every position (nothing kept: PyTorch takes a
        mean), or one add per channel into its maximum's place (the input and the int64
        indices kept)."""
        positions = product(list(self.resolve(shape)))
        if self.type == "global_maxpool":
            return elementwise_with(number(shape[0]), "one add per channel, into its "
                                    "maximum's place",
                                    (Saved(INPUT, shape), Saved("indices", (shape[0],),
                                                                "int64")))
        return elementwise_with(number(shape[0]) * positions,
                                "its channel's share to every position", ())

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return an adaptive pool to 1 followed by ``nn.Flatten``, giving [N, C]."""
        rank = len(self.resolve(shape))
        kind = "Avg" if self.type == "global_avgpool" else "Max"
        return TorchLeaf(call("nn.Sequential", call(f"nn.Adaptive{kind}Pool{rank}d", 1),
                              call("nn.Flatten")))


PoolLayer = MaxPool | AvgPool | AdaptivePool | GlobalPool
"""This family's layer classes, in the order they are defined; the union of every layer
type (convcalc.layers.containers.Layer) is made of these."""
