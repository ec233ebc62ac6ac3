"""The imported graph as a DAG of convcalc layers and merges, before it is nested.

The importer (``convcalc.onnx_import``) turns an ONNX graph into a list of ``Node`` in
topological order; ``topology.nest`` turns that list into a network file's ``layers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["INPUT", "Node"]

INPUT = "input"
"""The name by which a node reads the graph's input (never a node's name)."""


@dataclass(frozen=True)
class Node:
    """One layer or merge of the imported graph.

    Attributes:
        name: unique, sanitised (the network file's name rule: no '.', no whitespace, at
            most 200 characters).
        inputs: the producer nodes' names; ``"input"`` is the graph input. A leaf reads
            exactly one; a merge at least two.
        layer: a leaf layer mapping as written in a network file, without ``name``
            (``{"type": "conv", "filters": 64, "kernel": 7, "stride": 2, "padding": 3,
            "bias": False}``); None for a merge.
        merge: ``"add"``, ``"concat"`` or ``"mul"`` for a merge node; None for a leaf.
    """

    name: str
    inputs: tuple[str, ...]
    layer: dict[str, Any] | None = None
    merge: str | None = None
