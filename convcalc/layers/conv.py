"""Convolutions: ``conv`` and ``conv_transpose``, in 1-D, 2-D and 3-D by the input's rank."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from convcalc.common import dim_names
from convcalc.errors import LayerError
from convcalc.geometry import TransposedWindowMap, transposed_output_size
from convcalc.layers.backward import INPUT, Backward, Saved
from convcalc.layers.base import (
    Bias,
    Cost,
    Dilation,
    Kernel,
    LayerFamily,
    LayerSpec,
    NonNegative,
    Shape,
    Size,
    Step,
    Stride,
    TypeField,
    WindowPadding,
    numel,
    per_dim,
    spatial,
)
from convcalc.layers.torch_source import TorchLeaf, call, ints, torch_padding
from convcalc.layers.window import Window, resolve_window
from convcalc.layers.worked import (
    Term,
    Worked,
    equation,
    lines_per_dim,
    number,
    product,
    transposed_size_line,
    weight_note,
    window_lines,
)

__all__ = ["Conv", "ConvLayer", "ConvTranspose", "TransposedWindow"]

Filters = Annotated[Size, Field(description="Output channels: the number of kernels.")]
def _groups_word(value: Any) -> Any:
    """Refuse a word other than ``depthwise`` as what it is, not as "not a valid integer"."""
    if isinstance(value, str) and value != "depthwise":
        raise PydanticCustomError("groups_word", "Input should be an int of at least 1, or "
                                                 "depthwise (one group per input channel)")
    return value


Groups = Annotated[Size | Literal["depthwise"], BeforeValidator(_groups_word), Field(description=(
    "Groups of input channels, or depthwise: as many groups as input channels (a depthwise "
    "convolution), resolved against the input."))]


def _resolve_groups(channels: int, filters: int, groups: int | Literal["depthwise"]) -> int:
    """Return the number of groups (``depthwise`` is the input channels), or raise unless it
    divides both the input channels and the filters."""
    count = channels if groups == "depthwise" else groups
    for what, total in (("input channels", channels), ("filters", filters)):
        if total % count:
            written = f"groups={count}"
            if groups == "depthwise":
                written = f"groups=depthwise ({count}, the input channels)"
            raise LayerError(
                f"{written} does not divide the {total} {what}; "
                "groups must divide both the input channels and the filters",
                field_name="groups",
            )
    return count


def _groups_text(written: int | Literal["depthwise"], groups: int) -> str:
    """Return ``4``, or ``depthwise = C = 32`` where the file wrote depthwise."""
    return f"depthwise = C = {groups}" if written == "depthwise" else str(groups)


def _weight_cost(weights: int, macs: int, biases: int, outputs: int) -> Cost:
    """Return the cost of a weighted layer: 2 FLOPs a MAC plus one add per bias use."""
    return Cost(
        params=weights + biases,
        macs=macs,
        flops=2 * macs + (outputs if biases else 0),
        bias_params=biases,
    )


def _bias_gradient(out: Shape, bias: bool) -> Term | None:
    """Return the bias gradient's adds, one per output element (its sum over positions)."""
    return product(list(out)) if bias else None


def _bias_note(bias: bool) -> str:
    return "one add per output element for the bias gradient" if bias else ""


def _kept_input(shape: Shape, pads: tuple[tuple[int, int], ...]) -> Saved:
    """Return the input a convolution keeps: the input itself, or, where the padding is
    not symmetric, the copy padded by the part ``nn.Conv*d``'s symmetric padding cannot
    hold (``|after − before|`` per dim), as PyTorch's own ``padding="same"`` makes it."""
    if all(before == after for before, after in pads):
        return Saved(INPUT, shape)
    padded = tuple(size + abs(after - before) for size, (before, after)
                   in zip(shape[1:], pads, strict=True))
    return Saved("padded input", (shape[0], *padded))


@dataclass(frozen=True)
class TransposedWindow:
    """A transposed convolution resolved against one input shape, per spatial dim.

    Attributes:
        dims: input spatial sizes.
        kernel: kernel sizes.
        stride: strides.
        dilation: dilations.
        padding: PyTorch's padding, cropped from both ends.
        output_padding: extra output rows on one side.
        out: output spatial sizes.
    """

    dims: Shape
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[int, ...]
    output_padding: tuple[int, ...]
    out: Shape

    def index_maps(self) -> tuple[TransposedWindowMap, ...]:
        """Return the receptive-field step of each spatial dim."""
        return tuple(
            TransposedWindowMap(k, s, d, p)
            for k, s, d, p in zip(self.kernel, self.stride, self.dilation, self.padding,
                                  strict=True)
        )


class Conv(LayerSpec):
    """A convolution: ``filters`` kernels, each spanning ``C/groups`` input channels.

    Output size per dim ``floor((W + P − D·(K−1) − 1)/S) + 1``; params
    ``filters·(C/groups)·∏K (+ filters)``; MACs ``filters·∏out·(C/groups)·∏K``.
    """

    family: ClassVar[LayerFamily] = LayerFamily.conv
    reference_op: ClassVar[str] = "convcalc.reference.ops.conv:conv"
    type: TypeField[Literal["conv"]]
    filters: Filters
    kernel: Kernel
    stride: Stride = 1
    padding: WindowPadding = 0
    dilation: Dilation = 1
    groups: Groups = 1
    bias: Bias = True

    def window(self, shape: Shape) -> Window:
        """Return the sliding window resolved against an input of ``shape``."""
        return resolve_window(shape, "conv", self.kernel, self.stride, self.dilation,
                              self.padding)

    def resolve(self, shape: Shape) -> Window:
        """Return the window for an input of ``shape``, or raise if it or the groups misfit."""
        window = self.window(shape)
        self.resolved_groups(shape[0])
        return window

    def resolved_groups(self, channels: int) -> int:
        """Return the groups on ``channels`` input channels (``depthwise`` is ``channels``),
        or raise unless they divide the input channels and the filters."""
        return _resolve_groups(channels, self.filters, self.groups)

    def apply(self, shape: Shape) -> Step:
        window = self.resolve(shape)
        out = (self.filters, *window.out)
        taps = shape[0] // self.resolved_groups(shape[0]) * math.prod(window.kernel)
        cost = _weight_cost(self.filters * taps, numel(out) * taps,
                            self.filters if self.bias else 0, numel(out))
        return Step(out, cost, window.index_maps(), tuple(window.warnings()))

    def explain(self, shape: Shape) -> Worked:
        window = self.resolve(shape)
        lines, sizes = window_lines(window, self.padding == "same")
        groups = self.resolved_groups(shape[0])
        channels = shape[0] // groups
        if groups > 1:
            lines.append(f"groups = {_groups_text(self.groups, groups)}: each filter reads "
                         f"C/groups = {shape[0]}/{groups} = {channels} "
                         f"channel{'s' if channels > 1 else ''}")
        taps = product([channels, *window.kernel]).group()
        params = number(self.filters) * taps
        if self.bias:
            params = params + number(self.filters)
        lines.append(equation("params", params))
        macs = product([self.filters, *sizes]) * taps
        bias_adds = product([self.filters, *sizes]) if self.bias else None
        return Worked(lines, (self.filters, *sizes), params.value, macs=macs,
                      flops=bias_adds, flops_note=weight_note(self.bias))

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return dX and dW, each the forward's MACs ``filters·∏out·(C/groups)·∏K`` at any
        stride, dilation or groups (dX is the transposed convolution of the output's
        gradient, dW the correlation of it with the input: both pair every output
        position with every tap, as the forward does), the bias gradient's adds, and the
        input kept for dW (or the copy padded by what ``nn.Conv*d``'s symmetric padding
        cannot hold, ``_kept_input``)."""
        window = self.resolve(shape)
        channels = shape[0] // self.resolved_groups(shape[0])
        macs = product([self.filters, *window.out]) * product([channels, *window.kernel]).group()
        return Backward(macs if input_grad else None, macs,
                        _bias_gradient((self.filters, *window.out), self.bias),
                        _bias_note(self.bias), (_kept_input(shape, window.pads),))

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.Conv*d``; padding it cannot hold is a zero pad module before it.

        ``nn.Conv*d`` pads symmetrically, so before ≠ after (per-side padding, ``same`` with
        an even kernel or a stride) is written as ``nn.ZeroPad*d`` and the conv unpadded.
        """
        window = self.resolve(shape)
        groups = self.resolved_groups(shape[0])
        rank = len(window.dims)
        symmetric = all(before == after for before, after in window.pads)
        padding = tuple(before for before, _ in window.pads)
        module = call(
            f"nn.Conv{rank}d", shape[0], self.filters,
            kernel_size=ints(window.kernel),
            stride=ints(window.stride) if any(s != 1 for s in window.stride) else None,
            padding=ints(padding) if symmetric and any(padding) else None,
            dilation=ints(window.dilation) if any(d != 1 for d in window.dilation) else None,
            groups=groups if groups != 1 else None,
            bias=None if self.bias else False,
        )
        pad = None if symmetric else call(f"nn.ZeroPad{rank}d", torch_padding(window.pads))
        return TorchLeaf(module, pad)


class ConvTranspose(LayerSpec):
    """A transposed convolution (PyTorch's ConvTranspose): each input scatters a kernel.

    Output size per dim ``(W − 1)·S − 2P + D·(K − 1) + output_padding + 1``. MACs are
    counted by input positions: ``C·∏in·(filters/groups)·∏K``, the multiplications the
    scatter really does (counting by output positions would count the zeros between the
    strided inputs).
    """

    family: ClassVar[LayerFamily] = LayerFamily.conv
    reference_op: ClassVar[str] = "convcalc.reference.ops.conv:conv_transpose"
    type: TypeField[Literal["conv_transpose"]]
    filters: Filters
    kernel: Kernel
    stride: Stride = 1
    padding: NonNegative | tuple[NonNegative, ...] = Field(
        0, description="PyTorch's padding, cropped from both ends of the output: one int, or "
                       "one per dimension.")
    output_padding: NonNegative | tuple[NonNegative, ...] = Field(
        0, description="Extra output rows on one side: one int or one per dimension, smaller "
                       "than the stride or the dilation.")
    dilation: Dilation = 1
    groups: Groups = 1
    bias: Bias = True

    def resolve(self, shape: Shape) -> TransposedWindow:
        """Return the options per dim for an input of ``shape``, or raise if they misfit."""
        dims = spatial(shape, "conv_transpose")
        rank = len(dims)
        kernel = per_dim(self.kernel, rank, "kernel")
        stride = per_dim(self.stride, rank, "stride")
        dilation = per_dim(self.dilation, rank, "dilation")
        padding = per_dim(self.padding, rank, "padding")
        output_padding = per_dim(self.output_padding, rank, "output_padding")
        self.resolved_groups(shape[0])
        out = []
        for name, size, k, s, d, p, extra in zip(
            dim_names(rank), dims, kernel, stride, dilation, padding, output_padding,
            strict=True,
        ):
            if extra >= max(s, d):
                raise LayerError(
                    f"output_padding {extra} along {name} must be smaller than the stride "
                    f"({s}) or the dilation ({d})",
                    field_name="output_padding",
                )
            n = transposed_output_size(size, k, s, d, p, extra)
            if n < 1:
                raise LayerError(
                    f"padding {p} crops the whole output along {name}: "
                    f"({size} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {extra} + 1 = {n}; "
                    "use less padding",
                    field_name="padding",
                )
            out.append(n)
        return TransposedWindow(dims, kernel, stride, dilation, padding, output_padding,
                                tuple(out))

    def resolved_groups(self, channels: int) -> int:
        """Return the groups on ``channels`` input channels (``depthwise`` is ``channels``),
        or raise unless they divide the input channels and the filters."""
        return _resolve_groups(channels, self.filters, self.groups)

    def apply(self, shape: Shape) -> Step:
        window = self.resolve(shape)
        out = (self.filters, *window.out)
        taps = self.filters // self.resolved_groups(shape[0]) * math.prod(window.kernel)
        cost = _weight_cost(shape[0] * taps, numel(shape) * taps,
                            self.filters if self.bias else 0, numel(out))
        return Step(out, cost, window.index_maps())

    def explain(self, shape: Shape) -> Worked:
        window = self.resolve(shape)
        lines = ["out = (W − 1)·S − 2P + D·(K − 1) + output_padding + 1 (PyTorch's "
                 "ConvTranspose)"]
        lines += lines_per_dim(len(window.dims), lambda i: [transposed_size_line(
            window.dims[i], window.kernel[i], window.stride[i], window.dilation[i],
            window.padding[i], window.output_padding[i])])
        groups = self.resolved_groups(shape[0])
        per_group = self.filters // groups
        if groups > 1:
            lines.append(f"groups = {_groups_text(self.groups, groups)}: each input channel "
                         f"feeds filters/groups = {self.filters}/{groups} = {per_group} "
                         "outputs")
        taps = product([per_group, *window.kernel]).group()
        params = number(shape[0]) * taps
        if self.bias:
            params = params + number(self.filters)
        lines.append(equation("params", params))
        lines.append("MACs by input position: each input element is multiplied into the "
                     "filters/groups·∏K weights it scatters (the zeros a stride inserts are "
                     "not counted)")
        out = (self.filters, *window.out)
        bias_adds = product(list(out)) if self.bias else None
        return Worked(lines, out, params.value, macs=product(list(shape)) * taps,
                      flops=bias_adds, flops_note=weight_note(self.bias))

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return dX and dW, each the forward's MACs by input position
        ``C·∏in·(filters/groups)·∏K`` (dX is a strided convolution of the output's
        gradient, read at the input positions; dW pairs each input element with each tap
        it scattered to), the bias gradient's adds, and the input kept for dW."""
        window = self.resolve(shape)
        per_group = self.filters // self.resolved_groups(shape[0])
        macs = product(list(shape)) * product([per_group, *window.kernel]).group()
        out = (self.filters, *window.out)
        return Backward(macs if input_grad else None, macs, _bias_gradient(out, self.bias),
                        _bias_note(self.bias), (Saved(INPUT, shape),))

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.ConvTranspose*d``, its options written where they are not the default."""
        window = self.resolve(shape)
        groups = self.resolved_groups(shape[0])

        def option(values: tuple[int, ...], default: int) -> int | tuple[int, ...] | None:
            return ints(values) if any(v != default for v in values) else None

        return TorchLeaf(call(
            f"nn.ConvTranspose{len(window.dims)}d", shape[0], self.filters,
            kernel_size=ints(window.kernel),
            stride=option(window.stride, 1),
            padding=option(window.padding, 0),
            output_padding=option(window.output_padding, 0),
            groups=groups if groups != 1 else None,
            bias=None if self.bias else False,
            dilation=option(window.dilation, 1),
        ))


ConvLayer = Conv | ConvTranspose
"""This family's layer classes, in the order they are defined; the union of every layer
type (convcalc.layers.containers.Layer) is made of these."""
