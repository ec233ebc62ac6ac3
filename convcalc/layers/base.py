"""What every layer type provides, and the field types the layer modules share.

A layer type is one pydantic model in one module of this package. It declares its YAML
fields and, next to them, its rules: ``resolve`` (its options per dim against one input),
``apply`` (output shape, cost, receptive-field step and warnings, from ``resolve``),
``explain`` (the worked formulas, from the same values) and ``to_pytorch`` (its PyTorch
module, as source). Defining the class registers it. Each field carries its
``Field(description=...)``, the text ``convcalc schema`` gives editors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    ClassVar,
    Literal,
    NamedTuple,
    TypeVar,
    cast,
    get_args,
    get_origin,
)

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictBool
from pydantic_core import PydanticCustomError

from convcalc.common import shape_text
from convcalc.errors import LayerError
from convcalc.geometry import IndexMap, same_padding

if TYPE_CHECKING:  # worked.py builds on this module
    from convcalc.layers.torch_source import TorchLeaf
    from convcalc.layers.worked import Worked

__all__ = [
    "MAX_SIZE",
    "REGISTRY",
    "Bias",
    "Cost",
    "Dilation",
    "Dims",
    "Kernel",
    "LayerFamily",
    "LayerSpec",
    "Name",
    "NonNegative",
    "Padding",
    "Real",
    "Shape",
    "Size",
    "Step",
    "Stride",
    "TypeField",
    "WindowPadding",
    "numel",
    "per_dim",
    "resolve_padding",
    "spatial",
]

MAX_SIZE = 2**31 - 1
"""The largest size, channel count, kernel or stride a field accepts."""

Shape = tuple[int, ...]
"""A tensor shape without the batch: (C,), (C, L), (C, H, W) or (C, D, H, W)."""

Size = Annotated[int, Strict(), Field(ge=1, le=MAX_SIZE)]
NonNegative = Annotated[int, Strict(), Field(ge=0, le=MAX_SIZE)]
Dims = Size | tuple[Size, ...]
"""One int for every spatial dimension, or one per dimension."""
Padding = (
    Literal["same", "valid"]
    | NonNegative
    | tuple[NonNegative, ...]
    | tuple[tuple[NonNegative, NonNegative], ...]
)
"""Padding: ``same``, ``valid``, one int, one per dim, or (before, after) per dim."""

# The fields several layer types share, each with the description ``convcalc schema``
# gives it; a type whose field means something else declares its own (conv_transpose's
# padding, the pools' stride).
_T = TypeVar("_T")
TypeField = Annotated[_T, Field(description="The layer type.")]
"""A layer class's ``type`` field, ``TypeField[Literal["conv"]]``: its type names."""
Kernel = Annotated[Dims, Field(
    description="Kernel size: one int for every spatial dimension, or one per dimension "
                "such as [3, 1].")]
Stride = Annotated[Dims, Field(description="Step between windows: one int, or one per "
                                           "dimension.")]
Dilation = Annotated[Dims, Field(description="Spacing between kernel taps: one int, or one "
                                             "per dimension.")]
WindowPadding = Annotated[Padding, Field(
    description="Padding: same (TensorFlow's rule, output ceil(W/S)), valid (none), one "
                "int, one per dimension [1, 2], or (before, after) per dimension [[0, 1], "
                "[0, 1]].")]
"""A sliding window's padding (conv and the pools), in any form ``Padding`` takes."""
Bias = Annotated[StrictBool, Field(description="Whether a learned bias is added per output "
                                               "channel or unit.")]


def _finite_float(value: Any) -> Any:
    """Return ``"1e-5"`` as 1e-05 (YAML 1.1 reads exponents without a dot as strings), and
    refuse a number that is not finite.

    The check runs before the field's bounds, so ``.nan`` is called what it is rather than
    "should be greater than 0".
    """
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
    if isinstance(number, float) and not math.isfinite(number):
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    return number


Real = Annotated[float, Strict(), BeforeValidator(_finite_float)]
"""A finite number; ints and YAML's dotless exponents (``1e-5``) are accepted.

Every float option (``batchnorm.eps``, ``dropout.p``, ``leaky_relu.negative_slope``) needs
a finite value to mean anything, so ``.inf``, ``-.inf`` and ``.nan`` (and exponents past
the float range, such as ``1e999``) are refused, with "should be a finite number".
"""
Name = Annotated[str, Strict(), Field(min_length=1, max_length=200, pattern=r"^[^.\s]+$")]
"""A layer name: no dots (they join a nested layer's full name) and no spaces."""

REGISTRY: dict[str, type[LayerSpec]] = {}
"""Layer type name (as written in YAML) -> the model class that implements it."""


class LayerFamily(StrEnum):
    """The families of layer types: one module of this package each, and one module of
    reference ops each (``convcalc/reference/ops/<family>.py``)."""

    conv = "conv"
    pool = "pool"
    dense = "dense"
    elementwise = "elementwise"
    norm = "norm"
    resample = "resample"
    container = "container"
    channels = "channels"
    unknown = "unknown"


class Cost(NamedTuple):
    """What one layer costs for one sample (the analysis scales MACs and FLOPs by batch).

    Attributes:
        params: learnable parameters, as PyTorch counts them.
        non_trainable_params: stored but not learned (BatchNorm running statistics).
        macs: weight multiply-accumulates (conv, conv_transpose and linear only).
        flops: floating-point operations by docs/conventions.md.
        bias_params: how many of ``params`` are biases (for the explanation).
    """

    params: int = 0
    non_trainable_params: int = 0
    macs: int = 0
    flops: int = 0
    bias_params: int = 0


class Step(NamedTuple):
    """One layer applied to one input shape.

    Attributes:
        output_shape: the output shape, channels first, batch not included.
        cost: parameters, MACs and FLOPs for one sample.
        index_maps: the receptive-field step, one map per spatial dim; ``()`` leaves the
            field as it is (elementwise layers); ``None`` mixes all positions (flatten,
            linear, global pooling), after which the field is global.
        warnings: what the user should know (input rows that are never read).
        known: False for a layer that stands for an operation convcalc does not know
            (``unknown``): its row is marked ``unknown``, the totals are lower bounds, and
            the receptive field is untracked from it on.
    """

    output_shape: Shape
    cost: Cost = Cost()
    index_maps: tuple[IndexMap, ...] | None = ()
    warnings: tuple[str, ...] = ()
    known: bool = True


class LayerSpec(BaseModel):
    """Base of every layer model: frozen, strict about unknown keys, self-registering."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    container: ClassVar[bool] = False
    family: ClassVar[LayerFamily]
    """The family this type belongs to."""
    reference_op: ClassVar[str]
    """Where verify finds this type's reference op, ``"convcalc.reference.ops.<family>:<name>"``:
    a string, so that nothing in this package imports numpy or numba."""
    reference_ops: ClassVar[Mapping[str, str]] = {}
    """For a class of several types, each type's reference op (instead of ``reference_op``)."""
    type: str
    """The type's names; every layer class declares it as ``TypeField[Literal[...]]``."""
    name: Annotated[Name | None, Field(
        description="The layer's name, unique among its siblings; no dots or spaces. "
                    "Unnamed layers are called <type><n> (conv1, relu2, …).")] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # ``type: Literal["relu", "relu6"]`` registers every name in the Literal.
        annotation = cls.model_fields["type"].annotation
        if get_origin(annotation) is Literal:
            for type_name in get_args(annotation):
                REGISTRY[type_name] = cls

    @classmethod
    def reference_op_of(cls, type_name: str) -> str:
        """Return where the reference op of ``type_name``, one of this class's types, lives."""
        return cls.reference_ops.get(type_name) or cls.reference_op

    def apply(self, shape: Shape) -> Step:
        """Return what this layer does to an input of ``shape`` (batch not included).

        Raises LayerError (with ``field_name`` where one field is to blame) when the
        layer cannot take that input.
        """
        raise NotImplementedError

    def explain(self, shape: Shape) -> Worked:
        """Return this layer's worked formulas on an input of ``shape`` (one sample).

        Built from the values ``resolve`` gives, with the arithmetic written out; every
        layer type defines it (a test asserts that each registered type does).
        """
        raise NotImplementedError(f"the {self.type} layer ({type(self).__name__}) has no "
                                  "explain()")

    def to_pytorch(self, shape: Shape) -> TorchLeaf:
        """Return this layer as PyTorch source on an input of ``shape``: its ``nn`` module,
        and the pad module before it where PyTorch's own padding cannot express it.

        Built from the values ``resolve`` gives, with ``convcalc.layers.torch_source``;
        every leaf type defines it (a test asserts that each registered type does).
        Containers are laid out by the exporter's walk instead.
        """
        raise NotImplementedError(f"the {self.type} layer ({type(self).__name__}) has no "
                                  "to_pytorch()")

    def output_shape(self, shape: Shape) -> Shape:
        """Return the output shape for an input of ``shape``."""
        return self.apply(shape).output_shape


def numel(shape: Shape) -> int:
    """Return the number of elements of a shape."""
    return math.prod(shape)


def spatial(shape: Shape, layer_type: str, minimum: int = 1) -> Shape:
    """Return the spatial dims of ``shape``, or raise if it has too few for ``layer_type``."""
    dims = shape[1:]
    if len(dims) < minimum:
        raise LayerError(
            f"{layer_type} needs an input with a spatial dimension (C×L, C×H×W or C×D×H×W), "
            f"got the flat shape {shape_text(shape)}; it must come before flatten, linear or "
            "global pooling"
        )
    return dims


def per_dim(value: int | tuple[int, ...], rank: int, field: str) -> tuple[int, ...]:
    """Return ``value`` as one int per spatial dim, or raise if a list has the wrong length."""
    if isinstance(value, int):
        return (value,) * rank
    if len(value) != rank:
        raise LayerError(
            f"{field} has {len(value)} values {list(value)} but the input has {rank} spatial "
            f"dimension{'s' if rank != 1 else ''}: give one int or {rank} ints",
            field_name=field,
        )
    return tuple(value)


def resolve_padding(
    padding: Padding,
    dims: Shape,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[tuple[int, int], ...]:
    """Return (before, after) padding per spatial dim for any accepted padding form."""
    rank = len(dims)
    if padding == "valid":
        return ((0, 0),) * rank
    if padding == "same":
        return tuple(
            same_padding(size, k, s, d)
            for size, k, s, d in zip(dims, kernel, stride, dilation, strict=True)
        )
    if isinstance(padding, int):
        return ((padding, padding),) * rank
    if padding and isinstance(padding[0], tuple):
        # per_dim checks only the count, so it takes pairs too; it is typed for ints.
        sides: tuple[Any, ...] = per_dim(padding, rank, "padding")  # type: ignore[arg-type]
        return tuple((int(b), int(a)) for b, a in sides)
    return tuple((p, p) for p in per_dim(cast("tuple[int, ...]", padding), rank, "padding"))
