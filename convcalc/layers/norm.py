"""Normalisation layers: ``batchnorm``, ``layernorm``, ``groupnorm`` and ``instancenorm``.

Batchnorm (and instancenorm with running statistics) is counted in inference form: the
stored statistics fold into one scale and one shift per channel, ``x·a + b``, 2 FLOPs an
element. Layernorm, groupnorm and instancenorm without running statistics compute their
statistics from the input on every pass; for each group of ``n`` elements that share a
mean and variance (one position's channels, one group's channels and positions, one
channel's positions) the FLOPs counted are

* the mean: ``n − 1`` adds and one divide, ``n``;
* the variance: ``n`` subtracts (``x − mean``, kept for the next step), ``n`` squares,
  ``n − 1`` adds and one divide, ``3·n``;
* the standard deviation: add eps, one square root, ``2`` per group;
* normalising: each centred value divided by it, ``n``;

``5·numel + 2·groups`` in all, and with an affine transform one multiply (γ) and one add
(β) per element more. None of it is a MAC.

Every one of them passes the receptive field on unchanged, as batchnorm does: the field
is the local one, through windows. An output of groupnorm or of instancenorm without
running statistics also depends, through its group's mean and variance, on every
position of its group; docs/format.md says so where it describes them.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, StrictBool

from convcalc.common import shape_text
from convcalc.errors import LayerError
from convcalc.layers.backward import INPUT, Backward, Saved, per_element
from convcalc.layers.base import (
    Cost,
    LayerFamily,
    LayerSpec,
    Real,
    Shape,
    Size,
    Step,
    TypeField,
    numel,
    spatial,
)
from convcalc.layers.torch_source import TorchHelper, TorchLeaf, call
from convcalc.layers.worked import Term, Worked, equation, number, product

__all__ = ["BatchNorm", "GroupNorm", "InstanceNorm", "LayerNorm", "NormLayer"]


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

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return batchnorm's backward in training form (statistics of the batch): the
        input, the batch mean and the inverse standard deviation kept (one float32 per
        channel each, for the whole batch), and ``normalisation_flops``."""
        stats = tuple(Saved(what, (shape[0],), "float32", batched=False)
                      for what in ("mean", "inverse std"))
        return normalisation_backward(shape, input_grad, True, True, stats)

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.BatchNorm*d`` by the input's rank (``nn.BatchNorm1d`` on a flat one)."""
        rank = max(len(shape) - 1, 1)
        return TorchLeaf(call(f"nn.BatchNorm{rank}d", shape[0],
                              eps=self.eps if self.eps != 1e-5 else None))


_EPS_DESCRIPTION = ("Added to the variance before its square root: a finite number above 0 "
                    "(PyTorch's default 1e-5; ConvNeXt uses 1e-6).")


def _eps(eps: float) -> float | None:
    """Return ``eps`` for a PyTorch call, None (left out) where it is PyTorch's 1e-5."""
    return eps if eps != 1e-5 else None


def normalisation_backward(shape: Shape, input_grad: bool, weights: bool, biases: bool,
                           statistics: tuple[Saved, ...], contiguous: bool = False
                           ) -> Backward:
    """Return a normalisation's backward (``contiguous``: it copies a strided input first,
    as groupnorm and instancenorm do): dX ``4·numel`` (PyTorch's
    ``invstd·(g − mean(g) − x̂·mean(g·x̂))``: the product, two subtractions and the scale,
    the two means' sums folded in), dγ ``2·numel`` (x̂·g, summed) and dβ ``numel`` (g,
    summed); the input and the statistics kept."""
    count = (4 if input_grad else 0) + (2 if weights else 0) + (1 if weights and biases else 0)
    parts = [name for name, counted in (("dX 4", input_grad), ("dγ 2", weights),
                                        ("dβ 1", weights and biases)) if counted]
    return Backward(flops=per_element(count, shape) if count else None,
                    flops_note=", ".join(parts) + " per element",
                    saved=(Saved(INPUT, shape), *statistics), needs_contiguous=contiguous)


def _per_sample_statistics(count: int) -> tuple[Saved, ...]:
    """Return the mean and the inverse std a norm keeps: ``count`` float32 per sample."""
    return tuple(Saved(what, (count,), "float32") for what in ("mean", "inverse std"))


def statistics_flops(elements: int, groups: int) -> int:
    """Return the FLOPs of normalising ``elements`` by statistics of their own, in ``groups``
    groups: 5 per element (mean 1, variance 3, normalise 1) and 2 per group (eps, sqrt)."""
    return 5 * elements + 2 * groups


def _statistics_term(shape: Shape, groups: Term) -> Term:
    """Return ``5·numel + 2·groups`` as written."""
    return number(5) * product(list(shape)) + number(2) * groups


def _affine_lines(channels: int, weights: bool, biases: bool) -> tuple[list[str], int]:
    """Return the parameter line of a per-channel affine transform, and its count."""
    if not weights:
        return ["params = 0 (no affine transform)"], 0
    if not biases:
        return [equation("params", number(channels), "γ per channel, no β")], channels
    params = number(2) * number(channels)
    return [equation("params", params, "γ and β per channel")], params.value


def _affine_term(shape: Shape, weights: bool, biases: bool) -> Term | None:
    """Return the affine transform's FLOPs as written: γ·x (+ β) per element."""
    if not weights:
        return None
    per_element = 2 if biases else 1
    return number(per_element) * product(list(shape))


def _flops_note(group: str, weights: bool, biases: bool) -> str:
    affine = ("" if not weights else
              "; γ·x + β 2 per element" if biases else "; γ·x 1 per element")
    return (f"statistics: mean 1, variance 3, normalise 1 per element; eps and square root "
            f"2 per {group}{affine}")


def _one_element_warnings(elements: int, what: str, after: str = "") -> tuple[str, ...]:
    """Return the warning for groups of one element, whose every output is 0 (β alone)."""
    if elements > 1:
        return ()
    return (f"{what} normalises each element to 0: every output is the shift β alone (0 "
            f"without affine){after}",)


_CHANNEL_LAYER_NORM = TorchHelper("ChannelLayerNorm", '''
class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels (dim 1) at each position, as ConvNeXt's LayerNorm2d.

    nn.LayerNorm normalises the last dims, so the channels are moved last and back; its
    weight and bias are C each, as nn.LayerNorm(C) has them.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)
''')
"""The exported file's LayerNorm over the channels of a (N, C, *spatial) tensor."""


class LayerNorm(LayerSpec):
    """Layer normalisation over the channels at each position (ConvNeXt's LayerNorm2d; on a
    flat input [C], ``nn.LayerNorm(C)``).

    Params ``2·C`` (γ, β) with ``affine`` and ``bias``, ``C`` without ``bias``, none without
    ``affine``; no running statistics. FLOPs ``5·numel + 2·∏W`` (the statistics of each
    of the ∏W positions, 1 on a flat input) plus ``2·numel`` for γ and β.
    """

    family: ClassVar[LayerFamily] = LayerFamily.norm
    reference_op: ClassVar[str] = "convcalc.reference.ops.norm:layernorm"
    type: TypeField[Literal["layernorm"]]
    eps: Real = Field(1e-5, gt=0, description=_EPS_DESCRIPTION)
    affine: StrictBool = Field(True, description=(
        "Whether a learned scale γ per channel follows (PyTorch's elementwise_affine)."))
    bias: StrictBool = Field(True, description=(
        "Whether a learned shift β per channel follows γ; counts only with affine: true, "
        "as in PyTorch."))

    def apply(self, shape: Shape) -> Step:
        # γ and β, or γ alone, or neither: as many per channel as per element
        per_channel = (2 if self.bias else 1) if self.affine else 0
        channels, positions = shape[0], numel(shape[1:])
        flops = statistics_flops(numel(shape), positions) + per_channel * numel(shape)
        return Step(shape, Cost(params=per_channel * channels, flops=flops,
                                bias_params=channels if per_channel == 2 else 0),
                    warnings=_one_element_warnings(channels, "layernorm over 1 channel"))

    def explain(self, shape: Shape) -> Worked:
        positions = product(list(shape[1:])) if len(shape) > 1 else number(1)
        lines, params = _affine_lines(shape[0], self.affine, self.bias)
        lines.append(f"mean and variance over the {shape[0]} channels at each of "
                     f"{positions.value:,} position{'s' if positions.value != 1 else ''}")
        flops = _statistics_term(shape, positions)
        affine = _affine_term(shape, self.affine, self.bias)
        return Worked(lines, shape, params,
                      flops=flops if affine is None else flops + affine,
                      flops_note=_flops_note("position", self.affine, self.bias))

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return ``normalisation_backward``, the input and a mean and an inverse std per
        position (float32) kept."""
        positions = numel(shape[1:])
        return normalisation_backward(shape, input_grad, self.affine, self.bias,
                                      _per_sample_statistics(positions))

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.LayerNorm(C)`` on a flat input, else ``ChannelLayerNorm(C)``, the
        file's own subclass that normalises dim 1."""
        keywords = {"eps": _eps(self.eps),
                    "elementwise_affine": None if self.affine else False,
                    "bias": None if self.bias or not self.affine else False}
        if len(shape) == 1:
            return TorchLeaf(call("nn.LayerNorm", shape[0], **keywords))
        return TorchLeaf(call(_CHANNEL_LAYER_NORM.name, shape[0], **keywords),
                         helper=_CHANNEL_LAYER_NORM)


class GroupNorm(LayerSpec):
    """Group normalisation: the channels in ``groups`` groups, each normalised over its
    channels and every position (``nn.GroupNorm``).

    Params ``2·C`` (γ, β per channel) with ``affine``; no running statistics. FLOPs
    ``5·numel + 2·groups`` plus ``2·numel`` for γ and β.
    """

    family: ClassVar[LayerFamily] = LayerFamily.norm
    reference_op: ClassVar[str] = "convcalc.reference.ops.norm:groupnorm"
    type: TypeField[Literal["groupnorm"]]
    groups: Size = Field(description=(
        "How many groups the channels are split into, each normalised on its own; must "
        "divide the input channels."))
    eps: Real = Field(1e-5, gt=0, description=_EPS_DESCRIPTION)
    affine: StrictBool = Field(True, description=(
        "Whether a learned scale γ and shift β per channel follow."))

    def resolve(self, shape: Shape) -> int:
        """Return the channels in each group, or raise if ``groups`` does not divide C."""
        channels = shape[0]
        if channels % self.groups:
            raise LayerError(
                f"groups={self.groups} does not divide the {channels} input channels: "
                f"groupnorm splits C={channels} into groups of C/groups channels; use a "
                f"divisor of {channels}",
                field_name="groups",
            )
        return channels // self.groups

    def apply(self, shape: Shape) -> Step:
        elements = self.resolve(shape) * numel(shape[1:])
        params = 2 * shape[0] if self.affine else 0
        flops = statistics_flops(numel(shape), self.groups)
        flops += 2 * numel(shape) if self.affine else 0
        # torch checks this in eval mode too
        warnings = _one_element_warnings(elements, "groupnorm with one element a group",
                                         "; PyTorch's GroupNorm refuses it at batch 1")
        return Step(shape, Cost(params=params, flops=flops,
                                bias_params=shape[0] if self.affine else 0),
                    warnings=warnings)

    def explain(self, shape: Shape) -> Worked:
        per_group = self.resolve(shape)
        lines, params = _affine_lines(shape[0], self.affine, True)
        elements = product([per_group, *shape[1:]])
        lines.append(f"{self.groups} group{'s' if self.groups != 1 else ''} of C/groups = "
                     f"{shape[0]}/{self.groups} = {per_group} channel"
                     f"{'s' if per_group != 1 else ''}; mean and variance over "
                     + equation("n", elements, "elements per group"))
        flops = _statistics_term(shape, number(self.groups))
        affine = _affine_term(shape, self.affine, True)
        return Worked(lines, shape, params,
                      flops=flops if affine is None else flops + affine,
                      flops_note=_flops_note("group", self.affine, True))

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return ``normalisation_backward``, the input and a mean and an inverse std per
        group (float32) kept."""
        self.resolve(shape)
        return normalisation_backward(shape, input_grad, self.affine, self.affine,
                                      _per_sample_statistics(self.groups), contiguous=True)

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.GroupNorm(groups, C)``."""
        self.resolve(shape)
        return TorchLeaf(call("nn.GroupNorm", self.groups, shape[0], eps=_eps(self.eps),
                              affine=None if self.affine else False))


class InstanceNorm(LayerSpec):
    """Instance normalisation: each channel of each sample normalised over its positions
    (``nn.InstanceNorm*d``), so it needs a spatial input.

    Params ``2·C`` (γ, β) with ``affine``; ``2·C`` non-trainable running statistics with
    ``track_running_stats``, which inference then uses as batchnorm does: ``2·numel``
    FLOPs (``x·a + b``). Without them FLOPs ``5·numel + 2·C`` plus ``2·numel`` for γ and β.
    """

    family: ClassVar[LayerFamily] = LayerFamily.norm
    reference_op: ClassVar[str] = "convcalc.reference.ops.norm:instancenorm"
    type: TypeField[Literal["instancenorm"]]
    eps: Real = Field(1e-5, gt=0, description=_EPS_DESCRIPTION)
    affine: StrictBool = Field(False, description=(
        "Whether a learned scale γ and shift β per channel follow (PyTorch's default: no)."))
    track_running_stats: StrictBool = Field(False, description=(
        "Whether running mean and variance per channel are kept (non-trainable) and used "
        "at inference instead of each sample's own (PyTorch's default: no)."))

    def resolve(self, shape: Shape) -> None:
        """Raise unless the input is spatial with more than one position to normalise over
        (with running statistics, one position will do)."""
        if numel(spatial(shape, self.type)) == 1 and not self.track_running_stats:
            raise LayerError(
                f"instancenorm over the one position of {shape_text(shape)} normalises every "
                "channel to 0, and PyTorch refuses it (more than 1 spatial element needed); "
                "put it before the layer that leaves one position, or keep running "
                "statistics (track_running_stats: true)"
            )

    def apply(self, shape: Shape) -> Step:
        self.resolve(shape)
        channels = shape[0]
        if self.track_running_stats:
            flops = 2 * numel(shape)
        else:
            flops = statistics_flops(numel(shape), channels)
            flops += 2 * numel(shape) if self.affine else 0
        return Step(shape, Cost(params=2 * channels if self.affine else 0,
                                non_trainable_params=(2 * channels if self.track_running_stats
                                                      else 0),
                                flops=flops, bias_params=channels if self.affine else 0))

    def explain(self, shape: Shape) -> Worked:
        self.resolve(shape)
        lines, params = _affine_lines(shape[0], self.affine, True)
        stored = 2 * shape[0] if self.track_running_stats else 0
        if self.track_running_stats:
            lines.append(equation("non-trainable", number(2) * number(shape[0]),
                                  "running mean and variance"))
            return Worked(lines, shape, params, stored, flops=number(2) * product(list(shape)),
                          flops_note="inference form with the running statistics, x·a + b: "
                                     "a multiply and an add per element")
        positions = product(list(shape[1:]))
        lines.append(f"mean and variance of each of the {shape[0]} channels over "
                     + equation("n", positions, "positions"))
        flops = _statistics_term(shape, number(shape[0]))
        affine = _affine_term(shape, self.affine, True)
        return Worked(lines, shape, params,
                      flops=flops if affine is None else flops + affine,
                      flops_note=_flops_note("channel", self.affine, True))

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return ``normalisation_backward`` in training form (each sample's own
        statistics, running statistics or not): PyTorch runs it as a batchnorm over the
        batch's N·C channels, so it keeps the input, a mean and an inverse std per channel
        (float32), and the copies it made of γ (with affine) and of the running mean and
        variance (with track_running_stats), C per sample each."""
        self.resolve(shape)
        channels = (shape[0],)
        copies = (("γ copy",) if self.affine else ()) + (
            ("running mean copy", "running var copy") if self.track_running_stats else ())
        return normalisation_backward(
            shape, input_grad, self.affine, self.affine,
            (*_per_sample_statistics(shape[0]), *(Saved(what, channels) for what in copies)),
            contiguous=True)

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.InstanceNorm*d`` by the input's rank."""
        self.resolve(shape)
        rank = len(shape) - 1
        return TorchLeaf(call(f"nn.InstanceNorm{rank}d", shape[0], eps=_eps(self.eps),
                              affine=True if self.affine else None,
                              track_running_stats=True if self.track_running_stats else None))


NormLayer = BatchNorm | LayerNorm | GroupNorm | InstanceNorm
"""This family's layer classes, in the order they are defined; the union of every layer
type (convcalc.layers.containers.Layer) is made of these."""
