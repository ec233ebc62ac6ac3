"""Helpers for the ONNX import tests: hand-built models and their analysis.

``model_bytes`` writes a one-input, one-output graph with ``onnx.helper``; ``dag`` imports
it to the importer's DAG; ``as_network`` writes that DAG as a network file with one
``graph`` container (the wiring exactly as imported, whatever the nesting would make of
it), so that the tests analyse what the importer produced without depending on the
nesting; ``analysed`` does both and runs convcalc's analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper

from convcalc.analysis import analyze
from convcalc.loader import network_from_data
from convcalc.onnx_import.dag import Node
from convcalc.onnx_import.model import Walked, walk
from convcalc.onnx_import.reading import load_model
from convcalc.results import Report

Dims = Sequence[int | str | None]


def init(name: str, array: Any, dtype: Any = np.float32) -> Any:
    """Return an initializer holding ``array``."""
    return numpy_helper.from_array(np.asarray(array, dtype=dtype), name)


def weight(name: str, *dims: int) -> Any:
    """Return a float initializer of ``dims`` filled with small values."""
    return init(name, np.full(dims, 0.01, dtype=np.float32))


def model_bytes(nodes: Sequence[Any], input_dims: Dims, output_dims: Dims | None = None,
                initializers: Sequence[Any] = (), opset: int = 17,
                value_info: Sequence[Any] = (), output: str = "y",
                input_name: str = "x") -> bytes:
    """Return a serialised model: input ``x`` of ``input_dims``, output ``y``."""
    graph = helper.make_graph(
        list(nodes), "test",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_dims))],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT,
                                       None if output_dims is None else list(output_dims))],
        initializer=list(initializers), value_info=list(value_info))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def dag(data: bytes, input_shape: tuple[int, ...] | None = None,
        allow_unknown: bool = False) -> Walked:
    """Return the importer's DAG of a serialised model."""
    return walk(load_model(data, "m.onnx"), "m.onnx", input_shape, allow_unknown)


def as_network(walked: Walked) -> dict[str, Any]:
    """Return the DAG as a network file with one ``graph`` container."""
    graph_nodes: list[dict[str, Any]] = []
    for node in walked.nodes:
        if node.merge is not None:
            graph_nodes.append({"name": node.name, "type": node.merge,
                                "from": list(node.inputs)})
        else:
            assert node.layer is not None
            graph_nodes.append({"name": node.name, **node.layer, "from": list(node.inputs)})
    return {"name": "m", "input": list(walked.input_shape),
            "layers": [{"type": "graph", "name": "g", "nodes": graph_nodes}]}


def analysed(data: bytes, input_shape: tuple[int, ...] | None = None) -> Report:
    """Return convcalc's report of the imported model."""
    network = network_from_data(as_network(dag(data, input_shape)), "m.onnx").network
    return analyze(network)


def layers(data: bytes, input_shape: tuple[int, ...] | None = None) -> list[dict[str, Any]]:
    """Return the imported leaf layers (merges as ``{"merge": kind}``), without names."""
    return [dict(node.layer) if node.layer is not None else {"merge": node.merge}
            for node in dag(data, input_shape).nodes]


def output_shape(data: bytes) -> tuple[int, ...]:
    """Return the output shape convcalc computes for the imported model."""
    return tuple(analysed(data).output_shape)


def reference_shape(data: bytes, input_dims: Sequence[int]) -> tuple[int, ...]:
    """Return the output shape onnx's reference evaluator computes (batch dropped)."""
    from onnx.reference import ReferenceEvaluator

    session = ReferenceEvaluator(onnx.load_model_from_string(data))
    result = session.run(None, {"x": np.zeros(list(input_dims), dtype=np.float32)})[0]
    return tuple(int(d) for d in result.shape[1:])


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str] = ("y",),
         name: str | None = None, **attrs: Any) -> Any:
    """Return a NodeProto (named after its op type unless ``name`` is given)."""
    return helper.make_node(op_type, list(inputs), list(outputs),
                            name=name if name is not None else op_type.lower(), **attrs)


__all__ = ["Node", "analysed", "as_network", "dag", "init", "layers", "model_bytes", "node",
           "output_shape", "reference_shape", "weight"]
