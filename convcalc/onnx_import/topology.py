"""Nesting the imported DAG into a network file's layers (chains only, for now).

A placeholder with the final signature: it writes a chain of leaf layers and refuses any
other shape of graph. The series-parallel nesting and the ``graph`` container replace it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from convcalc.errors import SpecError
from convcalc.onnx_import.dag import INPUT, Node

__all__ = ["nest"]


def nest(nodes: Sequence[Node]) -> list[dict[str, Any]]:
    """Return the network file's ``layers`` for a chain of leaf nodes; raise otherwise."""
    layers: list[dict[str, Any]] = []
    previous = INPUT
    for node in nodes:
        if node.layer is None or node.inputs != (previous,):
            raise SpecError(f"node {node.name!r}: only a chain of layers can be nested yet")
        layers.append({"name": node.name, **node.layer})
        previous = node.name
    return layers
