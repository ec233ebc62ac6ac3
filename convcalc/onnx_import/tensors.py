"""TensorProto to numpy, attribute values and Cast's dtype, without ``onnx.helper``.

These replace ``onnx.numpy_helper.to_array``, ``onnx.helper.get_attribute_value`` and
``onnx.helper.tensor_dtype_to_np_dtype`` for the data types a shape computation uses, so
that reading a model never imports ``ml_dtypes`` (see convcalc/onnx_import/proto.py). The
numbers are onnx.proto's ``TensorProto.DataType`` and ``AttributeProto.AttributeType``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcalc.onnx_import.values import FoldError

__all__ = ["DTYPES", "EXTERNAL", "attribute_value", "np_dtype", "to_array"]

EXTERNAL = 1
"""TensorProto.DataLocation.EXTERNAL: the values are in another file."""

FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64 = 1, 2, 3, 4, 5, 6, 7
BOOL, FLOAT16, DOUBLE, UINT32, UINT64 = 9, 10, 11, 12, 13

DTYPES: dict[int, np.dtype[Any]] = {
    FLOAT: np.dtype(np.float32), UINT8: np.dtype(np.uint8), INT8: np.dtype(np.int8),
    UINT16: np.dtype(np.uint16), INT16: np.dtype(np.int16), INT32: np.dtype(np.int32),
    INT64: np.dtype(np.int64), BOOL: np.dtype(np.bool_), FLOAT16: np.dtype(np.float16),
    DOUBLE: np.dtype(np.float64), UINT32: np.dtype(np.uint32), UINT64: np.dtype(np.uint64),
}
"""The data types read, and their numpy dtypes (onnx's own mapping for these)."""

_NAMES = {
    0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32",
    7: "INT64", 8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32",
    13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN",
    18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4",
    23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2", 27: "FLOAT6E2M3",
    28: "FLOAT6E3M2",
}

_TYPED_FIELD = {FLOAT: "float_data", INT64: "int64_data", DOUBLE: "double_data",
                UINT32: "uint64_data", UINT64: "uint64_data"}
"""Where the values are when not raw; every other type read stores them in int32_data."""


def type_name(data_type: int) -> str:
    """Return a data type's name in onnx.proto (``BFLOAT16``), or its number if unknown."""
    return _NAMES.get(data_type, f"data type {data_type}")


def np_dtype(data_type: int, what: str) -> np.dtype[Any]:
    """Return the numpy dtype of ``data_type``, or raise FoldError naming ``what``."""
    dtype = DTYPES.get(data_type)
    if dtype is None:
        raise FoldError(f"{what} is of type {type_name(data_type)}, which convcalc does not "
                        "read (it reads bool, integers, float16, float and double)")
    return dtype


def to_array(tensor: Any, origin: str) -> np.ndarray:
    """Return a TensorProto's values (not external data) as ``numpy_helper.to_array`` does.

    Raw data is little-endian; otherwise the values are in the typed field of the type's
    storage: float_data, int64_data, double_data, uint64_data (UINT32 and UINT64), or
    int32_data, holding the 16 bits of FLOAT16, INT16 and UINT16 and the values of BOOL,
    INT8, UINT8 and INT32. Raises FoldError for a type outside DTYPES (strings, complex,
    bfloat16, the float8 and 4-bit types), ValueError when the data do not fill the dims.
    """
    if tensor.HasField("segment"):
        raise FoldError(f"{origin!r} is stored in segments, which convcalc does not read")
    dtype = np_dtype(tensor.data_type, repr(origin))
    dims = tuple(tensor.dims)
    if tensor.HasField("raw_data"):
        raw = np.frombuffer(tensor.raw_data, dtype=dtype.newbyteorder("<"))
        return raw.astype(dtype, copy=False).reshape(dims)
    field = _TYPED_FIELD.get(tensor.data_type)
    if field is not None:
        storage = np.uint64 if field == "uint64_data" else dtype
        return np.asarray(getattr(tensor, field), dtype=storage).astype(dtype).reshape(dims)
    stored = np.asarray(tensor.int32_data, dtype=np.int32)
    if tensor.data_type in (FLOAT16, INT16, UINT16):  # the 16 bits in each int32
        return stored.view(np.uint32).astype(np.uint16).reshape(dims).view(dtype)
    if tensor.data_type == BOOL:
        return stored.view(np.uint32).astype(np.uint8).view(dtype).reshape(dims)
    return stored.astype(dtype).reshape(dims)


# AttributeProto.AttributeType
A_FLOAT, A_INT, A_STRING, A_TENSOR, A_GRAPH = 1, 2, 3, 4, 5
A_FLOATS, A_INTS, A_STRINGS, A_TENSORS, A_GRAPHS = 6, 7, 8, 9, 10
A_SPARSE_TENSOR, A_SPARSE_TENSORS, A_TYPE_PROTO, A_TYPE_PROTOS = 11, 12, 13, 14

UNREAD = frozenset({A_GRAPH, A_GRAPHS, A_SPARSE_TENSOR, A_SPARSE_TENSORS, A_TYPE_PROTO,
                    A_TYPE_PROTOS})
"""Attribute types no supported operator reads."""


def attribute_value(attribute: Any) -> Any:
    """Return an attribute's value as ``onnx.helper.get_attribute_value`` does, for the
    types outside UNREAD: f, i, s (bytes), t, and the lists floats, ints, strings, tensors;
    None for UNDEFINED. Raises ValueError for a reference to a function's attribute or an
    unknown type, as onnx does."""
    if attribute.ref_attr_name:
        raise ValueError(f"attribute {attribute.name!r} refers to a function's attribute "
                         f"{attribute.ref_attr_name!r}")
    kind = attribute.type
    if kind == 0:
        return None
    if kind == A_FLOAT:
        return attribute.f
    if kind == A_INT:
        return attribute.i
    if kind == A_STRING:
        return attribute.s
    if kind == A_TENSOR:
        return attribute.t
    lists = {A_FLOATS: "floats", A_INTS: "ints", A_STRINGS: "strings", A_TENSORS: "tensors"}
    if kind in lists:
        return list(getattr(attribute, lists[kind]))
    raise ValueError(f"attribute {attribute.name!r} has an unknown type {kind}")
