"""Containers: ``sequential``, ``residual``, ``parallel`` and ``aux``, how branches
merge, and ``Layer``, the union of every layer type.

A container is a list of bodies run on the same input and, when there is more than one,
a merge, then its ``after`` layers on the merged output. ``sequential`` has one body;
``residual`` has ``layers`` and ``shortcut`` (the identity when absent) merged by
``add``; ``parallel`` has its ``branches`` merged by ``concat`` (over channels), ``add``
or ``mul`` (broadcasting). ``aux`` is an auxiliary head: its one body runs on the current
tensor and its output leaves the network, while the main path goes on with the tensor
unchanged. ``repeat: N`` runs the whole container N times in a row (not an ``aux``). The
analysis walks bodies; this module only says what they are and which merge joins them
(the merges' rules are in ``convcalc.layers.merges``).

A container holds any layer, containers included, so the containers and the union of
every layer type are defined together, here, after every family module: the containers'
``list[Layer]`` fields name ``Layer`` before it exists, and pydantic resolves the name in
this module when a container's schema is first needed (building it at import would cost
every run the schema of every layer type, which ``convcalc layer`` never needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias, Union, get_args

from pydantic import BeforeValidator, Discriminator, Field, Strict, Tag, model_validator
from pydantic_core import PydanticCustomError

from convcalc.layers.base import REGISTRY, Cost, LayerFamily, LayerSpec, Shape, TypeField
from convcalc.layers.channels import ChannelLayer
from convcalc.layers.conv import ConvLayer
from convcalc.layers.dense import DenseLayer
from convcalc.layers.elementwise import ElementwiseLayer
from convcalc.layers.merges import MergeName, merge_definition
from convcalc.layers.norm import NormLayer
from convcalc.layers.pool import PoolLayer
from convcalc.layers.resample import ResampleLayer

__all__ = [
    "LAYER_CLASSES",
    "MAX_REPEAT",
    "Aux",
    "Container",
    "Layer",
    "Parallel",
    "Residual",
    "Sequential",
    "merge_shapes",
]

MAX_REPEAT = 1_000_000
Repeat = Annotated[int, Strict(), Field(ge=1, le=MAX_REPEAT)]

Body = tuple[tuple[str | int, ...], Sequence[LayerSpec]]
"""A body: its path inside the container (for messages) and its layers."""


class Container(LayerSpec):
    """Base of the containers: bodies over one input, then a merge when there are several."""

    family: ClassVar[LayerFamily] = LayerFamily.container
    container: ClassVar[bool] = True
    repeat: Repeat = Field(1, description="Run the container this many times in a row, each "
                                          "time with its own weights.")

    aux: ClassVar[bool] = False
    """True for ``aux``: its output leaves the network and the main path goes on with its
    input unchanged."""

    def bodies(self) -> list[Body]:
        """Return the bodies, each with its path inside this container."""
        raise NotImplementedError

    def after_layers(self) -> Sequence[LayerSpec]:
        """Return the layers run on the merged output, inside the container ([]: none)."""
        return []

    @property
    def merge_kind(self) -> MergeName | None:
        """Return how the bodies' outputs combine, or None for a single body."""
        return None


class Sequential(Container):
    """Layers run one after another."""

    type: TypeField[Literal["sequential"]]
    layers: list[Layer] = Field(description="The layers, in order.")

    def bodies(self) -> list[Body]:
        return [(("layers",), self.layers)]


class Residual(Container):
    """``layers(x) + shortcut(x)``; the shortcut is the identity when absent."""

    type: TypeField[Literal["residual"]]
    layers: list[Layer] = Field(description="The layers, in order.")
    shortcut: list[Layer] | None = Field(None, description=(
        "The shortcut's layers, added to the output of layers; absent or [] is the identity."))
    after: list[Layer] | None = Field(None, description=(
        "Layers run on the merged output inside the container (the ReLU after a residual "
        "add): rows of the block, named under it; absent or [] is none."))

    def bodies(self) -> list[Body]:
        return [(("layers",), self.layers), (("shortcut",), self.shortcut or [])]

    def after_layers(self) -> Sequence[LayerSpec]:
        return self.after or []

    @property
    def merge_kind(self) -> MergeName | None:
        return "add"


class Parallel(Container):
    """Branches over the same input (Inception), merged by ``concat``, ``add`` or ``mul``;
    [] is x."""

    type: TypeField[Literal["parallel"]]
    branches: list[list[Layer]] = Field(min_length=1, description=(
        "The branches, each a list of layers over the same input; [] is the identity."))
    merge: MergeName = Field("concat", description=(
        "How the branches combine: concat over channels, add (equal shapes), or mul "
        "(elementwise product with broadcasting: in every dimension each branch is the "
        "largest size or 1)."))
    after: list[Layer] | None = Field(None, description=(
        "Layers run on the merged output inside the container (the ReLU after a residual "
        "add): rows of the block, named under it; absent or [] is none."))

    def bodies(self) -> list[Body]:
        return [(("branches", i), branch) for i, branch in enumerate(self.branches)]

    def after_layers(self) -> Sequence[LayerSpec]:
        return self.after or []

    @property
    def merge_kind(self) -> MergeName | None:
        return self.merge


class Aux(Container):
    """An auxiliary head (Inception v3's ``AuxLogits``): ``layers`` run on the current
    tensor and their output leaves the network; the main path goes on with the tensor
    unchanged. Not inside another ``aux``; takes no ``repeat``."""

    aux: ClassVar[bool] = True
    type: TypeField[Literal["aux"]]
    layers: list[Layer] = Field(min_length=1, description=(
        "The head's layers, in order, on the current tensor; their output leaves the "
        "network."))

    @model_validator(mode="before")
    @classmethod
    def _no_repeat(cls, data: Any) -> Any:
        if isinstance(data, dict) and "repeat" in data:
            raise PydanticCustomError(
                "aux_repeat", "an aux head takes no repeat (it runs once, on the tensor "
                "where it stands); repeat the container around it instead")
        return data

    def bodies(self) -> list[Body]:
        return [(("layers",), self.layers)]


def merge_shapes(kind: MergeName, shapes: list[Shape]) -> tuple[Shape, Cost]:
    """Return the merged shape and its cost: ``add`` takes (n−1)·numel FLOPs, concat none.

    Raises LayerError when the shapes cannot merge (naming every branch's shape), or when
    ``kind`` names no merge.
    """
    return merge_definition(kind).apply(shapes)


AnyLayer = (ChannelLayer | ConvLayer | DenseLayer | ElementwiseLayer | NormLayer | PoolLayer
            | ResampleLayer | Sequential | Residual | Parallel | Aux)
"""Every layer class, family by family in the order they register."""

LAYER_CLASSES: tuple[type[LayerSpec], ...] = get_args(AnyLayer)
"""Every layer class once, in the order they register (a test checks it is the registry's)."""


def _expand_shorthand(value: Any) -> Any:
    """Return ``{"type": value}`` for a bare string such as ``relu``."""
    return {"type": value} if isinstance(value, str) else value


def _layer_class_tag(value: Any) -> str | None:
    """Return the name of the class that implements this layer's ``type``, or None."""
    type_name = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    cls = REGISTRY.get(type_name) if isinstance(type_name, str) else None
    return cls.__name__ if cls else None


if TYPE_CHECKING:
    Layer: TypeAlias = AnyLayer
else:
    Layer = Annotated[
        Union[tuple(Annotated[cls, Tag(cls.__name__)] for cls in LAYER_CLASSES)],  # noqa: UP007
        Discriminator(
            _layer_class_tag,
            custom_error_type="unknown_layer_type",
            custom_error_message="unknown layer type",
        ),
        BeforeValidator(_expand_shorthand),
    ]
"""Any layer of the format, chosen by its ``type`` (for mypy: the union of the classes)."""
