"""ONNX's protobuf messages, loaded without running the ``onnx`` package's ``__init__``.

``import onnx`` costs about a second, nearly all of it ``ml_dtypes`` (which ``onnx.helper``
pulls in through ``onnx._mapping`` for bfloat16, float8 and int4), while reading a model
needs only the generated protobuf module ``onnx.onnx_ml_pb2``: ModelProto and its
relatives, about 50 ms. So the module is executed alone, from the installed package's
directory (``importlib.util.find_spec("onnx")`` locates it without executing it). It is
registered in ``sys.modules`` as ``onnx.onnx_ml_pb2`` before it runs, so that a later
``import onnx`` in the same process reuses it instead of registering the descriptors a
second time. (One difference remains: the ``onnx`` package imported after it has no
``onnx_ml_pb2`` attribute; ``from onnx import onnx_ml_pb2`` still finds the module.)

This relies on onnx shipping ``onnx_ml_pb2.py`` beside its ``__init__.py``, as every onnx
1.x release does (1.23.2 included). If the file is missing or fails to load (protobuf's
runtime refusing the generated code's version, say), the ``onnx`` package is imported the
ordinary way; if onnx is not installed at all, the error names the extra to install.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from convcalc.errors import NetworkFileError

__all__ = ["EXTRA_MISSING", "MODULE", "messages", "parse_model"]

EXTRA_MISSING = "the onnx extra is not installed: pip install 'convcalc[onnx]'"
MODULE = "onnx.onnx_ml_pb2"
"""The generated module's name, as onnx itself imports it."""


def _load_alone() -> None:
    """Execute ``onnx/onnx_ml_pb2.py`` into ``sys.modules`` without the package, if it can."""
    try:
        spec = importlib.util.find_spec("onnx")
    except (ImportError, ValueError):
        return
    if spec is None or not spec.submodule_search_locations:
        return
    for directory in spec.submodule_search_locations:
        path = Path(directory) / "onnx_ml_pb2.py"
        if not path.is_file():
            continue
        generated = importlib.util.spec_from_file_location(MODULE, path)
        if generated is None or generated.loader is None:
            return
        module = importlib.util.module_from_spec(generated)
        sys.modules[MODULE] = module  # before it runs: a later ``import onnx`` reuses it
        try:
            generated.loader.exec_module(module)
        except Exception:  # protobuf's version check, or a file of another layout
            sys.modules.pop(MODULE, None)
        return


def messages() -> ModuleType:
    """Return onnx's generated protobuf module, or raise NetworkFileError naming the extra.

    With ``onnx`` already imported its own module is used; otherwise the module is loaded
    alone (see the module's docstring), falling back to ``import onnx``.
    """
    if "onnx" not in sys.modules and MODULE not in sys.modules:
        _load_alone()
    try:
        # One statement for the three cases: the module loaded alone is found in
        # sys.modules (its package not executed), onnx's own when onnx is imported, and
        # otherwise the package is imported the ordinary way.
        from onnx.onnx_ml_pb2 import DESCRIPTOR  # noqa: F401 (imported to load the module)
    except ImportError:
        raise NetworkFileError(EXTRA_MISSING) from None
    return sys.modules[MODULE]


def parse_model(data: bytes) -> Any:
    """Return the ModelProto serialised in ``data``, as ``onnx.load_model_from_string`` does.

    Raises protobuf's DecodeError for bytes that are not one, and ValueError when it reads
    only part of them (where onnx raises DecodeError with this message).
    """
    model = messages().ModelProto()
    decoded = model.ParseFromString(data)
    if decoded is not None and decoded != len(data):
        raise ValueError(f"Protobuf decoding consumed too few bytes: {decoded} out of "
                         f"{len(data)}")
    return model
