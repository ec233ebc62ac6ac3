"""The importer's graph of nodes, between reading an ONNX file and nesting its layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Node"]


@dataclass(frozen=True)
class Node:
    """One node of the imported graph, in the ONNX file's (topological) order.

    Attributes:
        name: unique, sanitised (matches the network file's name rule: no '.', no
            whitespace, <=200 chars).
        inputs: producer node names; "input" is the graph input (never a node name).
        layer: a leaf layer mapping as written in a network file, WITHOUT "name" (e.g.
            {"type": "conv", "filters": 64, "kernel": 7, "stride": 2, "padding": 3,
            "bias": False}).
        merge: "add" | "concat" | "mul" for merge nodes (then layer is None,
            len(inputs) >= 2).
    """

    name: str
    inputs: tuple[str, ...]
    layer: dict[str, Any] | None = None
    merge: str | None = None
