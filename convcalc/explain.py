"""Each layer's formulas with its numbers substituted, as a student would write them.

``explain(report)`` walks a report's rows the way the analysis made them and gives back one
``Explanation`` per layer and merge: lines such as ``out = (32 − 5 + 2·2)/1 + 1 = 32``,
``params = 10·(3·5·5) + 10 = 760`` and ``RF = 1 + (5−1)·1 = 5``. The inputs of every
formula come from the layer's own resolved geometry (``window(shape)``, ``per_dim``, the
index maps of ``apply``); the right-hand sides are evaluated here from the written
arithmetic, so a test can check each against the report's number.

The receptive-field line uses the recurrence of Araujo et al. (Distill, 2019),
``r_out = r_in + (K−1)·D·S_in``, while every unit of the input sees a span of the same
width; after upsampling or a transposed convolution it does not hold, and the line says
the size comes from the exact walk (``convcalc.receptive_field``).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from convcalc.geometry import AdaptiveMap, IndexMap, ResampleMap, TransposedWindowMap, WindowMap
from convcalc.layers import LayerSpec, Shape
from convcalc.layers.base import format_shape, per_dim, resolve_padding
from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.dense import Flatten, Linear
from convcalc.layers.elementwise import Activation, BatchNorm, Dropout, LeakyRelu
from convcalc.layers.pool import AdaptivePool, AvgPool, GlobalPool, MaxPool
from convcalc.layers.resample import Pad, Upsample
from convcalc.layers.worked import (
    Term,
    Worked,
    equation,
    lines_per_dim,
    number,
    product,
    scaled,
    transposed_size_line,
    weight_note,
    window_lines,
    window_size_lines,
)
from convcalc.receptive_field import AxisField
from convcalc.results import LayerRow, Report

__all__ = ["Explanation", "explain", "transposed_size_line", "window_size_lines"]


class Explanation(BaseModel):
    """The worked formulas of one layer or merge.

    Attributes:
        layer: the layer's full name, as in the report.
        type: the layer type (``add``/``concat`` for a merge).
        lines: the formulas with numbers, in reading order.
        output_shape: the shape the formulas give (not in the JSON).
        params: the parameters the formulas give (not in the JSON).
        non_trainable_params: the stored statistics the formulas give (not in the JSON).
        macs: the MACs the formulas give, batch included (not in the JSON).
        flops: the FLOPs the formulas give, batch included (not in the JSON).
        receptive_field: the field size per spatial dim the formulas give, None once
            positions are mixed (not in the JSON).
    """

    model_config = ConfigDict(frozen=True)

    layer: str
    type: str
    lines: tuple[str, ...]
    output_shape: tuple[int, ...] = Field(exclude=True)
    params: int = Field(0, exclude=True)
    non_trainable_params: int = Field(0, exclude=True)
    macs: int = Field(0, exclude=True)
    flops: int = Field(0, exclude=True)
    receptive_field: tuple[int, ...] | None = Field(None, exclude=True)


# ---------------------------------------------------------------- one explainer per type


def _conv(layer: Conv, shape: Shape) -> Worked:
    window = layer.window(shape)
    lines, sizes = window_lines(window, layer.padding == "same")
    channels = shape[0] // layer.groups
    if layer.groups > 1:
        lines.append(f"groups = {layer.groups}: each filter reads C/groups = {shape[0]}/"
                     f"{layer.groups} = {channels} channel{'s' if channels > 1 else ''}")
    taps = product([channels, *window.kernel]).group()
    params = number(layer.filters) * taps
    if layer.bias:
        params = params + number(layer.filters)
    lines.append(equation("params", params))
    macs = product([layer.filters, *sizes]) * taps
    bias_adds = product([layer.filters, *sizes]) if layer.bias else None
    return Worked(lines, (layer.filters, *sizes), params.value, macs=macs,
                   flops=bias_adds, flops_note=weight_note(layer.bias))


def _conv_transpose(layer: ConvTranspose, shape: Shape) -> Worked:
    dims = shape[1:]
    rank = len(dims)
    kernel = per_dim(layer.kernel, rank, "kernel")
    stride = per_dim(layer.stride, rank, "stride")
    dilation = per_dim(layer.dilation, rank, "dilation")
    padding = per_dim(layer.padding, rank, "padding")
    extra = per_dim(layer.output_padding, rank, "output_padding")
    sizes = tuple((w - 1) * s - 2 * p + d * (k - 1) + e + 1
                  for w, k, s, d, p, e in zip(dims, kernel, stride, dilation, padding, extra,
                                              strict=True))
    lines = ["out = (W − 1)·S − 2P + D·(K − 1) + output_padding + 1 (PyTorch's "
             "ConvTranspose)"]
    lines += lines_per_dim(rank, lambda i: [transposed_size_line(
        dims[i], kernel[i], stride[i], dilation[i], padding[i], extra[i])])
    per_group = layer.filters // layer.groups
    if layer.groups > 1:
        lines.append(f"groups = {layer.groups}: each input channel feeds filters/groups = "
                     f"{layer.filters}/{layer.groups} = {per_group} outputs")
    taps = product([per_group, *kernel]).group()
    params = number(shape[0]) * taps
    if layer.bias:
        params = params + number(layer.filters)
    lines.append(equation("params", params))
    lines.append("MACs by input position: each input element is multiplied into the "
                 "filters/groups·∏K weights it scatters (the zeros a stride inserts are "
                 "not counted)")
    bias_adds = product([layer.filters, *sizes]) if layer.bias else None
    return Worked(lines, (layer.filters, *sizes), params.value,
                   macs=product(list(shape)) * taps, flops=bias_adds,
                   flops_note=weight_note(layer.bias))


def _pool(layer: MaxPool | AvgPool, shape: Shape) -> Worked:
    window = layer.window(shape)
    lines = []
    if layer.stride is None:
        lines.append(f"stride = kernel = {'×'.join(map(str, window.kernel))} (pooling's "
                     "default)")
    more, sizes = window_lines(window, layer.padding == "same")
    lines += more
    lines.append(f"channels kept: {shape[0]}")
    out = (shape[0], *sizes)
    kernel = product(window.kernel)
    if isinstance(layer, MaxPool):
        return Worked(lines, out, flops=product(list(out)) * (kernel - number(1)).group(),
                       flops_note="∏K − 1 comparisons per output")
    taps = kernel.group() if len(window.kernel) > 1 else kernel
    return Worked(lines, out, flops=product(list(out)) * taps,
                   flops_note="∏K − 1 adds and a divide per output")


def _adaptive(layer: AdaptivePool, shape: Shape) -> Worked:
    dims = shape[1:]
    sizes = per_dim(layer.output, len(dims), "output")

    def lines(i: int) -> list[str]:
        w, o = dims[i], sizes[i]
        if w % o == 0:
            return [f"out = {o} (given); window = stride = {w}/{o} = {w // o}"]
        lengths = [-(-(j + 1) * w // o) - j * w // o for j in range(o)]
        shown = ", ".join(map(str, lengths[:8])) + (", …" if o > 8 else "")
        return [f"out = {o} (given); {w}/{o} is not whole, so the windows "
                f"[⌊o·{w}/{o}⌋, ⌈(o+1)·{w}/{o}⌉) have {shown} inputs (PyTorch's placement)"]

    body = lines_per_dim(len(dims), lines)
    totals = [sum(-(-(j + 1) * w // o) - j * w // o for j in range(o))
              for w, o in zip(dims, sizes, strict=True)]
    read = product([shape[0], *totals])
    out = (shape[0], *sizes)
    if layer.type == "adaptive_avgpool":
        return Worked(body, out, flops=read,
                       flops_note="one operation per element read: adds, then a divide")
    return Worked(body, out, flops=read - product(list(out)),
                   flops_note="elements read less one per window: comparisons")


def _global(layer: GlobalPool, shape: Shape) -> Worked:
    lines = [f"out = C = {shape[0]} (one value per channel)"]
    positions = product(list(shape[1:]))
    if layer.type == "global_avgpool":
        return Worked(lines, (shape[0],), flops=number(shape[0]) * positions,
                       flops_note="adds and a divide per channel")
    return Worked(lines, (shape[0],), flops=number(shape[0]) * (positions - number(1)).group(),
                   flops_note="comparisons")


def _linear(layer: Linear, shape: Shape) -> Worked:
    macs = number(shape[0]) * number(layer.units)
    params = macs + number(layer.units) if layer.bias else macs
    return Worked([equation("params", params)], (layer.units,), params.value, macs=macs,
                   flops=number(layer.units) if layer.bias else None,
                   flops_note=weight_note(layer.bias))


def _flatten(layer: Flatten, shape: Shape) -> Worked:
    out = product(list(shape))
    return Worked([equation("out", out) + " (C·∏W)"], (out.value,))


def _batchnorm(layer: BatchNorm, shape: Shape) -> Worked:
    params = number(2) * number(shape[0])
    lines = [equation("params", params, "γ and β per channel"),
             equation("non-trainable", params, "running mean and variance")]
    return Worked(lines, shape, params.value, params.value, flops=number(2) * product(list(shape)),
                   flops_note="inference form x·a + b: a multiply and an add per element")


def _elementwise(layer: LayerSpec, shape: Shape) -> Worked:
    if isinstance(layer, Dropout):
        return Worked(["the identity at inference: out = in, no FLOPs"], shape)
    per = Activation.FLOPS_PER_ELEMENT.get(layer.type, 1)
    if per == 0:
        return Worked(["the identity: out = in, no FLOPs"], shape)
    elements = product(list(shape))
    if per == 1:
        return Worked([], shape, flops=elements, flops_note="one per element")
    return Worked([], shape, flops=number(per) * elements,
                   flops_note="exp, sum and divide per element")


def _pad(layer: Pad, shape: Shape) -> Worked:
    dims = shape[1:]
    ones = (1,) * len(dims)
    pads = resolve_padding(layer.padding, dims, ones, ones, ones)
    sizes = tuple(w + b + a for w, (b, a) in zip(dims, pads, strict=True))
    lines = lines_per_dim(len(dims), lambda i: [
        f"out = {dims[i]} + {pads[i][0]} + {pads[i][1]} = {sizes[i]}"])
    return Worked(lines, (shape[0], *sizes))


def _upsample(layer: Upsample, shape: Shape) -> Worked:
    dims = shape[1:]
    rank = len(dims)
    if layer.size is not None:
        sizes = per_dim(layer.size, rank, "size")
        lines = lines_per_dim(rank, lambda i: [f"out = {sizes[i]} (given size)"])
    else:
        scale = per_dim(layer.scale, rank, "scale")  # type: ignore[arg-type]
        sizes = tuple(w * s for w, s in zip(dims, scale, strict=True))
        lines = lines_per_dim(rank, lambda i: [f"out = {dims[i]}·{scale[i]} = {sizes[i]}"])
    out = (shape[0], *sizes)
    if layer.mode == "nearest":
        lines.append("nearest: each output copies one input, no FLOPs")
        return Worked(lines, out)
    taps = 2**rank
    per = (number(taps) + number(taps - 1)).group()
    return Worked(lines, out, flops=per * product(list(out)),
                   flops_note=f"{taps} multiplies and {taps - 1} adds per output element, "
                              "align_corners=False")


_EXPLAINERS: dict[type[LayerSpec], Callable[..., Worked]] = {
    Conv: _conv, ConvTranspose: _conv_transpose, MaxPool: _pool, AvgPool: _pool,
    AdaptivePool: _adaptive, GlobalPool: _global, Linear: _linear, Flatten: _flatten,
    BatchNorm: _batchnorm, Dropout: _elementwise, Activation: _elementwise,
    LeakyRelu: _elementwise, Pad: _pad, Upsample: _upsample,
}


# ---------------------------------------------------------------- receptive fields



def _field_step(index_map: IndexMap, before: AxisField, after: AxisField) -> tuple[str, int]:
    """Return the receptive-field line of one dim and the size it gives."""
    stride_in = before.stride
    kernel = dilation = step = 0
    if isinstance(index_map, WindowMap):
        kernel, dilation, step = index_map.kernel, index_map.dilation, index_map.stride
    elif isinstance(index_map, AdaptiveMap) and index_map.size_in % index_map.size_out == 0:
        kernel = step = index_map.size_in // index_map.size_out
        dilation = 1
    if kernel and before.period == 1:
        size_in, stride = before.size, int(stride_in)
        tap = f"({kernel}−1)·{dilation}·{stride}" if dilation > 1 else f"({kernel}−1)·{stride}"
        size = size_in + (kernel - 1) * dilation * stride
        text = f"RF = {size_in} + {tap} = {size}"
        if step > 1:
            text += f", stride {stride}·{step} = {stride * step}"
        return text, size
    if kernel:
        why = (f"the input's units repeat with a period of {before.period}, not 1 (after "
               "upsampling), so r_in + (K−1)·D·S_in does not apply")
    elif isinstance(index_map, TransposedWindowMap):
        why = "a transposed convolution: output o reads the inputs i with i·S − P + k·D = o"
    elif isinstance(index_map, ResampleMap):
        why = "upsampling: neighbouring outputs read the same inputs"
    elif isinstance(index_map, AdaptiveMap):
        why = "adaptive windows of different widths"
    elif before.size == after.size:
        return f"RF = {after.size} (unchanged: padding only shifts positions)", after.size
    else:
        why = "the layer moves positions"
    stride_text = str(after.stride)
    return f"RF = {after.size}, stride {stride_text}: the widest unit, from the exact walk " \
           f"({why})", after.size


# ---------------------------------------------------------------- the rows


def _leaf(row: LayerRow) -> tuple[Worked, list[str], tuple[int, ...] | None]:
    """Return a layer row's worked formulas, its receptive-field lines and field sizes."""
    layer = row.spec
    assert layer is not None
    explainer = _EXPLAINERS.get(type(layer))
    if explainer is None:
        worked = Worked([f"no worked formulas for {layer.type} layers"],
                         row.output_shape, row.params, row.non_trainable_params)
    else:
        worked = explainer(layer, row.input_shape)
    before, after = row.fields_in, row.fields_out
    if not isinstance(before, tuple):  # global or untracked already: nothing to add
        return worked, [], None
    if after == "global":
        return worked, ["RF: global (every output reads every input position)"], None
    if not isinstance(after, tuple):  # the walk lost track here (a warning says so)
        return worked, [], None
    index_maps = layer.apply(row.input_shape).index_maps
    if not index_maps:  # elementwise: the field is unchanged
        return worked, [], tuple(f.size for f in after)
    steps = [_field_step(m, b, a) for m, b, a in zip(index_maps, before, after, strict=True)]
    return worked, lines_per_dim(len(steps), lambda i: [steps[i][0]]), tuple(s for _, s in steps)


def _merge(row: LayerRow) -> tuple[Worked, list[str], tuple[int, ...] | None]:
    """Return a merge row's worked formulas, its receptive-field lines and field sizes."""
    shapes = row.branch_shapes
    listed = " + ".join(format_shape(s) for s in shapes)
    out = row.output_shape
    if row.type == "add":
        flops = (number(len(shapes)) - number(1)).group() * product(list(out))
        worked = Worked([f"add: {listed} → {format_shape(out)} (equal shapes, "
                          "elementwise)"], out, flops=flops,
                         flops_note="one add per element for each extra branch")
    else:
        written = " + ".join(str(s[0]) for s in shapes)
        kept = f", spatial {format_shape(out[1:])} kept" if len(out) > 1 else ""
        worked = Worked([f"concat: channels = {written} = {out[0]}{kept}"], out)
    fields = row.fields_out
    if not isinstance(fields, tuple):
        return worked, [], None
    lines = lines_per_dim(len(fields), lambda i: [
        f"RF = {fields[i].size}: the union of the branches' fields"])
    return worked, lines, tuple(f.size for f in fields)


def _explanation(row: LayerRow, batch: int, worked: Worked, rf_lines: list[str],
                 sizes: tuple[int, ...] | None) -> Explanation:
    """Return the explanation of one row: its worked lines, then MACs, FLOPs and the field."""
    lines = list(worked.lines)

    def scale(term: Term) -> Term:
        return scaled(batch, term) if batch > 1 else term

    note = f"batch {batch}" if batch > 1 else ""
    macs = flops = 0
    if worked.macs is not None:
        total = scale(worked.macs)
        lines.append(equation("MACs", total, note))
        macs = total.value
        flops_term = number(2) * Term(f"{macs:,}", macs)
        if worked.flops is not None:
            flops_term = flops_term + scale(worked.flops)
        lines.append(equation("FLOPs", flops_term, worked.flops_note))
        flops = flops_term.value
    elif worked.flops is not None:
        total = scale(worked.flops)
        text = "; ".join(n for n in (worked.flops_note, note) if n)
        lines.append(equation("FLOPs", total, text))
        flops = total.value
    lines += rf_lines
    return Explanation(
        layer=row.name, type=row.type, lines=tuple(lines),
        output_shape=worked.output_shape, params=worked.params,
        non_trainable_params=worked.non_trainable_params, macs=macs, flops=flops,
        receptive_field=sizes,
    )


def explain(report: Report) -> tuple[Explanation, ...]:
    """Return the worked formulas of every layer and merge of ``report``, in row order.

    The analysis left on each row what the explanation needs (the layer, its input, the
    receptive field before and after it, a merge's branch shapes), so this is one pass.
    """
    return tuple(
        _explanation(row, report.batch, *(_leaf(row) if row.spec is not None else _merge(row)))
        for row in report.layers if not row.container
    )
