"""Constant tensors and the numpy evaluation of constant subgraphs.

Exporters compute shapes and paddings inside the graph: torch writes a flatten with a
symbolic batch as Shape → Gather → Unsqueeze → Concat → Reshape, and every ``F.pad`` as
ConstantOfShape, Concat, Reshape, Slice, Transpose and Cast feeding Pad's ``pads``. Those
nodes read only constants (and the shapes of computed tensors, which the importer
knows), so they are evaluated here with numpy rather than refused. Each folded tensor is
bounded (``MAX_FOLDED`` elements), checked before it is made where an op could make a
large one from a small input (ConstantOfShape, Range, Expand, Tile), so that a hostile
file cannot exhaust memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FOLDABLE", "MAX_FOLDED", "Const", "FoldError", "fold"]

MAX_FOLDED = 2**20
"""The most elements a tensor made by folding may have."""


class FoldError(Exception):
    """A constant subgraph cannot be evaluated; the message says why (one line)."""


@dataclass
class Const:
    """A constant tensor: an initializer, a Constant node's value, or a folded result.

    Attributes:
        dims: its shape, always known (an initializer's dims are in the file even when its
            data is stored outside it).
        origin: the initializer's or node's name, for messages.
        loader: makes the value on first use (initializers convert lazily: a weight is
            only ever needed for its dims); None once ``array`` is set or for external data.
        array: the values, once made.
        initializer: it is one of the graph's initializers (a learned weight, where a
            Constant node holds a fixed value).
    """

    dims: tuple[int, ...]
    origin: str
    loader: Callable[[], np.ndarray] | None = None
    array: np.ndarray | None = field(default=None, repr=False)
    initializer: bool = False

    @property
    def size(self) -> int:
        """Return the number of elements."""
        return math.prod(self.dims)

    def value(self) -> np.ndarray:
        """Return the tensor's values, or raise FoldError when they are not in the file."""
        if self.array is None:
            if self.loader is None:
                raise FoldError(f"the values of {self.origin!r} are stored outside the file "
                                "(external data), and they are needed here")
            if self.size > MAX_FOLDED:
                raise FoldError(f"{self.origin!r} has {self.size:,} elements, more than "
                                f"the {MAX_FOLDED:,} a shape computation may use")
            self.array = self.loader()
            self.loader = None
        return self.array

    @staticmethod
    def of(array: np.ndarray, origin: str) -> Const:
        """Return a constant holding ``array``."""
        return Const(tuple(int(d) for d in array.shape), origin, array=array)


def _bounded(dims: Sequence[int], what: str) -> tuple[int, ...]:
    """Return ``dims`` as ints, or raise FoldError if they are negative or too many elements."""
    dims = tuple(int(d) for d in dims)
    if any(d < 0 for d in dims):
        raise FoldError(f"{what} has a negative dimension {list(dims)}")
    if math.prod(dims) > MAX_FOLDED:
        raise FoldError(f"{what} would have {math.prod(dims):,} elements, more than the "
                        f"{MAX_FOLDED:,} a shape computation may make")
    return dims


def _ints(value: np.ndarray | None) -> list[int]:
    return [] if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


def _axes(attrs: dict[str, Any], inputs: Sequence[np.ndarray | None], at: int) -> list[int]:
    """Return the ``axes`` attribute (older opsets) or input ``at`` (opset 13 on)."""
    if "axes" in attrs:
        return [int(a) for a in attrs["axes"]]
    return _ints(inputs[at]) if len(inputs) > at else []


Fold = Callable[[dict[str, Any], Sequence[Any]], list[np.ndarray]]


def _unsqueeze(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    x = np.asarray(inputs[0])
    axes = _axes(attrs, inputs, 1)
    rank = x.ndim + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = np.expand_dims(x, axis)
    return [x]


def _squeeze(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    x = np.asarray(inputs[0])
    axes = _axes(attrs, inputs, 1)
    return [np.squeeze(x, axis=tuple(a % x.ndim for a in axes) if axes else None)]


def _reshape(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    x = np.asarray(inputs[0])
    target = _ints(inputs[1]) if len(inputs) > 1 else [int(s) for s in attrs["shape"]]
    if not attrs.get("allowzero", 0):
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return [x.reshape(target)]


def _slice(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    x = np.asarray(inputs[0])
    if "starts" in attrs:  # opset 1–9: attributes
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes = list(attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = _ints(inputs[1]), _ints(inputs[2])
        axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None \
            else list(range(len(starts)))
        steps = _ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None \
            else [1] * len(starts)
    index: list[slice] = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        if step == 0:
            raise FoldError("Slice with a step of 0")
        index[int(axis) % x.ndim] = slice(int(start), int(end), int(step))
    return [x[tuple(index)]]


def _constant_of_shape(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    dims = _bounded(_ints(inputs[0]), "ConstantOfShape's output")
    fill = attrs.get("value")
    if isinstance(fill, Const):
        fill = fill.value()
    fill_value = np.asarray(fill).reshape(-1) if fill is not None else np.zeros(1, np.float32)
    return [np.full(dims, fill_value[0], dtype=fill_value.dtype)]


def _range(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    start, limit, delta = (np.asarray(v).reshape(()) for v in inputs[:3])
    if delta == 0:
        raise FoldError("Range with a delta of 0")
    count = max(math.ceil((float(limit) - float(start)) / float(delta)), 0)
    _bounded([count], "Range's output")
    dtype = np.result_type(start, limit, delta)
    return [np.arange(start.item(), limit.item(), delta.item()).astype(dtype)]


def _expand(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    x = np.asarray(inputs[0])
    shape = np.broadcast_shapes(x.shape, tuple(_ints(inputs[1])))
    _bounded(shape, "Expand's output")
    return [np.broadcast_to(x, shape).copy()]


def _tile(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    x = np.asarray(inputs[0])
    repeats = _ints(inputs[1])
    _bounded([d * r for d, r in zip(x.shape, repeats, strict=False)], "Tile's output")
    return [np.tile(x, repeats)]


def _gather(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    data, indices = np.asarray(inputs[0]), np.asarray(inputs[1])
    _bounded([indices.size, max(data.size, 1)], "Gather's output")
    return [np.take(np.asarray(inputs[0]), np.asarray(inputs[1]).astype(np.int64),
                    axis=int(attrs.get("axis", 0)))]


def _concat(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    arrays = [np.asarray(v) for v in inputs]
    _bounded([sum(a.size for a in arrays)], "Concat's output")
    return [np.concatenate(arrays, axis=int(attrs["axis"]))]


def _transpose(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    perm = attrs.get("perm")
    return [np.transpose(np.asarray(inputs[0]), None if perm is None else list(perm))]


def _cast(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    from convcalc.onnx_import.tensors import np_dtype
    return [np.asarray(inputs[0]).astype(np_dtype(int(attrs["to"]), "Cast's `to`"))]


def _where(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    shape = np.broadcast_shapes(*(np.shape(v) for v in inputs))
    _bounded(shape, "Where's output")
    return [np.where(*inputs)]


def _binary(function: Callable[[Any, Any], Any]) -> Fold:
    def apply(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
        a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
        _bounded(np.broadcast_shapes(a.shape, b.shape), "an elementwise result")
        with np.errstate(all="ignore"):
            result = np.asarray(function(a, b))
        if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
            result = result.astype(np.result_type(a, b))
        return [result]
    return apply


def _unary(function: Callable[[Any], Any]) -> Fold:
    def apply(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            return [np.asarray(function(np.asarray(inputs[0])))]
    return apply


def _div(a: Any, b: Any) -> Any:
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        if np.any(b == 0):
            raise FoldError("integer division by zero")
        return np.trunc(a / b)  # ONNX's integer Div truncates, as C does
    return a / b


def _split(attrs: dict[str, Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    x = np.asarray(inputs[0])
    axis = int(attrs.get("axis", 0)) % x.ndim
    sizes = list(attrs["split"]) if "split" in attrs else _ints(inputs[1]) \
        if len(inputs) > 1 and inputs[1] is not None else []
    if not sizes:
        count = int(attrs["num_outputs"])
        sizes = [x.shape[axis] // count] * count
    return list(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


FOLDABLE: dict[str, Fold] = {
    "Identity": lambda attrs, inputs: [np.asarray(inputs[0])],
    "Cast": _cast,
    "Gather": _gather,
    "Concat": _concat,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Reshape": _reshape,
    "Slice": _slice,
    "Transpose": _transpose,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Expand": _expand,
    "Tile": _tile,
    "Where": _where,
    "Split": _split,
    "Equal": _binary(np.equal),
    "Less": _binary(np.less),
    "Greater": _binary(np.greater),
    "And": _binary(np.logical_and),
    "Or": _binary(np.logical_or),
    "Add": _binary(np.add),
    "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply),
    "Div": _binary(_div),
    "Min": _binary(np.minimum),
    "Max": _binary(np.maximum),
    "Mod": _binary(np.fmod),
    "Pow": _binary(np.power),
    "Not": _unary(np.logical_not),
    "Neg": _unary(np.negative),
    "Abs": _unary(np.abs),
    "Sqrt": _unary(np.sqrt),
    "Floor": _unary(np.floor),
    "Ceil": _unary(np.ceil),
}


def fold(op_type: str, attrs: dict[str, Any], inputs: Sequence[np.ndarray | None],
         origin: str) -> list[Const]:
    """Return the outputs of ``op_type`` on constant inputs, or raise FoldError (one line)."""
    try:
        outputs = FOLDABLE[op_type](attrs, inputs)
    except FoldError:
        raise
    except Exception as error:  # numpy's refusals of what a hostile file asks
        detail = " ".join(str(error).split())[:100]
        raise FoldError(f"cannot evaluate {op_type} on its constant inputs ({detail})") \
            from None
    for output in outputs:
        _bounded(output.shape, f"{op_type}'s output")
    return [Const.of(output, origin) for output in outputs]
