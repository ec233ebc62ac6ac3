"""The rules of the ONNX activations and normalisations: elementwise layers and norms.

Relu, Sigmoid, Tanh, HardSwish, Mish, Gelu (exact), the fused SiLU and channel softmax,
LeakyRelu, Elu, HardSigmoid (PyTorch's alpha and beta only), PRelu, Clip as relu6 or relu
(attributes before opset 11, inputs from 11), Softmax over the channels, Dropout (ratio an
attribute before opset 12, an input from 12), BatchNormalization, InstanceNormalization,
LayerNormalization over the channels and GroupNormalization. Each reads one node and emits
one layer, or refuses the attribute convcalc cannot represent.
"""

from __future__ import annotations

import math
from typing import Any

from convcalc.onnx_import.convert import Graph, Refused, dims_text, is_close
from convcalc.onnx_import.ops import (
    Rule,
    only_first_output,
    per_channel,
    required,
    spatial_rank,
    uniform,
)
from convcalc.onnx_import.patterns import CHANNEL_SOFTMAX, SILU, Op

__all__ = ["OPERATORS"]


def _elementwise(layer_type: str) -> Rule:
    def rule(graph: Graph, op: Op) -> None:
        graph.emit(op, {"type": layer_type}, graph.data(op, 0))
    return rule


def _leaky_relu(graph: Graph, op: Op) -> None:
    slope = float(op.attrs.get("alpha", 0.01))
    layer: dict[str, Any] = {"type": "leaky_relu"}
    if not is_close(slope, 0.01):
        layer["negative_slope"] = slope
    graph.emit(op, layer, graph.data(op, 0))


def _elu(graph: Graph, op: Op) -> None:
    alpha = float(op.attrs.get("alpha", 1.0))
    layer: dict[str, Any] = {"type": "elu"}
    if alpha != 1.0:
        layer["alpha"] = alpha
    graph.emit(op, layer, graph.data(op, 0))


def _hard_sigmoid(graph: Graph, op: Op) -> None:
    alpha, beta = float(op.attrs.get("alpha", 0.2)), float(op.attrs.get("beta", 0.5))
    if not (is_close(alpha, 1 / 6) and is_close(beta, 0.5)):
        raise Refused(f"alpha={alpha:g}, beta={beta:g}; convcalc's hardsigmoid is "
                      "relu6(x + 3)/6, alpha=1/6 and beta=0.5 (PyTorch's)")
    graph.emit(op, {"type": "hardsigmoid"}, graph.data(op, 0))


def _gelu(graph: Graph, op: Op) -> None:
    approximate = str(op.attrs.get("approximate", "none"))
    if approximate != "none":
        raise Refused(f"approximate={approximate!r}; convcalc's gelu is the exact (erf) one")
    graph.emit(op, {"type": "gelu"}, graph.data(op, 0))


def _prelu(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    slope = required(graph, op, 1, "slope")
    layer: dict[str, Any] = {"type": "prelu"}
    if math.prod(slope.dims) != 1:
        if not per_channel(graph, tensor, slope.dims):
            raise Refused(f"slope of shape {dims_text(slope.dims)}: convcalc's prelu has one "
                          f"slope or one per channel ({tensor.shape[0]})")
        layer["per_channel"] = True
    value = uniform(slope)
    if value is not None and not is_close(value, 0.25):
        layer["init"] = value
    graph.emit(op, layer, tensor)


def _clip(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    if graph.opset < 11:
        low, high = op.attrs.get("min", -math.inf), op.attrs.get("max", math.inf)
    else:
        low_value, high_value = graph.values(op, 1), graph.values(op, 2)
        low = -math.inf if low_value is None else float(low_value.reshape(-1)[0])
        high = math.inf if high_value is None else float(high_value.reshape(-1)[0])
    if low == 0 and high == 6:
        graph.emit(op, {"type": "relu6"}, tensor)
    elif low == 0 and high == math.inf:
        graph.emit(op, {"type": "relu"}, tensor)
    else:
        raise Refused(f"min={low:g}, max={high:g}; convcalc reads Clip as relu6 (0, 6) or "
                      "relu (0, none)")


def _softmax(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    rank = len(tensor.shape) + 1
    default = -1 if graph.opset >= 13 else 1
    axis = int(op.attrs.get("axis", default)) % rank
    channel_axis = rank - 1 if tensor.channels_last else 1
    joint = graph.opset < 13 and any(size != 1 for size in tensor.spatial)
    if axis != channel_axis or joint:
        raise Refused(f"axis={op.attrs.get('axis', default)} (opset {graph.opset}) on "
                      f"{dims_text(tensor.onnx_dims(1)[1:])} per sample: convcalc's softmax "
                      "is over the channels alone")
    graph.emit(op, {"type": "softmax"}, tensor)


def _batch_norm(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    only_first_output(graph, op)
    if op.attrs.get("training_mode", 0):
        raise Refused("training_mode=1; convcalc counts inference, with running statistics")
    if tensor.channels_last:
        spatial_rank(tensor, "BatchNormalization")
    scale = graph.const(op, 1)
    if scale is not None and math.prod(scale.dims) != tensor.shape[0]:
        raise Refused(f"scale {dims_text(scale.dims)} is not one per channel")
    layer: dict[str, Any] = {"type": "batchnorm"}
    eps = float(op.attrs.get("epsilon", 1e-5))
    if not is_close(eps, 1e-5):
        layer["eps"] = eps
    graph.emit(op, layer, tensor)


def _eps(op: Op, layer: dict[str, Any]) -> dict[str, Any]:
    eps = float(op.attrs.get("epsilon", 1e-5))
    if not is_close(eps, 1e-5):
        layer["eps"] = eps
    return layer


def _instance_norm(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0, view=True)
    if tensor.view == "groups":  # torch's GroupNorm below opset 18; γ and β may follow
        layer = _eps(op, {"type": "groupnorm", "groups": tensor.groups, "affine": False})
        graph.emit(op, layer, tensor, view="groups", groups=tensor.groups)
        return
    if tensor.view:
        graph.data(op, 0)  # refuses the view
    spatial_rank(tensor, "InstanceNormalization")
    graph.emit(op, _eps(op, {"type": "instancenorm", "affine": _affine(graph, op)}), tensor)


def _affine(graph: Graph, op: Op) -> bool:
    """Return whether a norm's scale and bias are learned: torch writes fixed ones and
    zeros as Constant nodes where the module has no affine parameters."""
    scale, bias = graph.const(op, 1), graph.const(op, 2)
    if scale is None or scale.initializer or (bias is not None and bias.initializer):
        return scale is not None
    return not (uniform(scale) == 1.0 and (bias is None or uniform(bias) == 0.0))


def _layer_norm(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    only_first_output(graph, op)
    rank = len(tensor.shape) + 1
    axis = int(op.attrs.get("axis", -1)) % rank
    if not (tensor.channels_last or not tensor.spatial) or axis != rank - 1:
        raise Refused(f"axis={op.attrs.get('axis', -1)} on "
                      f"{dims_text(tensor.onnx_dims(1)[1:])} per sample: convcalc's layernorm "
                      "normalises the channels at each position (the last axis of a "
                      "channels-last or flat tensor)")
    layer: dict[str, Any] = {"type": "layernorm"}
    if graph.const(op, 1) is None:
        layer["affine"] = False
    elif graph.const(op, 2) is None:
        layer["bias"] = False
    graph.emit(op, _eps(op, layer), tensor)


def _group_norm(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    if tensor.channels_last:
        spatial_rank(tensor, "GroupNormalization")
    groups = int(op.attrs["num_groups"]) if "num_groups" in op.attrs else 0
    if groups < 1:
        raise Refused(f"num_groups={op.attrs.get('num_groups')}; a positive count is needed")
    scale = graph.const(op, 1)
    if scale is not None and math.prod(scale.dims) != tensor.shape[0]:
        raise Refused(f"scale {dims_text(scale.dims)} is one per group (opsets 18 to 20); "
                      "convcalc's groupnorm learns a scale and shift per channel "
                      f"({tensor.shape[0]}), as PyTorch's and opset 21's")
    graph.emit(op, _eps(op, {"type": "groupnorm", "groups": groups}), tensor)


def _dropout(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    only_first_output(graph, op)
    if graph.opset >= 12:
        ratio_value = graph.values(op, 1)
        ratio = 0.5 if ratio_value is None else float(ratio_value.reshape(-1)[0])
    else:
        ratio = float(op.attrs.get("ratio", 0.5))
    layer: dict[str, Any] = {"type": "dropout"}
    if ratio != 0.5:
        layer["p"] = ratio
    graph.emit(op, layer, tensor)


OPERATORS: dict[str, Rule] = {
    "Relu": _elementwise("relu"),
    "Sigmoid": _elementwise("sigmoid"),
    "Tanh": _elementwise("tanh"),
    "HardSwish": _elementwise("hardswish"),
    "Mish": _elementwise("mish"),
    SILU: _elementwise("silu"),
    CHANNEL_SOFTMAX: _elementwise("softmax"),
    "Gelu": _gelu,
    "LeakyRelu": _leaky_relu,
    "Elu": _elu,
    "HardSigmoid": _hard_sigmoid,
    "PRelu": _prelu,
    "Clip": _clip,
    "Softmax": _softmax,
    "BatchNormalization": _batch_norm,
    "InstanceNormalization": _instance_norm,
    "LayerNormalization": _layer_norm,
    "GroupNormalization": _group_norm,
    "Dropout": _dropout,
}
