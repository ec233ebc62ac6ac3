"""Each layer's formulas with its numbers substituted, as a student would write them.

``explain(report)`` walks a report's rows the way the analysis made them and gives back one
``Explanation`` per layer and merge: lines such as ``out = (32 − 5 + 2·2)/1 + 1 = 32``,
``params = 10·(3·5·5) + 10 = 760`` and ``RF = 1 + (5−1)·1 = 5``; with a training step
counted, the backward's (``dW MACs = …``, ``saved: input …``), which
``convcalc.training`` wrote from each layer's ``backward`` rule. Each layer type
writes its own formulas (``LayerSpec.explain``, from the values its ``resolve`` gives,
in ``convcalc.layers``); what is left here is what every row shares: the MACs and FLOPs
lines with the batch, and the receptive-field lines from the index maps. The right-hand
sides are evaluated from the written arithmetic, so a test can check each against the
report's number.

The receptive-field line uses the recurrence of Araujo et al. (Distill, 2019),
``r_out = r_in + (K−1)·D·S_in``, while every unit of the input sees a span of the same
width; after upsampling or a transposed convolution it does not hold, and the line says
the size comes from the exact walk (``convcalc.receptive_field``).
"""

from __future__ import annotations

from typing import assert_never

from pydantic import Field

from convcalc.common import Frozen
from convcalc.geometry import AdaptiveMap, IndexMap, ResampleMap, TransposedWindowMap, WindowMap
from convcalc.layers.merges import FieldRule, merge_definition
from convcalc.layers.worked import (  # the window lines are exported from here for solve
    Term,
    Worked,
    equation,
    lines_per_dim,
    number,
    scaled,
    transposed_size_line,
    window_size_lines,
)
from convcalc.receptive_field import AxisField
from convcalc.results import LayerRow, Report
from convcalc.training import backward_lines

__all__ = ["Explanation", "explain", "transposed_size_line", "window_size_lines"]


class Explanation(Frozen):
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

    layer: str
    type: str
    lines: tuple[str, ...]
    output_shape: tuple[int, ...] = Field(exclude=True)
    params: int = Field(0, exclude=True)
    non_trainable_params: int = Field(0, exclude=True)
    macs: int = Field(0, exclude=True)
    flops: int = Field(0, exclude=True)
    receptive_field: tuple[int, ...] | None = Field(None, exclude=True)


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
    worked = layer.explain(row.input_shape)
    before, after = row.fields_in, row.fields_out
    if not isinstance(before, tuple):  # global or untracked already: nothing to add
        return worked, [], None
    if after == "global":
        if row.type == "flatten":  # it moves positions into features; it reads no window
            return worked, ["RF: global from here on (each output reads exactly one input "
                            "position; the positions become features, which later layers "
                            "mix)"], None
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
    merge = merge_definition(row.type)
    worked = merge.explain(row.branch_shapes)
    fields = row.fields_out
    if not isinstance(fields, tuple):
        return worked, [], None
    local = merge.local_branches(row.branch_shapes)

    def why(dim: int) -> str:
        match merge.field_rule:
            case FieldRule.union:
                return "the union of the branches' fields"
            case FieldRule.local_union:
                held = [str(i) for i, counts in enumerate(local[dim]) if not counts]
                if not held:
                    return "the union of the branches' fields (none broadcast along it)"
                which = "branch" if len(held) == 1 else "branches"
                return (f"the union of the branches not broadcast along it ({which} "
                        f"{', '.join(held)} broadcast: global context, held fixed)")
            case rule:
                assert_never(rule)

    lines = lines_per_dim(len(fields), lambda i: [f"RF = {fields[i].size}: {why(i)}"])
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
    if row.training is not None:  # --training: the backward's formulas and what it keeps
        lines += backward_lines(row.training, row.name)
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
