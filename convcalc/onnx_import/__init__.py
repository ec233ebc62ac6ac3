"""Importing an ONNX model as a convcalc network file.

``import_onnx`` reads a model (external data never loaded: only the initializers' dims
are needed), walks its nodes in order (``convert.Graph``) with each operator's rule
(``ops``, ``ops_elementwise``, ``ops_shape``), evaluates the constant subgraphs with
numpy (``values``), fuses the activations that exporters write as several nodes
(``patterns``), names the rows from the node names (``names``), and nests the
resulting DAG (``dag.Node``) into containers (``topology.nest``). The result is plain
data: the network file that ``convcalc import`` writes and
``convcalc.loader.network_from_data`` validates.

Nothing here is imported by ``import convcalc``; the ``onnx`` package and numpy load
only when a model is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convcalc.errors import ConvcalcError, SpecError
from convcalc.onnx_import.reading import load_model, looks_like_onnx

__all__ = ["Imported", "import_onnx", "looks_like_onnx"]


@dataclass(frozen=True)
class Imported:
    """An imported model.

    Attributes:
        network: the network file as plain data (str, int, float, bool, list and dict
            only): ``{"name": str, "input": [C, H, W] (no batch), "layers": [...]}``.
        batch: the graph input's batch when the file fixes it; None when it is symbolic.
        warnings: one line each, such as ``unknown operator Frobnicate: 2 nodes counted as
            zero-cost identity-shaped rows``.
        unknown_ops: op type → how many nodes were imported as ``unknown`` rows (empty
            unless ``allow_unknown``).
    """

    network: dict[str, Any]
    batch: int | None
    warnings: tuple[str, ...] = ()
    unknown_ops: Mapping[str, int] = field(default_factory=dict)


def import_onnx(source: bytes | str | Path, *, name: str,
                input_shape: tuple[int, ...] | None = None,
                allow_unknown: bool = False) -> Imported:
    """Return the network file of the ONNX model in ``source`` (a path or its bytes).

    ``name`` is the file name every message starts with. ``input_shape`` (channels first,
    batch not included) gives the input's dims where the file leaves them symbolic.
    With ``allow_unknown``, a node of an unsupported operator whose output shape the file
    states becomes an ``unknown`` row. Raises NetworkFileError (not ONNX, cut short,
    unreadable, the onnx extra missing) or SpecError (unsupported operators, a symbolic
    dim without ``input_shape``, a shape in the file that convcalc's rules contradict, an
    attribute convcalc cannot represent), each one line. Messages name the parameters
    in backquotes (`` `input_shape` ``, `` `allow_unknown` ``), which a command line maps
    to its flags.
    """
    from convcalc.onnx_import.model import build

    model = load_model(source, name)
    try:
        return build(model, name, input_shape, allow_unknown)
    except ConvcalcError as error:
        if isinstance(error, SpecError) and not error.source:
            error.source = name
        raise
