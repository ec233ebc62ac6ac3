"""Plain-torch builds of convcalc layer lists, written apart from convcalc for the oracles.

``build(layers, shape)`` turns the same plain data a network file holds (a list of layer
mappings or bare type names) into a torch module, reading each option as PyTorch's own
layers take it. Nothing here imports convcalc: the oracle tests compare what the two
compute, so the torch side must not borrow the calculator's arithmetic. The one formula
written out here is TensorFlow's ``same`` padding for strides above 1, which PyTorch
does not offer; it is the rule the format documents.

Every convcalc report row that is not a container has one module here that the tests
hook: a ``Row`` for a layer (explicit padding and the layer's torch module together) and
a ``Merge`` for the add or concat that ends a residual or parallel block. They run in
the order convcalc lists its rows.

Import this module only after ``pytest.importorskip("torch")``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ACTIVATIONS", "Branches", "Merge", "Row", "build", "layer_module", "one_thread",
           "output_shape", "weight_macs"]

Shape = tuple[int, ...]

ACTIVATIONS: dict[str, Any] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "hardswish": nn.Hardswish,
    "hardsigmoid": nn.Hardsigmoid,
    "mish": nn.Mish,
    "softmax": lambda: nn.Softmax(dim=1),
    "identity": nn.Identity,
}
"""Every activation of the format with no options, as a torch module factory."""


class Row(nn.Module):
    """One layer: optional explicit (before, after) padding, then the torch layer."""

    def __init__(self, kind: str, layer: nn.Module, pads: Sequence[tuple[int, int]] = (),
                 pad_value: float = 0.0, flatten: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.layer = layer
        # F.pad lists the last dim first.
        self.pads = [side for before, after in reversed(pads) for side in (before, after)]
        self.pad_value = pad_value
        self.flatten = flatten

    def forward(self, x: Tensor) -> Tensor:
        if any(self.pads):
            x = F.pad(x, self.pads, value=self.pad_value)
        out: Tensor = self.layer(x)
        return out.flatten(1) if self.flatten else out


class LayerScale(nn.Module):
    """ConvNeXt's layer scale as torchvision writes it: ``gamma * x``, gamma of shape
    (C, 1, …, 1)."""

    def __init__(self, channels: int, rank: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels, *([1] * rank)), init))

    def forward(self, x: Tensor) -> Tensor:
        return self.gamma * x


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth in eval mode, which is all the oracles run: the
    identity."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: Tensor) -> Tensor:
        assert not self.training, "the oracles run in eval mode"
        return x


class Merge(nn.Module):
    """The add, concat (over channels) or mul (broadcasting) that ends a residual or
    parallel block."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, outputs: list[Tensor]) -> Tensor:
        if self.kind == "add":
            return torch.stack(outputs).sum(0)
        if self.kind == "mul":
            return multiplied(outputs)
        return torch.cat(outputs, dim=1)


class Chain(nn.Module):
    """Modules run one after another (an empty chain is the identity)."""

    def __init__(self, items: list[nn.Module]) -> None:
        super().__init__()
        self.items = nn.ModuleList(items)

    def forward(self, x: Tensor) -> Tensor:
        for item in self.items:
            x = item(x)
        return x


class Branches(nn.Module):
    """Bodies over the same input, then their merge."""

    def __init__(self, bodies: list[Chain], merge: Merge) -> None:
        super().__init__()
        self.bodies = nn.ModuleList(bodies)
        self.merge = merge

    def forward(self, x: Tensor) -> Tensor:
        merged: Tensor = self.merge([body(x) for body in self.bodies])
        return merged


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: on tensors this small that is many times faster than
    waking a pool (3 ms against 0.07 ms a conv here), and it is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def output_shape(module: nn.Module, shape: Shape) -> Shape:
    """Return the shape torch gives for one sample of ``shape`` (batch dropped)."""
    module.eval()
    with torch.no_grad():
        return tuple(module(torch.zeros((1, *shape))).shape[1:])


def _dims(value: Any, rank: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank


def _sides(padding: Any, rank: int) -> list[tuple[int, int]] | None:
    """Return explicit (before, after) pads for the per-side form, else None."""
    if isinstance(padding, (list, tuple)) and padding and isinstance(padding[0],
                                                                     (list, tuple)):
        return [(int(b), int(a)) for b, a in padding]
    return None


def _tf_same(sizes: Shape, kernel: Shape, stride: Shape, dilation: Shape
             ) -> list[tuple[int, int]]:
    """Return TensorFlow's ``same`` pads: output ceil(W/S), the smaller half before."""
    pads = []
    for w, k, s, d in zip(sizes, kernel, stride, dilation, strict=True):
        total = max((math.ceil(w / s) - 1) * s + (k - 1) * d + 1 - w, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _nd(prefix: str, rank: int) -> Any:
    return getattr(nn, f"{prefix}{rank}d")


def _window_padding(spec: dict[str, Any], sizes: Shape, kernel: Shape, stride: Shape,
                    dilation: Shape, same_native: bool) -> tuple[Any, list[tuple[int, int]]]:
    """Return (torch's own padding argument, explicit pads to apply first)."""
    rank = len(sizes)
    padding = spec.get("padding", 0)
    if padding == "valid":
        return 0, []
    if padding == "same":
        if same_native and all(s == 1 for s in stride):
            return "same", []
        return 0, _tf_same(sizes, kernel, stride, dilation)
    sides = _sides(padding, rank)
    if sides is not None:
        return 0, sides
    return _dims(padding, rank), []


# ------------------------------------------------------------------ normalisation

NORMS = ("layernorm", "groupnorm", "instancenorm")
"""The normalisation types other than batchnorm, built by ``_norm_row``."""


class ChannelsLastLayerNorm(nn.Module):
    """nn.LayerNorm(C) over dim 1 of (N, C, *spatial): channels moved last and back."""

    def __init__(self, norm: nn.LayerNorm) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.norm(x.permute(0, *range(2, x.dim()), 1))
        return out.permute(0, x.dim() - 1, *range(1, x.dim() - 1))


def _norm_row(spec: dict[str, Any], shape: Shape) -> Row:
    """Return the torch module of a layernorm, groupnorm or instancenorm, PyTorch's defaults
    for every option the spec leaves out (instancenorm: no affine, no running statistics)."""
    kind, channels, rank = spec["type"], shape[0], len(shape) - 1
    eps = spec.get("eps", 1e-5)
    if kind == "layernorm":
        affine = spec.get("affine", True)
        norm = nn.LayerNorm(channels, eps=eps, elementwise_affine=affine,
                            bias=spec.get("bias", True))
        return Row(kind, norm if rank == 0 else ChannelsLastLayerNorm(norm))
    if kind == "groupnorm":
        return Row(kind, nn.GroupNorm(spec["groups"], channels, eps=eps,
                                      affine=spec.get("affine", True)))
    if rank == 0:
        raise ValueError(f"instancenorm needs a spatial input, got {shape}")
    return Row(kind, _nd("InstanceNorm", rank)(
        channels, eps=eps, affine=spec.get("affine", False),
        track_running_stats=spec.get("track_running_stats", False)))


def layer_module(spec: Any, shape: Shape) -> nn.Module:
    """Return the torch module of one layer of the format, for an input of ``shape``."""
    if isinstance(spec, str):
        spec = {"type": spec}
    kind = spec["type"]
    channels, sizes, rank = shape[0], shape[1:], len(shape) - 1
    if kind in NORMS:
        return _norm_row(spec, shape)
    flat_ok = (*ACTIVATIONS, "leaky_relu", "dropout", "batchnorm", "flatten", "linear",
               "elu", "prelu", "layer_scale", "stochastic_depth", "slice")
    if rank == 0 and kind not in flat_ok:
        raise ValueError(f"{kind} needs a spatial input, got {shape}")
    if rank > 0 and kind == "linear":  # nn.Linear would act on the last dim alone
        raise ValueError(f"linear needs a flat input, got {shape}")
    if kind in ACTIVATIONS:
        return Row(kind, ACTIVATIONS[kind]())
    if kind == "leaky_relu":
        return Row(kind, nn.LeakyReLU(spec.get("negative_slope", 0.01)))
    if kind == "dropout":
        return Row(kind, nn.Dropout(spec.get("p", 0.5)))
    if kind == "elu":
        return Row(kind, nn.ELU(spec.get("alpha", 1.0)))
    if kind == "prelu":
        slopes = channels if spec.get("per_channel", False) else 1
        return Row(kind, nn.PReLU(slopes, init=spec.get("init", 0.25)))
    if kind == "layer_scale":
        return Row(kind, LayerScale(channels, rank, spec.get("init", 1e-6)))
    if kind == "stochastic_depth":
        return Row(kind, StochasticDepth(spec["p"], spec.get("mode", "row")))
    if kind == "batchnorm":
        return Row(kind, _nd("BatchNorm", max(rank, 1))(channels, eps=spec.get("eps", 1e-5)))
    if kind == "flatten":
        return Row(kind, nn.Flatten())
    if kind == "linear":
        return Row(kind, nn.Linear(channels, spec["units"], bias=spec.get("bias", True)))
    if kind in ("global_avgpool", "global_maxpool"):
        pool = "AdaptiveAvgPool" if kind == "global_avgpool" else "AdaptiveMaxPool"
        return Row(kind, _nd(pool, rank)(1), flatten=True)
    if kind in ("adaptive_avgpool", "adaptive_maxpool"):
        pool = "AdaptiveAvgPool" if kind == "adaptive_avgpool" else "AdaptiveMaxPool"
        return Row(kind, _nd(pool, rank)(_dims(spec["output"], rank)))
    if kind == "pad":
        padding = spec["padding"]
        pads = _sides(padding, rank) or [(p, p) for p in _dims(padding, rank)]
        return Row(kind, nn.Identity(), pads)
    if kind == "upsample":
        linear = spec.get("mode", "nearest") == "linear"
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[rank] if linear else "nearest"
        corners = False if linear else None
        if "size" in spec:
            module = nn.Upsample(size=_dims(spec["size"], rank), mode=mode,
                                 align_corners=corners)
        else:
            scale = tuple(float(s) for s in _dims(spec["scale"], rank))
            module = nn.Upsample(scale_factor=scale, mode=mode, align_corners=corners)
        return Row(kind, module)
    if kind in CHANNEL_LAYERS:
        return channel_module(spec)
    kernel = _dims(spec["kernel"], rank)
    dilation = _dims(spec.get("dilation", 1), rank)
    if kind == "conv":
        stride = _dims(spec.get("stride", 1), rank)
        padding, pads = _window_padding(spec, sizes, kernel, stride, dilation, True)
        conv = _nd("Conv", rank)(channels, spec["filters"], kernel, stride=stride,
                                 padding=padding, dilation=dilation,
                                 groups=_groups(spec, channels), bias=spec.get("bias", True))
        return Row(kind, conv, pads)
    if kind == "conv_transpose":
        conv = _nd("ConvTranspose", rank)(
            channels, spec["filters"], kernel, stride=_dims(spec.get("stride", 1), rank),
            padding=_dims(spec.get("padding", 0), rank),
            output_padding=_dims(spec.get("output_padding", 0), rank),
            groups=_groups(spec, channels), bias=spec.get("bias", True), dilation=dilation,
        )
        return Row(kind, conv)
    stride = _dims(spec.get("stride") or spec["kernel"], rank)
    padding, pads = _window_padding(spec, sizes, kernel, stride, dilation, False)
    ceil_mode = spec.get("ceil_mode", False)
    if kind == "maxpool":
        pool = _nd("MaxPool", rank)(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
        return Row(kind, pool, pads, pad_value=-math.inf)
    if kind == "avgpool":
        pool = _nd("AvgPool", rank)(kernel, stride, padding, ceil_mode=ceil_mode,
                                    count_include_pad=spec.get("count_include_pad", True))
        return Row(kind, pool, pads)
    raise ValueError(f"no torch build for layer type {kind!r}")


def build(layers: Sequence[Any], shape: Shape) -> tuple[nn.Module, Shape]:
    """Return the torch module of a layer list for inputs of ``shape``, and its output shape.

    Containers repeat by building their body ``repeat`` times, each turn for the shape
    the previous one gave (so a turn's channels may differ from the first's, as in the
    format). Raises whatever torch raises when the layers do not fit.
    """
    items: list[nn.Module] = []
    for spec in layers:
        if isinstance(spec, dict) and spec["type"] == "aux":
            items.append(AuxHead(build(spec["layers"], shape)[0]))
        elif isinstance(spec, dict) and spec["type"] in ("sequential", "residual", "parallel"):
            for _ in range(spec.get("repeat", 1)):
                module, shape = _container(spec, shape)
                items.append(module)
        else:
            module = layer_module(spec, shape)
            shape = output_shape(module, shape)
            items.append(module)
    return Chain(items), shape


def _container(spec: dict[str, Any], shape: Shape) -> tuple[nn.Module, Shape]:
    kind = spec["type"]
    if kind == "sequential":
        return build(spec["layers"], shape)
    if kind == "residual":
        bodies, merge = [spec["layers"], spec.get("shortcut") or []], "add"
    else:
        bodies, merge = spec["branches"], spec.get("merge", "concat")
    chains = [build(body, shape)[0] for body in bodies]
    module: nn.Module = Branches(chains, Merge(merge))  # type: ignore[arg-type]
    if spec.get("after"):
        merged = output_shape(module, shape)
        module = Chain([module, build(spec["after"], merged)[0]])
    return module, output_shape(module, shape)


def weight_macs(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> int:
    """Return a conv, transposed conv or linear layer's MACs for one sample, else 0.

    conv: ``out.numel()·C_in/groups·∏K``; transposed conv: ``in.numel()·C_out/groups·∏K``
    (by input positions); linear: ``in·out``.
    """
    batch = output.shape[0]
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        taps = module.out_channels // module.groups * math.prod(module.kernel_size)
        return inputs[0].numel() // batch * taps
    if isinstance(module, nn.modules.conv._ConvNd):
        taps = module.in_channels // module.groups * math.prod(module.kernel_size)
        return output.numel() // batch * taps
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


# ---------------------------------------------------------------- mul, after and aux


def multiplied(outputs: list[Tensor]) -> Tensor:
    """Return the product of the branches with torch's broadcasting."""
    total = outputs[0]
    for output in outputs[1:]:
        total = total * output
    return total


class AuxHead(nn.Module):
    """An auxiliary head: runs its chain on x (its output leaves), returns x unchanged."""

    def __init__(self, head: Chain) -> None:
        super().__init__()
        self.head = head
        self.outputs: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.outputs.append(self.head(x))
        return x
# ------------------------------------------------------------------ channel layers, depthwise

CHANNEL_LAYERS = ("slice", "channel_shuffle")
"""The layer types that move or select channels, built by ``channel_module``."""


def _groups(spec: dict[str, Any], channels: int) -> int:
    """Return a conv's groups: ``depthwise`` is one group per input channel."""
    groups = spec.get("groups", 1)
    return channels if groups == "depthwise" else int(groups)


class ChannelSlice(nn.Module):
    """``x[:, start:stop]``: the channels (or a flat input's features) kept; torch refuses
    a stop past the channels."""

    def __init__(self, start: int, stop: int) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x: Tensor) -> Tensor:
        # narrow, not x[:, start:stop], which would cut an overlong slice short silently;
        # its IndexError is a refusal like the ValueErrors of torch's layers
        try:
            return x.narrow(1, self.start, self.stop - self.start)
        except (IndexError, RuntimeError) as error:
            raise ValueError(f"slice [{self.start}, {self.stop}]: {error}") from None


class ChannelShuffle(nn.Module):
    """torchvision's channel_shuffle in any rank: view as (groups, C/groups), transpose,
    flatten back."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, *rest = x.shape
        grid = x.view(batch, self.groups, channels // self.groups, *rest)
        return torch.transpose(grid, 1, 2).contiguous().view(batch, channels, *rest)


def channel_module(spec: dict[str, Any]) -> nn.Module:
    """Return the torch module of a ``slice`` or ``channel_shuffle`` layer."""
    if spec["type"] == "slice":
        start, stop = spec["channels"]
        return Row("slice", ChannelSlice(start, stop))
    return Row("channel_shuffle", ChannelShuffle(spec["groups"]))
