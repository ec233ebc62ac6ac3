"""Layers that move or select channels and compute nothing: ``channel_shuffle`` and ``slice``.

Both keep every position where it is (spatially the identity, so the receptive field passes
through unchanged) and have no parameters, MACs or FLOPs. ShuffleNetV2 builds its blocks
from them: two branches that each ``slice`` half the channels, merged by ``concat``, then a
``channel_shuffle`` of 2 groups.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from convcalc.errors import LayerError
from convcalc.layers.backward import PASS_THROUGH, VIEW, Backward
from convcalc.layers.base import (
    LayerFamily,
    LayerSpec,
    NonNegative,
    Shape,
    Size,
    Step,
    TypeField,
    spatial,
)
from convcalc.layers.torch_source import TorchHelper, TorchLeaf, call
from convcalc.layers.worked import Worked, number

__all__ = ["ChannelLayer", "ChannelShuffle", "Slice"]

def _start_stop(value: Any) -> Any:
    """Refuse a list that is not two values as "[start, stop]", not as a missing key."""
    if isinstance(value, list | tuple) and len(value) != 2:
        raise PydanticCustomError("start_stop", "Input should be [start, stop], two ints "
                                                "(stop exclusive)")
    return value


_NOTHING_COMPUTED = "moves values only: no parameters, MACs or FLOPs"


class ChannelShuffle(LayerSpec):
    """Channel shuffle (ShuffleNet): the channels as ``groups`` groups of ``C/groups``,
    interleaved, so that the next grouped layer reads from every group.

    Output channel ``i`` is input channel ``(i mod groups)·(C/groups) + ⌊i/groups⌋``, as
    PyTorch's ``nn.ChannelShuffle`` (view as groups × C/groups, transpose, flatten). Needs
    a spatial input, as PyTorch's does.
    """

    family: ClassVar[LayerFamily] = LayerFamily.channels
    reference_op: ClassVar[str] = "convcalc.reference.ops.channels:channel_shuffle"
    type: TypeField[Literal["channel_shuffle"]]
    groups: Size = Field(description=(
        "Groups the channels are split into before they are interleaved; must divide the "
        "input channels (ShuffleNetV2 uses 2)."))

    def resolve(self, shape: Shape) -> int:
        """Return the channels per group, or raise unless ``groups`` divides the channels."""
        spatial(shape, "channel_shuffle")
        channels = shape[0]
        if channels % self.groups:
            raise LayerError(
                f"groups={self.groups} does not divide the {channels} input channels; "
                "channel_shuffle splits the channels into groups of equal size",
                field_name="groups",
            )
        return channels // self.groups

    def apply(self, shape: Shape) -> Step:
        self.resolve(shape)
        return Step(shape)

    def explain(self, shape: Shape) -> Worked:
        per_group = self.resolve(shape)
        return Worked([
            f"{shape[0]} channels as groups × C/groups = {self.groups} × {per_group}, "
            f"transposed: out channel i = in channel (i mod {self.groups})·{per_group} + "
            f"⌊i/{self.groups}⌋",
            _NOTHING_COMPUTED,
        ], shape)

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return a copy's backward: the gradient shuffled back, nothing kept. A shuffle
        that moves nothing (one group, or one channel a group) is a view of a contiguous
        input, as PyTorch's view, transpose and ``contiguous()`` leave it."""
        channels = self.resolve(shape)
        if self.groups == 1 or channels == 1:
            return Backward(view=True, needs_contiguous=True)
        return PASS_THROUGH

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``nn.ChannelShuffle(groups)``."""
        self.resolve(shape)
        return TorchLeaf(call("nn.ChannelShuffle", self.groups))


_CHANNEL_SLICE = TorchHelper("ChannelSlice", '''
class ChannelSlice(nn.Module):
    """Channels ``start`` to ``stop`` (stop exclusive) of the input: ``x[:, start:stop]``."""

    def __init__(self, start: int, stop: int) -> None:
        super().__init__()
        self.start = start
        self.stop = stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start:self.stop]

    def extra_repr(self) -> str:
        return f"start={self.start}, stop={self.stop}"
''')
"""The exported file's channel slice (PyTorch has no module for it)."""


class Slice(LayerSpec):
    """The channels ``start`` to ``stop`` of the input, stop exclusive, as PyTorch's
    ``x[:, start:stop]``: ``stop − start`` channels, every position kept.

    ShuffleNetV2's ``chunk(2)`` is two branches, one slicing ``[0, C/2]`` and one
    ``[C/2, C]``. On a flat input ``[C]`` it keeps those features.
    """

    family: ClassVar[LayerFamily] = LayerFamily.channels
    reference_op: ClassVar[str] = "convcalc.reference.ops.channels:channel_slice"
    type: TypeField[Literal["slice"]]
    channels: Annotated[tuple[NonNegative, NonNegative],
                        BeforeValidator(_start_stop)] = Field(description=(
        "[start, stop]: the channels kept, stop exclusive, 0 ≤ start < stop ≤ the input "
        "channels."))

    def resolve(self, shape: Shape) -> tuple[int, int]:
        """Return (start, stop), or raise unless 0 ≤ start < stop ≤ the input channels."""
        start, stop = self.channels
        if start >= stop:
            raise LayerError(
                f"channels [{start}, {stop}] keep nothing: start must be below stop (stop is "
                "exclusive, so [0, 2] keeps channels 0 and 1)",
                field_name="channels",
            )
        if stop > shape[0]:
            raise LayerError(
                f"channels [{start}, {stop}] reach past the input's {shape[0]} channels: "
                f"stop may be at most {shape[0]}",
                field_name="channels",
            )
        return start, stop

    def apply(self, shape: Shape) -> Step:
        start, stop = self.resolve(shape)
        return Step((stop - start, *shape[1:]))

    def explain(self, shape: Shape) -> Worked:
        start, stop = self.resolve(shape)
        kept = number(stop) - number(start)
        return Worked([
            f"channels {start} to {stop} of {shape[0]} (stop exclusive): C = {kept.text} = "
            f"{kept.value}",
            _NOTHING_COMPUTED,
        ], (kept.value, *shape[1:]))

    def backward(self, shape: Shape, input_grad: bool) -> Backward:
        """Return a view's backward (``x[:, start:stop]`` is a view of its input, strided
        unless it keeps every channel)."""
        start, stop = self.resolve(shape)
        return VIEW if stop - start == shape[0] else Backward(view=True, strided=True)

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return ``ChannelSlice(start, stop)``, the exported file's ``x[:, start:stop]``."""
        start, stop = self.resolve(shape)
        return TorchLeaf(call("ChannelSlice", start, stop), helper=_CHANNEL_SLICE)


ChannelLayer = ChannelShuffle | Slice
"""This family's layer classes, in the order they are defined; the union of every layer
type (convcalc.layers.containers.Layer) is made of these."""
