"""Each supported ONNX operator's rule: which convcalc layer or merge it becomes.

A rule reads one node (``Op``) in the walk's state (``Graph``), emits a layer, a merge or
nothing (a tensor passed through), or raises ``Refused`` with one line naming the
attribute and what convcalc would need. ``OPERATORS`` maps op types to rules; the rules
for activations and norms are in ``ops_elementwise``, those for reshaping, padding,
resizing and channel selection in ``ops_shape``; ``model`` joins the three tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from convcalc.onnx_import.convert import (
    Graph,
    Refused,
    Tensor,
    dims_text,
    is_close,
    padding_value,
    per_dim,
)
from convcalc.onnx_import.dag import Node
from convcalc.onnx_import.patterns import Op
from convcalc.onnx_import.values import Const, FoldError

__all__ = ["OPERATORS", "Rule", "only_first_output", "per_channel", "required", "spatial_rank",
           "uniform", "window_pads"]

Rule = Callable[[Graph, Op], None]


def spatial_rank(tensor: Tensor, what: str) -> int:
    """Return the tensor's spatial rank, refusing a flat or channels-last tensor."""
    if tensor.channels_last:
        raise Refused(f"{what} on a channels-last tensor (after a Transpose to NHWC); "
                      "convcalc follows those only through LayerNormalization, MatMul, "
                      "per-channel Add/Mul, activations and the Transpose back")
    if not tensor.spatial:
        raise Refused(f"{what} needs a spatial input (N×C×H×W), got a flat one")
    return len(tensor.spatial)


def _ints(op: Op, key: str, rank: int, default: int) -> list[int]:
    """Return a per-dim int attribute, checked to have one value per spatial dim."""
    values = [int(v) for v in op.attrs.get(key, [default] * rank)]
    if len(values) != rank:
        raise Refused(f"attribute {key}={values} has {len(values)} values for {rank} "
                      "spatial dims")
    return values


def _auto_pad(op: Op) -> str:
    mode = str(op.attrs.get("auto_pad", "NOTSET"))
    if mode not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise Refused(f"auto_pad={mode!r}; ONNX defines NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    return mode


def window_pads(op: Op, sizes: tuple[int, ...], kernel: list[int], strides: list[int],
                dilations: list[int]) -> tuple[list[int], list[int]]:
    """Return the pads before and after each spatial dim of a Conv or pooling node.

    SAME_UPPER and SAME_LOWER give ``ceil(W/S)`` outputs with the total padding
    ``max((out − 1)·S + (K − 1)·D + 1 − W, 0)``, the odd one after (UPPER) or before
    (LOWER), as the ONNX specification says.
    """
    rank = len(sizes)
    mode = _auto_pad(op)
    if mode == "VALID":
        return [0] * rank, [0] * rank
    if mode == "NOTSET":
        pads = [int(p) for p in op.attrs.get("pads", [0] * (2 * rank))]
        if len(pads) != 2 * rank:
            raise Refused(f"attribute pads={pads} has {len(pads)} values; "
                          f"{2 * rank} (begin and end of each spatial dim) expected")
        if any(p < 0 for p in pads):
            raise Refused(f"attribute pads={pads} is negative; convcalc pads with zeros only")
        return pads[:rank], pads[rank:]
    before, after = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations, strict=True):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        before.append(small if mode == "SAME_UPPER" else large)
        after.append(large if mode == "SAME_UPPER" else small)
    return before, after


def _window_layer(op: Op, tensor: Tensor, kernel: list[int], *, dilated: bool = True) \
        -> dict[str, Any]:
    """Return kernel, stride, padding and dilation keys of a windowed node."""
    rank = len(kernel)
    strides = _ints(op, "strides", rank, 1)
    dilations = _ints(op, "dilations", rank, 1)
    if any(v < 1 for v in strides + dilations):
        raise Refused(f"strides {strides} and dilations {dilations} must be at least 1")
    before, after = window_pads(op, tensor.spatial, kernel, strides, dilations)
    layer: dict[str, Any] = {"kernel": per_dim(kernel), "stride": per_dim(strides)}
    if any(before) or any(after):
        layer["padding"] = padding_value(before, after)
    if any(d != 1 for d in dilations):
        if not dilated:
            raise Refused(f"dilations={dilations}; convcalc's {op.op_type} has no dilation")
        layer["dilation"] = per_dim(dilations)
    return layer


def required(graph: Graph, op: Op, index: int, what: str) -> Const:
    """Return constant input ``index``, refusing a node that leaves it out."""
    const = graph.const(op, index)
    if const is None:
        raise Refused(f"has no {what} (input {index + 1})")
    return const


def _conv(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    weight = required(graph, op, 1, "weight")
    rank = spatial_rank(tensor, "Conv")
    if len(weight.dims) != rank + 2:
        raise Refused(f"weight {dims_text(weight.dims)} does not fit the {rank}-D input")
    kernel = [int(k) for k in op.attrs.get("kernel_shape", weight.dims[2:])]
    if kernel != list(weight.dims[2:]):
        raise Refused(f"kernel_shape={kernel} disagrees with the weight {dims_text(weight.dims)}")
    group = int(op.attrs.get("group", 1))
    channels = tensor.shape[0]
    if group < 1 or weight.dims[1] * group != channels:
        raise Refused(f"weight {dims_text(weight.dims)} with group={group} reads "
                      f"{weight.dims[1] * group} channels, the input has {channels}")
    layer: dict[str, Any] = {"type": "conv", "filters": int(weight.dims[0]),
                             **_window_layer(op, tensor, kernel)}
    if layer["stride"] == 1:
        del layer["stride"]
    _emit_conv(graph, op, layer, tensor, group)


def _emit_conv(graph: Graph, op: Op, layer: dict[str, Any], tensor: Tensor,
               group: int) -> None:
    """Emit a Conv's or ConvTranspose's layer with its groups (``depthwise`` where there
    are as many as channels) and ``bias: false`` where the node has no bias input."""
    if group > 1:
        layer["groups"] = "depthwise" if group == tensor.shape[0] else group
    if graph.const(op, 2) is None:
        layer["bias"] = False
    graph.emit(op, layer, tensor)


def _conv_transpose(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    weight = required(graph, op, 1, "weight")
    rank = spatial_rank(tensor, "ConvTranspose")
    if len(weight.dims) != rank + 2:
        raise Refused(f"weight {dims_text(weight.dims)} does not fit the {rank}-D input")
    group = int(op.attrs.get("group", 1))
    channels = tensor.shape[0]
    if group < 1 or weight.dims[0] != channels:
        raise Refused(f"weight {dims_text(weight.dims)} reads {weight.dims[0]} channels, "
                      f"the input has {channels}")
    kernel = [int(k) for k in op.attrs.get("kernel_shape", weight.dims[2:])]
    strides = _ints(op, "strides", rank, 1)
    dilations = _ints(op, "dilations", rank, 1)
    extra = _ints(op, "output_padding", rank, 0)
    mode = _auto_pad(op)
    if "output_shape" in op.attrs or mode in ("SAME_UPPER", "SAME_LOWER"):
        wanted = [int(v) for v in op.attrs.get("output_shape", [])][-rank:] \
            or [w * s for w, s in zip(tensor.spatial, strides, strict=True)]
        totals = [s * (w - 1) + e + (k - 1) * d + 1 - o for w, s, e, k, d, o
                  in zip(tensor.spatial, strides, extra, kernel, dilations, wanted, strict=True)]
        if any(t < 0 for t in totals):
            raise Refused(f"output_shape {wanted} needs negative padding {totals}")
        upper = mode == "SAME_UPPER"
        before = [t // 2 if upper else t - t // 2 for t in totals]
        after = [t - b for t, b in zip(totals, before, strict=True)]
    elif mode == "VALID":
        before = after = [0] * rank
    else:
        before, after = window_pads(op, tensor.spatial, kernel, strides, dilations)
    if before != after:
        raise Refused(f"pads {before} before and {after} after differ; convcalc's "
                      "conv_transpose crops the same amount from both ends")
    layer: dict[str, Any] = {"type": "conv_transpose", "filters": int(weight.dims[1]) * group,
                             "kernel": per_dim(kernel)}
    for key, values, default in (("stride", strides, 1), ("padding", before, 0),
                                 ("output_padding", extra, 0), ("dilation", dilations, 1)):
        if any(v != default for v in values):
            layer[key] = per_dim(values)
    _emit_conv(graph, op, layer, tensor, group)


def only_first_output(graph: Graph, op: Op) -> None:
    for output in op.outputs[1:]:
        if graph.used(output):
            raise Refused(f"its output {output!r} (beyond the first) is used; convcalc "
                          "follows only the first")


def _max_pool(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    only_first_output(graph, op)
    rank = spatial_rank(tensor, "MaxPool")
    kernel = _ints(op, "kernel_shape", rank, 0)
    layer = {"type": "maxpool", **_window_layer(op, tensor, kernel)}
    if op.attrs.get("ceil_mode", 0):
        layer["ceil_mode"] = True
    graph.emit(op, layer, tensor)


def _average_pool(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    rank = spatial_rank(tensor, "AveragePool")
    kernel = _ints(op, "kernel_shape", rank, 0)
    layer = {"type": "avgpool", **_window_layer(op, tensor, kernel, dilated=False)}
    if op.attrs.get("ceil_mode", 0):
        layer["ceil_mode"] = True
    if "padding" in layer:  # ONNX's default leaves the pads out of the average
        layer["count_include_pad"] = bool(op.attrs.get("count_include_pad", 0))
    graph.emit(op, layer, tensor)


def _global_pool(kind: str) -> Rule:
    def rule(graph: Graph, op: Op) -> None:
        tensor = graph.data(op, 0)
        spatial_rank(tensor, op.op_type)
        graph.emit(op, {"type": kind, "output": 1}, tensor)  # N×C×1×1, as ONNX keeps it
    return rule


def _gemm(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    if tensor.spatial or tensor.channels_last:
        raise Refused(f"Gemm needs a flat input (N×C), got {dims_text(tensor.shape)} per sample")
    if op.attrs.get("transA", 0):
        raise Refused("transA=1 transposes the batch into the features")
    weight = required(graph, op, 1, "weight")
    if len(weight.dims) != 2:
        raise Refused(f"weight {dims_text(weight.dims)} is not a matrix")
    features, units = weight.dims[::-1] if op.attrs.get("transB", 0) else weight.dims
    if features != tensor.shape[0]:
        raise Refused(f"weight {dims_text(weight.dims)} (transB={op.attrs.get('transB', 0)}) "
                      f"reads {features} features, the input has {tensor.shape[0]}")
    bias = graph.const(op, 2)
    for key in ("alpha", "beta"):
        if key == "beta" and bias is None:
            continue
        if not is_close(float(op.attrs.get(key, 1.0)), 1.0):
            raise Refused(f"{key}={op.attrs[key]}; convcalc's linear has no scale factor "
                          "(only 1 is read)")
    if bias is not None and math.prod(bias.dims) != units:
        raise Refused(f"bias {dims_text(bias.dims)} is not one value per unit ({units})")
    layer: dict[str, Any] = {"type": "linear", "units": int(units)}
    if bias is None:
        layer["bias"] = False
    graph.emit(op, layer, tensor)


def _matmul(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    weight = required(graph, op, 1, "weight")
    if len(weight.dims) != 2:
        raise Refused(f"the weight {dims_text(weight.dims)} is not a matrix")
    if weight.dims[0] != tensor.shape[0]:
        raise Refused(f"weight {dims_text(weight.dims)} reads {weight.dims[0]} features, "
                      f"the input has {tensor.shape[0]} channels")
    units = int(weight.dims[1])
    if tensor.channels_last:  # a Linear over the channels of each position: a 1×1 conv
        graph.emit(op, {"type": "conv", "filters": units, "kernel": 1, "bias": False}, tensor)
    elif not tensor.spatial:
        graph.emit(op, {"type": "linear", "units": units, "bias": False}, tensor)
    else:
        raise Refused("a MatMul on a channels-first tensor multiplies along its last spatial "
                      "dim, which no convcalc layer does")


def per_channel(graph: Graph, tensor: Tensor, dims: tuple[int, ...]) -> bool:
    """Return whether a constant of ``dims`` holds one value per channel of ``tensor``."""
    dims = tuple(dims)
    while dims and dims[0] == 1 and len(dims) > (1 if tensor.channels_last or not
                                                 tensor.spatial else len(tensor.shape)):
        dims = dims[1:]
    channels = tensor.shape[0]
    if tensor.channels_last or not tensor.spatial:
        return dims == (channels,)
    return dims == (channels, *([1] * len(tensor.spatial)))


def _add(graph: Graph, op: Op) -> None:
    _binary(graph, op, "add")


def _mul(graph: Graph, op: Op) -> None:
    _binary(graph, op, "mul")


def _binary(graph: Graph, op: Op, kind: str) -> None:
    names = op.inputs[:2]
    computed = [index for index, name in enumerate(names) if name in graph.tensors]
    if len(computed) == 2:
        graph.emit_merge(op, kind, [graph.data(op, 0), graph.data(op, 1)])
        return
    tensor = graph.data(op, computed[0] if computed else 0)
    const = graph.consts[names[1 - computed[0]]]
    neutral = 1.0 if kind == "mul" else 0.0
    if not const.initializer and uniform(const) == neutral and _keeps_shape(tensor, const):
        graph.bind(op, op.outputs[0], tensor)  # a fixed ·1 or +0 (torch's GroupNorm
        return  # without affine writes both)
    if not per_channel(graph, tensor, const.dims):
        role = "bias" if kind == "add" else "layer_scale"
        raise Refused(f"{op.op_type} by a constant of shape {dims_text(const.dims)}: "
                      "convcalc reads only a per-channel constant here "
                      f"({tensor.shape[0]} values, as {role})")
    producer = graph.nodes.get(tensor.node)
    sole = graph.consumer_count(names[computed[0]]) == 1
    layer_type = producer.layer.get("type") if producer and producer.layer else None
    if kind == "mul":
        if (producer is not None and layer_type == "groupnorm" and sole
                and producer.layer is not None and producer.layer.get("affine") is False
                and _bias_follows(graph, op)):  # torch's GroupNorm below opset 18: γ, then β
            graph.nodes[producer.name] = Node(producer.name, producer.inputs, {
                key: value for key, value in producer.layer.items() if key != "affine"})
            graph.pending_bias.add(producer.name)
            graph.bind(op, op.outputs[0], tensor)
            return
        layer: dict[str, Any] = {"type": "layer_scale"}
        values = uniform(const)
        if values is not None:
            layer["init"] = values
        graph.emit(op, layer, tensor)
        return
    if producer is not None and producer.name in graph.pending_bias and sole:
        graph.pending_bias.discard(producer.name)
        graph.bind(op, op.outputs[0], tensor)
        return
    if (producer is None or producer.layer is None
            or layer_type not in ("linear", "conv", "conv_transpose")
            or producer.layer.get("bias", True) or not sole):
        raise Refused(f"Add of a constant of shape {dims_text(const.dims)}: convcalc reads "
                      "a per-channel constant added only as the bias of the MatMul, Conv or "
                      "ConvTranspose right before it (and read by nothing else)")
    graph.nodes[producer.name] = Node(producer.name, producer.inputs, {
        key: value for key, value in producer.layer.items() if key != "bias"})
    graph.bind(op, op.outputs[0], tensor)


def _keeps_shape(tensor: Tensor, const: Const) -> bool:
    """Return whether broadcasting ``const`` against ``tensor`` leaves its shape."""
    dims = tensor.onnx_dims(1)
    if len(const.dims) > len(dims):
        return False
    return all(c in (1, d) for c, d in zip(reversed(const.dims), reversed(dims), strict=False))


def _bias_follows(graph: Graph, op: Op) -> bool:
    """Return whether the one reader of ``op``'s output adds a constant to it."""
    readers = graph.consumers.get(op.outputs[0], [])
    return (len(readers) == 1 and readers[0].op_type == "Add"
            and any(name in graph.consts for name in readers[0].inputs))


def uniform(const: Const) -> float | None:
    """Return the one value every element of ``const`` holds, if it is in the file."""
    try:
        values = const.value().reshape(-1)
    except FoldError:  # external data: a starting value is only a default then
        return None
    if values.size and np.all(values == values[0]) and np.isfinite(values[0]):
        return float(values[0])
    return None


def _identity(graph: Graph, op: Op) -> None:
    graph.bind(op, op.outputs[0], graph.data(op, 0))


def _shape(graph: Graph, op: Op) -> None:
    const = graph.consts.get(op.input(0))
    dims = np.asarray(const.dims if const is not None else
                      graph.data(op, 0).onnx_dims(graph.batch or 1), dtype=np.int64)
    start, end = op.attrs.get("start"), op.attrs.get("end")
    if start is not None or end is not None:
        dims = dims[slice(start, end)]
    graph.consts[op.outputs[0]] = Const.of(dims, op.label)


def _size(graph: Graph, op: Op) -> None:
    const = graph.consts.get(op.input(0))
    dims = const.dims if const is not None else \
        graph.data(op, 0).onnx_dims(graph.batch or 1)
    graph.consts[op.outputs[0]] = Const.of(np.asarray(math.prod(dims), dtype=np.int64),
                                           op.label)


def _reduce(keep: str, flat: str) -> Rule:
    def rule(graph: Graph, op: Op) -> None:
        tensor = graph.data(op, 0)
        rank = spatial_rank(tensor, op.op_type) + 2
        axes: list[int] = [int(a) for a in op.attrs["axes"]] if "axes" in op.attrs \
            else graph.ints(op, 1) or list(range(rank))
        wanted = sorted(int(axis) % rank for axis in axes)
        if wanted != list(range(2, rank)):
            raise Refused(f"axes={list(axes)}: convcalc reads {op.op_type} over every "
                          f"spatial axis ({list(range(2, rank))}) as global pooling")
        if op.attrs.get("keepdims", 1):
            graph.emit(op, {"type": keep, "output": 1}, tensor)
        else:
            graph.emit(op, {"type": flat}, tensor)
    return rule


OPERATORS: dict[str, Rule] = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "MaxPool": _max_pool,
    "AveragePool": _average_pool,
    "GlobalAveragePool": _global_pool("adaptive_avgpool"),
    "GlobalMaxPool": _global_pool("adaptive_maxpool"),
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Add": _add,
    "Mul": _mul,
    "Identity": _identity,
    "ReduceMean": _reduce("adaptive_avgpool", "global_avgpool"),
    "ReduceMax": _reduce("adaptive_maxpool", "global_maxpool"),
    "Shape": _shape,
    "Size": _size,
}
