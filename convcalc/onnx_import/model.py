"""From a loaded ModelProto to ``Imported``: the input, the constants, the walk, the nesting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convcalc.analysis import MAX_LAYERS
from convcalc.errors import SpecError
from convcalc.onnx_import import Imported, ops, ops_elementwise, ops_shape, tensors
from convcalc.onnx_import.convert import Graph, Tensor
from convcalc.onnx_import.dag import INPUT, Node
from convcalc.onnx_import.patterns import Op
from convcalc.onnx_import.topology import nest
from convcalc.onnx_import.values import MAX_FOLDED, Const
from convcalc.textsafe import echo

__all__ = ["MAX_GRAPH_NODES", "OPERATORS", "Walked", "build", "walk"]

MAX_GRAPH_NODES = 4 * MAX_LAYERS
"""Nodes a model's graph may have, counted before any is read: four for each of the
analysis' 100,000 rows (``MAX_LAYERS``), room for the Constant, Shape and Identity nodes an
exporter writes beside the layers, so that a graph that cannot fit the report is refused
before its walk rather than after it."""

OPERATORS = {**ops.OPERATORS, **ops_elementwise.OPERATORS, **ops_shape.OPERATORS}
"""Every supported op type and its rule."""


def _tensor_const(tensor: Any, origin: str, initializer: bool = False) -> Const:
    """Return an initializer or tensor attribute as a constant whose values load lazily."""
    dims = tuple(int(d) for d in tensor.dims)
    if tensor.data_location == tensors.EXTERNAL:
        return Const(dims, origin, initializer=initializer)  # only the dims are in the file
    return Const(dims, origin, loader=lambda: tensors.to_array(tensor, origin),
                 initializer=initializer)


def _float32(value: float) -> float:
    """Return a float32 attribute as the shortest decimal that reads back to it (0.2)."""
    return float(str(np.float32(value)))


def _attrs(node: Any) -> dict[str, Any]:
    """Return a node's attributes as Python values (strings decoded, tensors as Const)."""
    attrs: dict[str, Any] = {}
    for attribute in node.attribute:
        if attribute.type in tensors.UNREAD:
            attrs[attribute.name] = None  # read by no supported operator
            continue
        value = tensors.attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif attribute.type == tensors.A_TENSOR:
            const = _tensor_const(value, node.name or attribute.name)
            try:
                value = const.value() if const.size <= MAX_FOLDED else const
            except Exception:  # malformed tensor data: the node's rule meets it, and
                value = const  # the walk turns its error into one line there
        elif attribute.type == tensors.A_FLOAT:  # float32: its shortest decimal
            value = _float32(value)
        elif attribute.type == tensors.A_FLOATS:
            value = [_float32(v) for v in value]
        elif attribute.type == tensors.A_STRINGS:
            value = [v.decode("utf-8", "replace") for v in value]
        elif isinstance(value, list):
            value = list(value)
        attrs[attribute.name] = value
    return attrs


def _dims(value_info: Any) -> list[int | None] | None:
    """Return a tensor's dims as the file states them (None where unset or symbolic)."""
    kind = value_info.type
    if not kind.HasField("tensor_type") or not kind.tensor_type.HasField("shape"):
        return None
    return [dim.dim_value if dim.HasField("dim_value") and dim.dim_value > 0 else None
            for dim in kind.tensor_type.shape.dim]


def _input_shape(graph_input: Any, given: tuple[int, ...] | None, name: str) \
        -> tuple[tuple[int, ...], int | None]:
    """Return the input's dims without the batch, and the batch if the file fixes it."""
    label = echo(graph_input.name)
    kind = graph_input.type
    if not kind.HasField("tensor_type"):
        raise SpecError(f"input {label} is not a tensor", source=name)
    if not kind.tensor_type.HasField("shape"):
        if given is None:
            raise SpecError(f"input {label} has no shape in the file; give the input's "
                            "shape without the batch (`input_shape`)", source=name)
        return tuple(given), None
    dims = list(kind.tensor_type.shape.dim)
    if len(dims) < 2:
        raise SpecError(f"input {label} has {len(dims)} dims; convcalc reads a batch and "
                        "channels at least (N×C, N×C×L, N×C×H×W, N×C×D×H×W)", source=name)
    batch_dim = dims[0]
    batch = batch_dim.dim_value if batch_dim.HasField("dim_value") and \
        batch_dim.dim_value > 0 else None
    stated = [(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None,
               d.dim_param if d.HasField("dim_param") else "") for d in dims[1:]]
    if given is not None:
        if len(given) != len(stated):
            raise SpecError(f"`input_shape` {list(given)} has {len(given)} dims, input "
                            f"{label} has {len(stated)} besides the batch", source=name)
        for index, ((value, _), wanted) in enumerate(zip(stated, given, strict=True)):
            if value is not None and value != wanted:
                raise SpecError(f"`input_shape` {list(given)} disagrees with input {label}'s "
                                f"dim {index + 1}, which the file fixes at {value}",
                                source=name)
        return tuple(int(g) for g in given), batch
    for index, (value, symbol) in enumerate(stated):
        if value is None:
            what = f"symbolic ({echo(symbol)})" if symbol else "unset"
            raise SpecError(f"input {label}'s dim {index + 1} is {what}; give the input's "
                            "shape without the batch (`input_shape`)", source=name)
    return tuple(int(v or 0) for v, _ in stated), batch


def _opset(model: Any, name: str) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    if not model.opset_import:
        return 1
    raise SpecError("the model imports no version of ONNX's own operators", source=name)


def _network_name(name: str, graph_name: str) -> str:
    if not name.startswith("<"):
        stem = Path(name).stem
        if stem:
            return stem
    return graph_name or "model"


def _channels_last_input(nodes: Sequence[Op], input_name: str, rank: int) -> bool:
    """Return whether every reader of the input moves its channels first (an NHWC file)."""
    readers = [op for op in nodes if input_name in op.inputs]
    to_first = [0, rank - 1, *range(1, rank - 1)]
    return rank > 2 and bool(readers) and all(
        op.op_type == "Transpose" and [int(p) for p in op.attrs.get("perm", [])] == to_first
        for op in readers)


@dataclass(frozen=True)
class Walked:
    """The DAG of a model before nesting.

    Attributes:
        nodes: the layers and merges the output depends on, in the file's order.
        input_shape: the network's input, channels first, batch not included.
        batch: the batch as the file fixes it, or None.
        unknown_ops: op type → nodes imported as ``unknown`` rows.
    """

    nodes: list[Node]
    input_shape: tuple[int, ...]
    batch: int | None
    unknown_ops: dict[str, int]


def walk(model: Any, name: str, input_shape: tuple[int, ...] | None,
         allow_unknown: bool) -> Walked:
    """Return the DAG of a loaded ModelProto (see ``import_onnx`` for the errors)."""
    graph_proto = model.graph
    opset = _opset(model, name)
    initializers = {init.name for init in graph_proto.initializer}
    inputs = [i for i in graph_proto.input if i.name not in initializers]
    if len(inputs) != 1:
        listed = ", ".join(echo(i.name) for i in inputs[:5]) or "none"
        raise SpecError(f"the graph has {len(inputs)} inputs ({listed}); convcalc reads a "
                        "network with one input", source=name)
    outputs = list(graph_proto.output)
    if len(outputs) != 1:
        listed = ", ".join(echo(o.name) for o in outputs[:5]) or "none"
        raise SpecError(f"the graph has {len(outputs)} outputs ({listed}); convcalc reads "
                        "a network with one output", source=name)
    if len(graph_proto.node) > MAX_GRAPH_NODES:
        raise SpecError(f"the graph has {len(graph_proto.node):,} nodes, past the limit of "
                        f"{MAX_GRAPH_NODES:,}; convcalc's report holds at most {MAX_LAYERS:,} rows",
                        source=name)
    nodes = [Op(index, node.name, node.op_type, node.domain, tuple(node.input),
              tuple(node.output), _attrs(node)) for index, node in enumerate(graph_proto.node)]
    kind = inputs[0].type
    rank = len(kind.tensor_type.shape.dim) if kind.tensor_type.HasField("shape") else \
        len(input_shape or ()) + 1
    channels_last = _channels_last_input(nodes, inputs[0].name, rank)
    given = input_shape  # channels first; an N×H×W×C file states its dims channels last
    if channels_last and given:
        given = (*given[1:], given[0])
    shape, batch = _input_shape(inputs[0], given, name)
    if channels_last:
        shape = (shape[-1], *shape[:-1])
    graph = Graph(name, opset, batch, allow_unknown)
    graph.graph_outputs = {outputs[0].name}
    for init in graph_proto.initializer:
        graph.consts[init.name] = _tensor_const(init, init.name, initializer=True)
    for info in [*graph_proto.value_info, *outputs]:
        dims = _dims(info)
        if dims is not None:
            graph.file_dims[info.name] = dims
    graph.tensors[inputs[0].name] = Tensor(INPUT, shape, channels_last)
    graph.run(nodes, OPERATORS)
    unknown_ops = graph.check_unknown()
    return Walked(graph.finish(outputs[0].name), shape, batch, unknown_ops)


def build(model: Any, name: str, input_shape: tuple[int, ...] | None,
          allow_unknown: bool) -> Imported:
    """Return the import of a loaded ModelProto (see ``import_onnx``)."""
    walked = walk(model, name, input_shape, allow_unknown)
    layers = nest(walked.nodes)
    warnings = tuple(
        f"unknown operator {op}: {count} node{'s' if count != 1 else ''} counted as "
        "zero-cost identity-shaped rows" for op, count in walked.unknown_ops.items())
    network = {"name": _network_name(name, model.graph.name),
               "input": list(walked.input_shape), "layers": layers}
    return Imported(network, walked.batch, warnings, walked.unknown_ops)
