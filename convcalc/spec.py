"""The network as the user wrote it: pydantic models of the YAML format, version 1.

``Network`` is the whole file; ``Layer`` (defined with the containers, in
``convcalc.layers.containers``) is any layer, chosen by its ``type`` (a bare string such
as ``relu`` is a layer without options). Validation here is per field; whether the
layers fit together is the analysis's business.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
)

from convcalc.layers import REGISTRY, Layer, LayerSpec
from convcalc.layers.base import MAX_SIZE
from convcalc.textsafe import echo

__all__ = ["LAYER_TYPES", "Layer", "Network", "parse_shape"]

_SHAPE_SEPARATOR = re.compile(r"\s*[x×X,]\s*")
_ASCII_DIGITS = re.compile(r"[0-9]+")

LAYER_TYPES: tuple[str, ...] = tuple(sorted(REGISTRY))
"""Every layer type name the format accepts."""


def parse_shape(value: Any) -> Any:
    """Return ``3x224x224`` (also ``3×224×224``, ``3,224,224``) as a list of ints.

    Sizes are ASCII digits only (``str.isdigit`` would take ``٣`` and ``²``). Anything
    that is not a string is returned unchanged for the field's own validation.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, str):
        return value
    parts = _SHAPE_SEPARATOR.split(value.strip())
    if not all(_ASCII_DIGITS.fullmatch(p) for p in parts):
        raise ValueError(
            f"{echo(value)} is not a shape; write channels first in digits 0-9, e.g. "
            "3x224x224 (C×H×W), 3x100 (C×L) or 1x16x64x64 (C×D×H×W)"
        )
    if any(len(p.lstrip("0")) > len(str(MAX_SIZE)) for p in parts):  # before int(): no
        raise ValueError(                                                # 5,000-digit ints
            f"{echo(value)} is not a shape: each size is at most {MAX_SIZE:,}")
    return [int(p) for p in parts]


def _only_version_1(value: Any) -> Any:
    """Return 1 for ``version: 1``; refuse ``true`` and ``1.0``, which YAML would allow."""
    if type(value) is not int or value != 1:
        raise ValueError(f"the only format version is 1, got {echo(value)}")
    return value


InputShape = Annotated[
    tuple[Annotated[int, Strict(), Field(ge=1, le=MAX_SIZE)], ...],
    Field(min_length=1, max_length=4),
    BeforeValidator(parse_shape),
]


class Network(BaseModel):
    """A whole network file.

    Attributes:
        version: the format version; only 1 exists.
        name: a label for reports.
        input: the input shape without batch, channels first: [C], [C, L], [C, H, W] or
            [C, D, H, W].
        layers: the layers, in order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    version: Annotated[Literal[1], BeforeValidator(_only_version_1)] = 1
    name: Annotated[str, Strict(), Field(max_length=200)] | None = None
    input: InputShape
    layers: Annotated[list[Layer], Field(min_length=1)]


def layer_class(type_name: str) -> type[LayerSpec] | None:
    """Return the class implementing a layer type name, or None when there is none."""
    return REGISTRY.get(type_name)
