"""Containers: ``sequential``, ``residual`` and ``parallel``, and how branches merge.

A container is a list of bodies run on the same input and, when there is more than one,
a merge. ``sequential`` has one body; ``residual`` has ``layers`` and ``shortcut`` (the
identity when absent) merged by ``add``; ``parallel`` has its ``branches`` merged by
``concat`` (over channels) or ``add``. ``repeat: N`` runs the whole container N times in
a row. The analysis walks bodies; this module only says what they are and which merge
joins them (the merges' rules are in ``convcalc.layers.merges``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field, Strict

from convcalc.layers.base import Cost, LayerFamily, LayerSpec, Shape
from convcalc.layers.merges import MergeName, merge_definition

if TYPE_CHECKING:
    from convcalc.spec import Layer

__all__ = ["MAX_REPEAT", "Container", "Parallel", "Residual", "Sequential", "merge_shapes"]

MAX_REPEAT = 1_000_000
Repeat = Annotated[int, Strict(), Field(ge=1, le=MAX_REPEAT)]

Body = tuple[tuple[str | int, ...], Sequence[LayerSpec]]
"""A body: its path inside the container (for messages) and its layers."""


class Container(LayerSpec):
    """Base of the containers: bodies over one input, then a merge when there are several."""

    family: ClassVar[LayerFamily] = LayerFamily.container
    container: ClassVar[bool] = True
    repeat: Repeat = 1

    def bodies(self) -> list[Body]:
        """Return the bodies, each with its path inside this container."""
        raise NotImplementedError

    @property
    def merge_kind(self) -> MergeName | None:
        """Return how the bodies' outputs combine, or None for a single body."""
        return None


class Sequential(Container):
    """Layers run one after another."""

    type: Literal["sequential"]
    layers: list[Layer]

    def bodies(self) -> list[Body]:
        return [(("layers",), self.layers)]


class Residual(Container):
    """``layers(x) + shortcut(x)``; the shortcut is the identity when absent."""

    type: Literal["residual"]
    layers: list[Layer]
    shortcut: list[Layer] | None = None

    def bodies(self) -> list[Body]:
        return [(("layers",), self.layers), (("shortcut",), self.shortcut or [])]

    @property
    def merge_kind(self) -> MergeName | None:
        return "add"


class Parallel(Container):
    """Branches over the same input (Inception), merged by ``concat`` or ``add``; [] is x."""

    type: Literal["parallel"]
    branches: Annotated[list[list[Layer]], Field(min_length=1)]
    merge: MergeName = "concat"

    def bodies(self) -> list[Body]:
        return [(("branches", i), branch) for i, branch in enumerate(self.branches)]

    @property
    def merge_kind(self) -> MergeName | None:
        return self.merge


def merge_shapes(kind: MergeName, shapes: list[Shape]) -> tuple[Shape, Cost]:
    """Return the merged shape and its cost: ``add`` takes (n−1)·numel FLOPs, concat none.

    Raises LayerError when the shapes cannot merge (naming every branch's shape), or when
    ``kind`` names no merge.
    """
    return merge_definition(kind).apply(shapes)
