"""Layers that act on each element alone: dropout, activations, layer scale and stochastic
depth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field, StrictBool

from convcalc.layers.backward import INPUT, OUTPUT, VIEW, Backward, Saved, elementwise, per_element
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
from convcalc.layers.torch_source import TorchHelper, TorchLeaf, call
from convcalc.layers.worked import Worked, equation, number, product

__all__ = ["Activation", "Dropout", "ElementwiseLayer", "Elu", "LayerScale",
           "LeakyRelu", "Prelu", "StochasticDepth"]


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

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return dropout's backward while training: the gradient times the mask, one
        multiply per element; on the CPU the mask kept is a float tensor of the input's
        shape (already scaled by 1/(1 − p)), not a bool one. ``p = 0`` returns its input."""
        if self.p == 0:
            return VIEW
        return elementwise(shape, input_grad, (Saved("mask", shape),),
                           note="the gradient times the mask, one per element")

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.Dropout``, ``p`` written where it is not PyTorch's 0.5."""
        return TorchLeaf(call("nn.Dropout", p=self.p if self.p != 0.5 else None))


class Activation(LayerSpec):
    """An elementwise non-linearity, or softmax over the channels.

    FLOPs: one per element (the cost of evaluating exp, erf or tanh is not modelled),
    none for ``identity``, three per element for ``softmax`` (exp, sum, divide).
    ``hardsigmoid`` (``relu6(x + 3)/6``) and ``mish`` (``x·tanh(softplus(x))``) are one
    per element too, by the same convention.
    """

    family: ClassVar[LayerFamily] = LayerFamily.elementwise
    reference_ops: ClassVar[Mapping[str, str]] = {
        name: f"convcalc.reference.ops.elementwise:{name}" for name in (
            "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish", "softmax",
            "identity", "hardsigmoid", "mish",
        )
    }
    FLOPS_PER_ELEMENT: ClassVar[dict[str, int]] = {"identity": 0, "softmax": 3}
    TORCH_MODULES: ClassVar[dict[str, str]] = {
        "relu": "nn.ReLU", "relu6": "nn.ReLU6", "gelu": "nn.GELU", "silu": "nn.SiLU",
        "sigmoid": "nn.Sigmoid", "tanh": "nn.Tanh", "hardswish": "nn.Hardswish",
        "softmax": "nn.Softmax", "identity": "nn.Identity",
        "hardsigmoid": "nn.Hardsigmoid", "mish": "nn.Mish",
    }
    type: TypeField[Literal["relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish",
                            "softmax", "identity", "hardsigmoid", "mish"]]

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

    KEEPS_OUTPUT: ClassVar[frozenset[str]] = frozenset({"relu", "sigmoid", "tanh", "softmax"})
    """The activations whose derivative PyTorch computes from the output; the others
    keep their input."""

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return the derivative times the gradient, as many FLOPs per element as the
        forward, and the tensor it is computed from: the output of relu, sigmoid, tanh
        and softmax, the input of the others (relu6, gelu, silu, hardswish, hardsigmoid,
        mish), as PyTorch's kernels keep them; the identity returns its input."""
        if self.type == "identity":
            return VIEW
        kept = Saved(OUTPUT if self.type in self.KEEPS_OUTPUT else INPUT, shape)
        return elementwise(shape, input_grad, (kept,), self.FLOPS_PER_ELEMENT.get(self.type, 1))

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

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return one FLOP per element, the input kept (PyTorch's rule reads its sign)."""
        return elementwise(shape, input_grad, (Saved(INPUT, shape),))

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.LeakyReLU``, the slope written where it is not PyTorch's 0.01."""
        slope = self.negative_slope
        return TorchLeaf(call("nn.LeakyReLU", negative_slope=slope if slope != 0.01 else None))


class Elu(LayerSpec):
    """ELU, ``x`` where positive and ``α·(eˣ − 1)`` elsewhere: one operation per element,
    as every activation (the exp is not modelled)."""

    family: ClassVar[LayerFamily] = LayerFamily.elementwise
    reference_op: ClassVar[str] = "convcalc.reference.ops.elementwise:elu"
    type: TypeField[Literal["elu"]]
    alpha: Real = Field(1.0, description=(
        "α in α·(eˣ − 1) for inputs at or below 0, the value the output tends to far below "
        "0 (negated): a finite number."))

    def apply(self, shape: Shape) -> Step:
        return Step(shape, Cost(flops=numel(shape)))

    def explain(self, shape: Shape) -> Worked:
        return Worked([], shape, flops=product(list(shape)), flops_note="one per element")

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return one FLOP per element, the input kept."""
        return elementwise(shape, input_grad, (Saved(INPUT, shape),))

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.ELU``, ``alpha`` written where it is not PyTorch's 1.0."""
        return TorchLeaf(call("nn.ELU", alpha=self.alpha if self.alpha != 1.0 else None))


class Prelu(LayerSpec):
    """Parametric ReLU, ``x`` where positive and ``a·x`` elsewhere, the slope ``a`` learned:
    one operation per element, as ``leaky_relu``.

    Params 1 (one slope for every channel), or ``C`` with ``per_channel`` (one slope per
    channel, ``nn.PReLU(num_parameters=C)``); on a flat input ``C`` is the feature count.
    """

    family: ClassVar[LayerFamily] = LayerFamily.elementwise
    reference_op: ClassVar[str] = "convcalc.reference.ops.elementwise:prelu"
    type: TypeField[Literal["prelu"]]
    per_channel: StrictBool = Field(False, description=(
        "One learned slope per channel (or per feature of a flat input) instead of one "
        "shared by all, as nn.PReLU(num_parameters=C)."))
    init: Real = Field(0.25, description=(
        "The slopes' starting value (PyTorch's 0.25), which verify runs with and the export "
        "starts from: a finite number."))

    def slopes(self, shape: Shape) -> int:
        """Return how many slopes the layer learns on an input of ``shape``."""
        return shape[0] if self.per_channel else 1

    def apply(self, shape: Shape) -> Step:
        return Step(shape, Cost(params=self.slopes(shape), flops=numel(shape)))

    def explain(self, shape: Shape) -> Worked:
        slopes = self.slopes(shape)
        note = "one slope per channel" if self.per_channel else "one slope for every channel"
        return Worked([equation("params", number(slopes), note)], shape, slopes,
                      flops=product(list(shape)), flops_note="one per element")

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return one FLOP per element for the slope's gradient (the gradient times the
        negative inputs, summed) and one more for the input's, the input kept."""
        count = 2 if input_grad else 1
        return Backward(flops=per_element(count, shape),
                        flops_note=("dX and da, one per element each" if input_grad
                                    else "da, one per element"),
                        saved=(Saved(INPUT, shape),))

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.PReLU``, ``num_parameters`` and ``init`` written where they are not
        PyTorch's 1 and 0.25."""
        slopes = self.slopes(shape)
        return TorchLeaf(call("nn.PReLU", num_parameters=slopes if slopes != 1 else None,
                              init=self.init if self.init != 0.25 else None))


_LAYER_SCALE = TorchHelper("LayerScale", '''
class LayerScale(nn.Module):
    """A learned factor per channel (ConvNeXt's layer scale), the same at every position.

    The factors have shape (C, 1, …, 1), one 1 per spatial dim, as torchvision's
    ConvNeXt keeps them, so they broadcast over an (N, C, *spatial) input.
    """

    def __init__(self, channels: int, spatial_dims: int, init: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,) + (1,) * spatial_dims, init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight
''')
"""The exported file's layer scale: C parameters, as torchvision's ConvNeXt holds them."""


class LayerScale(LayerSpec):
    """Layer scale (ConvNeXt): each channel multiplied by its own learned factor.

    Params ``C``; FLOPs ``numel`` (one multiply per element); no MACs, since the factor is
    per channel, not a weight summed over inputs.
    """

    family: ClassVar[LayerFamily] = LayerFamily.elementwise
    reference_op: ClassVar[str] = "convcalc.reference.ops.elementwise:layer_scale"
    type: TypeField[Literal["layer_scale"]]
    init: Real = Field(1e-6, description=(
        "The factors' starting value (ConvNeXt's 1e-6), which verify runs with and the "
        "export starts from: a finite number."))

    def apply(self, shape: Shape) -> Step:
        return Step(shape, Cost(params=shape[0], flops=numel(shape)))

    def explain(self, shape: Shape) -> Worked:
        return Worked([equation("params", number(shape[0]), "one factor per channel")], shape,
                      shape[0], flops=product(list(shape)),
                      flops_note="one multiply per element")

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return one multiply per element for the factors' gradient (summed per channel)
        and one for the input's, the input kept for the factors'."""
        count = 2 if input_grad else 1
        return Backward(flops=per_element(count, shape),
                        flops_note=("dX and dγ, one per element each" if input_grad
                                    else "dγ, one per element"),
                        saved=(Saved(INPUT, shape),))

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return the file's ``LayerScale`` (torch has no module for it), ``init`` written
        where it is not 1e-6."""
        return TorchLeaf(call("LayerScale", shape[0], len(shape) - 1,
                              init=self.init if self.init != 1e-6 else None),
                         helper=_LAYER_SCALE)


_STOCHASTIC_DEPTH = TorchHelper("StochasticDepth", '''
class StochasticDepth(nn.Module):
    """Stochastic depth (Huang et al., 2016), torchvision's rule in plain torch.

    While training, the whole input of a sample (mode "row") or of the batch (mode
    "batch") is zeroed with probability p and the rest scaled by 1/(1 − p); in eval mode
    it is the identity.
    """

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"
''')
"""The exported file's stochastic depth, without torchvision."""


class StochasticDepth(LayerSpec):
    """Stochastic depth: drops a whole residual branch while training; the identity at
    inference, so, like dropout, no FLOPs are counted."""

    family: ClassVar[LayerFamily] = LayerFamily.elementwise
    reference_op: ClassVar[str] = "convcalc.reference.ops.elementwise:stochastic_depth"
    type: TypeField[Literal["stochastic_depth"]]
    # p = 1 is allowed (it drops the branch in every training step), as torchvision does.
    p: Real = Field(ge=0, le=1, description=(
        "Probability of dropping the input while training, from 0 to 1 (torchvision's "
        "first blocks use 0.0); the identity at inference."))
    mode: Literal["row", "batch"] = Field("row", description=(
        "row: each sample of the batch is dropped on its own; batch: the whole batch at "
        "once."))

    def apply(self, shape: Shape) -> Step:
        return Step(shape)

    def explain(self, shape: Shape) -> Worked:
        return Worked(["the identity at inference: out = in, no FLOPs"], shape)

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return the gradient times the noise while training, one multiply per element,
        and the noise kept: one value per sample (mode row) or one for the batch; ``p =
        0`` returns its input."""
        if self.p == 0:
            return VIEW
        noise = Saved("noise", (1,) * len(shape), batched=self.mode == "row")
        return elementwise(shape, input_grad, (noise,),
                           note="the gradient times the noise, one per element")

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return the file's ``StochasticDepth`` (torchvision.ops' rule in plain torch),
        ``mode`` written where it is not row."""
        return TorchLeaf(call("StochasticDepth", self.p,
                              mode=self.mode if self.mode != "row" else None),
                         helper=_STOCHASTIC_DEPTH)


ElementwiseLayer = (Dropout | Activation | LeakyRelu | Elu | Prelu | LayerScale
                    | StochasticDepth)
"""This family's layer classes, in the order they are defined; the union of every layer
type (convcalc.layers.containers.Layer) is made of these."""
