"""Reading an ONNX file: the lazy protobuf import, the sniff, and one-line read errors.

Only the graph's structure and the initializers' dims are needed, so external data is
never loaded: parsing the ModelProto leaves external tensors as references, and a
500 MB model with its weights beside it costs the read of its small ``.onnx`` file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convcalc.errors import NetworkFileError
from convcalc.onnx_import.proto import EXTRA_MISSING, messages, parse_model

__all__ = ["EXTRA_MISSING", "MAX_MODEL_BYTES", "load_model", "looks_like_onnx"]

MAX_MODEL_BYTES = 2**31 - 1
"""protobuf's limit on one serialised message: a larger .onnx keeps its weights outside."""

# ModelProto's fields and their wire types (0 varint, 2 length-delimited), from onnx.proto:
# ir_version 1, producer_name 2, producer_version 3, domain 4, model_version 5,
# doc_string 6, graph 7, opset_import 8, metadata_props 14, training_info 20,
# functions 25, configuration 26.
_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def _varint(data: bytes, position: int) -> tuple[int, int] | None:
    """Return the varint at ``position`` and the position after it, or None if cut short."""
    value = shift = 0
    while position < len(data) and shift < 64:
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return value, position
        shift += 7
    return None


def looks_like_onnx(data: bytes) -> bool:
    """Return whether ``data`` starts as a serialised ONNX ModelProto (no onnx import).

    The first field must be ``ir_version`` (protobuf writes fields in number order, and
    every exporter sets it), a small number; the next few fields' tags must be ModelProto's
    fields with their wire types, each length within the data, and a graph or opset among
    them (or the data end cleanly after them). Text never starts this way: its first byte
    would be a backspace (0x08).
    """
    first = _varint(data, 1) if data[:1] == b"\x08" else None
    if first is None or not 1 <= first[0] <= 100:
        return False
    position, fields, seen_structure = 0, 0, False
    while position < len(data) and fields < 8:
        tag = _varint(data, position)
        if tag is None:
            return False
        key, position = tag
        number, wire = key >> 3, key & 7
        if _MODEL_FIELDS.get(number) != wire:
            return False
        value = _varint(data, position)
        if value is None:
            return False
        length, position = value
        if wire == 2:
            if position + length > len(data):
                return seen_structure or number in (7, 8)
            position += length
        seen_structure = seen_structure or number in (7, 8)
        fields += 1
    return seen_structure or (fields > 0 and position == len(data))


def _read(source: bytes | str | Path, name: str) -> bytes:
    """Return the bytes of ``source`` (a path or the bytes themselves), or raise one line."""
    if isinstance(source, bytes):
        return source
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise NetworkFileError(
                f"the file has {size:,} bytes, more than an ONNX model can hold inline "
                f"({MAX_MODEL_BYTES:,}); save its weights as external data", source=name)
        return path.read_bytes()
    except FileNotFoundError:
        raise NetworkFileError("no such file", source=name) from None
    except IsADirectoryError:
        raise NetworkFileError("is a directory, not an ONNX file", source=name) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise NetworkFileError(f"cannot read the file ({reason})", source=name) from None


def load_model(source: bytes | str | Path, name: str) -> Any:
    """Return the ModelProto in ``source``, its external data not loaded.

    Raises NetworkFileError, one line starting with ``name``: the file missing or
    unreadable, bytes that are not an ONNX model or are cut short, or the onnx extra absent.
    """
    data = _read(source, name)
    messages()  # the onnx extra is installed, or the error names it
    if not data:
        raise NetworkFileError("the file is empty, not an ONNX model", source=name)
    try:
        model = parse_model(data)
    except Exception as error:  # protobuf's DecodeError and its relatives: bytes, not a model
        detail = " ".join(str(error).split())[:80]
        raise NetworkFileError(
            f"not an ONNX model, or cut short ({detail or type(error).__name__})",
            source=name) from None
    if not model.ir_version or not model.HasField("graph") or not model.graph.node:
        raise NetworkFileError(
            "not an ONNX model: no graph with nodes (is the file cut short, or another "
            "format?)", source=name)
    return model
