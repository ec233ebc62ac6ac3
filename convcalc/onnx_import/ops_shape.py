"""The rules of the ONNX operators that move, select or resize computed tensors.

Flatten and Reshape to flat become ``flatten``; a Transpose to channels last (NHWC) and
back is followed without a row; Concat on the channels is a ``concat`` merge; Split and
Slice on the channels are ``slice`` layers; Pad is ``pad``; Resize and Upsample are
``upsample``. The signatures that changed between opsets are read by the model's opset:
Split's sizes (attribute before 13, input from 13, ``num_outputs`` from 18), Slice's
bounds (attributes before 10, inputs after), Pad's pads and value (attributes before 11,
inputs after, ``axes`` from 18), Resize's inputs (scales at 10; roi, scales, sizes from
11; ``axes`` from 18) and Upsample's scales (attribute at 7, input at 9).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from convcalc.onnx_import.convert import Graph, Refused, Tensor, dims_text, per_dim
from convcalc.onnx_import.patterns import Op

__all__ = ["OPERATORS"]

INT64_MAX = 2**63 - 1


def _channels_first(tensor: Tensor, what: str) -> None:
    if tensor.channels_last:
        raise Refused(f"{what} on a channels-last tensor (after a Transpose to NHWC); "
                      "convcalc follows those only through LayerNormalization, MatMul, "
                      "per-channel Add/Mul, activations and the Transpose back")


def _flatten(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    _channels_first(tensor, "Flatten")
    rank = len(tensor.shape) + 1
    axis = int(op.attrs.get("axis", 1))
    if axis % rank != 1 and not (axis == rank and not tensor.spatial):
        raise Refused(f"axis={axis}; convcalc's flatten keeps the batch (axis=1)")
    if not tensor.spatial:
        graph.bind(op, op.outputs[0], tensor)
    else:
        graph.emit(op, {"type": "flatten"}, tensor)


def _reshape(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0, view=True)
    target = graph.ints(op, 1) if len(op.inputs) > 1 else \
        [int(v) for v in op.attrs.get("shape", [])]
    if target is None:
        raise Refused("has no target shape")
    dims = tensor.onnx_dims(graph.batch or 1)
    if not op.attrs.get("allowzero", 0):
        target = [dims[i] if d == 0 and i < len(dims) else d for i, d in enumerate(target)]
    total = math.prod(dims)
    if target.count(-1) == 1:
        known = math.prod(d for d in target if d != -1)
        if known and total % known == 0:
            target = [total // known if d == -1 else d for d in target]
    channels, spatial = tensor.shape[0], list(tensor.shape[1:])
    plain = Tensor(tensor.node, tensor.shape, tensor.channels_last)
    if tensor.view == "groups" and target == [dims[0], channels, *spatial]:
        graph.bind(op, op.outputs[0], plain)  # GroupNorm's reshape back
    elif tensor.view == "shuffled" and target == [dims[0], channels, *spatial]:
        graph.emit(op, {"type": "channel_shuffle", "groups": tensor.groups}, plain)
    elif tensor.view:
        graph.data(op, 0)  # refuses the view
    elif target == dims:
        graph.bind(op, op.outputs[0], tensor)
    elif tensor.channels_last:
        _channels_first(tensor, "Reshape")
    elif (spatial and len(target) == 3 and target[0] == dims[0] and target[1] > 0
          and channels % target[1] == 0 and _reader(graph, op) == "InstanceNormalization"):
        graph.bind(op, op.outputs[0], Tensor(tensor.node, tensor.shape, False, "groups",
                                             target[1]))
    elif (spatial and len(target) == len(dims) + 1 and target[0] == dims[0]
          and target[3:] == spatial and target[1] * target[2] == channels
          and target[1] > 1 and _reader(graph, op) == "Transpose"):
        graph.bind(op, op.outputs[0], Tensor(tensor.node, tensor.shape, False, "shuffle",
                                             target[1]))
    elif target == [dims[0], math.prod(dims[1:])]:
        graph.emit(op, {"type": "flatten"}, tensor)
    else:
        raise Refused(f"reshapes {dims_text(dims[1:])} per sample to "
                      f"{dims_text(target[1:]) if target else 'a scalar'}; convcalc reads a "
                      "Reshape as a flatten (N×C×H×W to N×(C·H·W)), as no change, or in "
                      "torch's GroupNorm and channel shuffle")


def _reader(graph: Graph, op: Op) -> str:
    """Return the op type of the one node reading ``op``'s output, or ``""``."""
    readers = graph.consumers.get(op.outputs[0], [])
    return readers[0].op_type if len(readers) == 1 else ""


def _transpose(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0, view=True)
    if tensor.view == "shuffle":
        rank = len(tensor.shape) + 2
        perm = [int(p) for p in op.attrs.get("perm", range(rank - 1, -1, -1))]
        if perm != [0, 2, 1, *range(3, rank)]:
            raise Refused(f"perm={perm} on a channel shuffle's N×G×(C/G)×… view; the shuffle "
                          f"swaps the two channel axes ({[0, 2, 1, *range(3, rank)]})")
        graph.bind(op, op.outputs[0], Tensor(tensor.node, tensor.shape, False, "shuffled",
                                             tensor.groups))
        return
    if tensor.view:
        graph.data(op, 0)  # refuses the view
    rank = len(tensor.shape) + 1
    perm = [int(p) for p in op.attrs.get("perm", range(rank - 1, -1, -1))]
    to_last = [0, *range(2, rank), 1]
    to_first = [0, rank - 1, *range(1, rank - 1)]
    if perm == list(range(rank)):
        graph.bind(op, op.outputs[0], tensor)
    elif tensor.spatial and not tensor.channels_last and perm == to_last:
        graph.bind(op, op.outputs[0], Tensor(tensor.node, tensor.shape, True))
    elif tensor.spatial and tensor.channels_last and perm == to_first:
        graph.bind(op, op.outputs[0], Tensor(tensor.node, tensor.shape, False))
    else:
        layout = "channels last" if tensor.channels_last else "channels first"
        raise Refused(f"perm={perm} on a {layout} tensor; convcalc follows only the move of "
                      f"the channels last ({to_last}) and back ({to_first})")


def _channel_axis(graph: Graph, op: Op, tensor: Tensor, axis: int) -> None:
    """Refuse unless ``axis`` is the channel axis of ``tensor``."""
    rank = len(tensor.shape) + 1
    channel = rank - 1 if tensor.channels_last else 1
    if axis % rank != channel:
        raise Refused(f"axis={axis}: convcalc selects and joins channels only "
                      f"(axis {channel} here)")


def _concat(graph: Graph, op: Op) -> None:
    sources = [graph.data(op, index) for index in range(len(op.inputs))]
    _channel_axis(graph, op, sources[0], int(op.attrs.get("axis", 1)))
    if len(sources) == 1:
        graph.bind(op, op.outputs[0], sources[0])
    else:
        graph.emit_merge(op, "concat", sources)


def _slice_node(graph: Graph, op: Op, tensor: Tensor, start: int, stop: int,
                output: str) -> None:
    if start == 0 and stop == tensor.shape[0]:
        graph.bind(op, output, tensor)
    else:
        graph.emit(op, {"type": "slice", "channels": [start, stop]}, tensor, output=output)


def _split(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    _channels_first(tensor, "Split")
    axis = int(op.attrs.get("axis", 0))
    _channel_axis(graph, op, tensor, axis)
    channels = tensor.shape[0]
    sizes = [int(v) for v in op.attrs["split"]] if "split" in op.attrs else \
        graph.ints(op, 1) if graph.opset >= 13 and len(op.inputs) > 1 else None
    if not sizes:
        count = int(op.attrs.get("num_outputs", len(op.outputs)))
        if count < 1:
            raise Refused(f"num_outputs={count}")
        step = -(-channels // count)  # ONNX 18: the last part is the smaller one
        sizes = [min(step, channels - i * step) for i in range(count)]
    if len(sizes) != len(op.outputs) or sum(sizes) != channels or min(sizes) < 0:
        raise Refused(f"split sizes {sizes} for {len(op.outputs)} outputs do not add up to "
                      f"the {channels} channels")
    start = 0
    for size, output in zip(sizes, op.outputs, strict=True):
        if size and graph.used(output):
            _slice_node(graph, op, tensor, start, start + size, output)
        start += size


def _clamp(value: int, size: int) -> int:
    if value < 0:
        value += size
    return min(max(value, 0), size)


def _slice(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    _channels_first(tensor, "Slice")
    if graph.opset < 10:
        starts = [int(v) for v in op.attrs.get("starts", [])]
        ends = [int(v) for v in op.attrs.get("ends", [])]
        axes = [int(v) for v in op.attrs.get("axes", range(len(starts)))]
        steps = [1] * len(starts)
    else:
        starts, ends = graph.ints(op, 1) or [], graph.ints(op, 2) or []
        axes = graph.ints(op, 3) or list(range(len(starts)))
        steps = graph.ints(op, 4) or [1] * len(starts)
    dims = tensor.onnx_dims(graph.batch or 1)
    rank = len(dims)
    start, stop = 0, tensor.shape[0]
    for begin, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis %= rank
        lo, hi = _clamp(begin, dims[axis]), _clamp(min(end, INT64_MAX), dims[axis])
        if axis != 1:
            if (lo, hi, step) != (0, dims[axis], 1):
                raise Refused(f"slices axis {axis} ({begin}:{end}:{step}); convcalc's slice "
                              "selects channels (axis 1) only")
            continue
        if step != 1:
            raise Refused(f"step {step} on the channels; convcalc's slice keeps a contiguous "
                          "range")
        if hi <= lo:
            raise Refused(f"keeps no channel ({begin}:{end} of {dims[1]})")
        start, stop = lo, hi
    _slice_node(graph, op, tensor, start, stop, op.outputs[0])


def _pad(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    _channels_first(tensor, "Pad")
    mode = str(op.attrs.get("mode", "constant"))
    if mode != "constant":
        raise Refused(f"mode={mode!r}; convcalc's pad is constant (zero) padding")
    rank = len(tensor.shape) + 1
    if graph.opset < 11:
        pads = [int(v) for v in op.attrs.get("pads", [])]
        value = float(op.attrs.get("value", 0.0))
        axes = list(range(rank))
    else:
        pads = graph.ints(op, 1) or []
        fill = graph.values(op, 2)
        value = 0.0 if fill is None or fill.size == 0 else float(fill.reshape(-1)[0])
        axes = [a % rank for a in graph.ints(op, 3) or range(rank)]
    if value != 0.0:
        raise Refused(f"constant value {value:g}; convcalc's pad pads with zeros")
    if len(pads) != 2 * len(axes):
        raise Refused(f"pads {pads} has {len(pads)} values for {len(axes)} axes")
    before, after = [0] * rank, [0] * rank
    for axis, begin, end in zip(axes, pads[:len(axes)], pads[len(axes):], strict=True):
        before[axis], after[axis] = begin, end
    if any(p < 0 for p in before + after):
        raise Refused(f"pads {pads} crop (negative); convcalc's pad only adds")
    if before[0] or after[0] or before[1] or after[1]:
        raise Refused(f"pads {pads} pad the batch or the channels; convcalc pads positions")
    if not any(before + after):
        graph.bind(op, op.outputs[0], tensor)
        return
    padding = [[b, a] for b, a in zip(before[2:], after[2:], strict=True)]
    graph.emit(op, {"type": "pad", "padding": padding}, tensor)


def _resize(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    _channels_first(tensor, op.op_type)
    if not tensor.spatial:
        raise Refused("needs a spatial input")
    mode = str(op.attrs.get("mode", "nearest"))
    if mode not in ("nearest", "linear", "bilinear", "trilinear"):
        raise Refused(f"mode={mode!r}; convcalc's upsample is nearest or linear")
    transform = str(op.attrs.get("coordinate_transformation_mode", "half_pixel"))
    if mode != "nearest" and transform == "align_corners":
        raise Refused("coordinate_transformation_mode='align_corners'; convcalc's linear "
                      "upsample is PyTorch's align_corners=False")
    if op.attrs.get("antialias", 0):
        raise Refused("antialias=1; convcalc's upsample does not filter")
    dims = tensor.onnx_dims(graph.batch or 1)
    rank = len(dims)
    if op.op_type == "Upsample" and graph.opset < 9:
        scales: list[float] | None = [float(v) for v in op.attrs.get("scales", [])]
        sizes: list[int] | None = None
    else:
        at = 1 if op.op_type == "Upsample" or graph.opset < 11 else 2
        scale_values = graph.values(op, at)
        scales = None if scale_values is None or scale_values.size == 0 else \
            [float(v) for v in scale_values.reshape(-1)]
        sizes = graph.ints(op, 3) if op.op_type == "Resize" and graph.opset >= 11 else None
        sizes = sizes or None
    axes = [int(a) % rank for a in op.attrs.get("axes", range(rank))]
    full_scales = [1.0] * rank
    full_sizes = list(dims)
    if sizes is not None:
        if len(sizes) != len(axes):
            raise Refused(f"sizes {sizes} for {len(axes)} axes")
        for axis, size in zip(axes, sizes, strict=True):
            full_sizes[axis] = size
    elif scales is not None:
        if len(scales) != len(axes):
            raise Refused(f"scales {scales} for {len(axes)} axes")
        for axis, scale in zip(axes, scales, strict=True):
            full_scales[axis] = scale
        full_sizes = [math.floor(d * s) for d, s in zip(dims, full_scales, strict=True)]
    else:
        raise Refused("has neither scales nor sizes")
    if full_sizes[:2] != dims[:2]:
        raise Refused(f"resizes the batch or the channels ({dims_text(dims[:2])} to "
                      f"{dims_text(full_sizes[:2])}); convcalc's upsample resizes positions")
    layer: dict[str, Any] = {"type": "upsample"}
    spatial_scales = full_scales[2:]
    if sizes is None and all(s >= 1 and s == int(s) for s in spatial_scales):
        layer["scale"] = per_dim([int(s) for s in spatial_scales])
    else:
        layer["size"] = per_dim(full_sizes[2:])
    if mode != "nearest":
        layer["mode"] = "linear"
    graph.emit(op, layer, tensor)


def _squeeze(graph: Graph, op: Op) -> None:
    tensor = graph.data(op, 0)
    _channels_first(tensor, "Squeeze")
    dims = tensor.onnx_dims(graph.batch or 1)
    axes = [int(a) for a in op.attrs["axes"]] if "axes" in op.attrs else graph.ints(op, 1)
    rank = len(dims)
    squeezed = sorted({a % rank for a in axes} if axes else
                      {i for i, d in enumerate(dims) if d == 1 and i > 0})
    if squeezed == list(range(2, rank)) and all(d == 1 for d in dims[2:]):
        graph.emit(op, {"type": "flatten"}, tensor)  # N×C×1×1 to N×C
        return
    raise Refused(f"squeezes axes {squeezed} of {dims_text(dims)}; convcalc reads a Squeeze "
                  "only of every spatial axis of size 1 (N×C×1×1 to N×C), as a flatten")


def _cast(graph: Graph, op: Op) -> None:
    """A Cast of a computed tensor changes its element type (the report sets one): no row."""
    graph.bind(op, op.outputs[0], graph.data(op, 0))


OPERATORS: dict[str, Callable[[Graph, Op], None]] = {
    "Squeeze": _squeeze,
    "Cast": _cast,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Concat": _concat,
    "Split": _split,
    "Slice": _slice,
    "Pad": _pad,
    "Resize": _resize,
    "Upsample": _resize,
}
