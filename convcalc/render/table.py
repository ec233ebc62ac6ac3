"""The rich views: the network table, its summary, and the one-layer card."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from convcalc.common import shape_text
from convcalc.render.cells import terminal_text
from convcalc.render.columns import (
    Column,
    View,
    columns_of,
    lower_bound_note,
    share_bar,
    total_label,
    type_cell,
)
from convcalc.render.numbers import compact, exact, human_bytes
from convcalc.results import LayerRow, Report

__all__ = ["layer_card", "network_table", "share_bar", "summary", "visible_rows"]


def visible_rows(report: Report, depth: int | None) -> list[LayerRow]:
    """Return the rows to show: containers deeper than ``depth`` fold into their subtotal."""
    return list(report.folded(depth).layers)


def network_table(report: Report, depth: int | None = None, bars: bool = False,
                  view: View | None = None) -> Group:
    """Return the per-layer table with totals, and the summary lines below it.

    ``view`` (``--depth``, ``--columns``, ``--bars``, ``--exact``) wins over ``depth`` and
    ``bars``. Formatted here rather than by rich's Table, which takes seconds on a network
    of ten thousand layers; containers' subtotal rows are bold.
    """
    view = view if view is not None else View(depth=depth, bars=bars)
    columns: list[Column] = [
        ("Layer", "<", lambda r: "  " * r.depth + terminal_text(r.name),
         total_label(report)),
        ("Type", "<", lambda r: type_cell(r, report, view), ""),
        *columns_of(report, view),
    ]
    rows = visible_rows(report, view.depth)
    cells = [[cell(row) for _, _, cell, _ in columns] for row in rows]
    widths = [
        max(len(header), len(footer), *(len(line[i]) for line in cells))
        for i, (header, _, _, footer) in enumerate(columns)
    ]

    def line(values: list[str]) -> str:
        return "  ".join(f"{v:{align}{w}}" for v, (_, align, _, _), w in
                         zip(values, columns, widths, strict=True)).rstrip()

    rule = "─" * (sum(widths) + 2 * (len(widths) - 1))
    title = terminal_text(report.name or "network")
    text = Text(f"{title}: input {shape_text(report.input_shape)}, batch {report.batch}\n\n",
                style="bold")
    text.append(line([header for header, _, _, _ in columns]) + "\n", style="bold")
    text.append(rule + "\n")
    for row, values in zip(rows, cells, strict=True):
        text.append(line(values) + "\n", style="bold" if row.container else None)
    text.append(rule + "\n")
    text.append(line([footer for _, _, _, footer in columns]) + "\n", style="bold")
    return Group(text, summary(report))


def _aligned(pairs: list[tuple[str, str]]) -> Text:
    """Return label/value lines with the values lined up, labels bold."""
    width = max(len(label) for label, _ in pairs)
    text = Text()
    for index, (label, value) in enumerate(pairs):
        text.append(f"{label:<{width}}", style="bold")
        text.append(f"  {value}" if value else "")
        if index < len(pairs) - 1:
            text.append("\n")
    return text


def summary(report: Report) -> Text:
    """Return the totals as exact numbers, with what each one counts."""
    totals = report.totals
    rows = [
        ("Parameters (trainable)", exact(totals.params), compact(totals.params)),
        ("Non-trainable (BN statistics)", exact(totals.non_trainable_params), ""),
        ("Multiply-accumulates", exact(totals.macs), f"{compact(totals.macs)} MACs"),
        ("FLOPs", exact(totals.flops), f"{compact(totals.flops)} FLOPs"),
        (f"Activation memory ({report.dtype})", f"{exact(totals.activation_bytes)} B",
         human_bytes(totals.activation_bytes)),
        (f"Parameter memory ({report.dtype})", f"{exact(totals.param_bytes)} B",
         human_bytes(totals.param_bytes)),
    ]
    aux = totals.aux
    if aux is not None:
        rows.append(("Auxiliary heads (aux rows)", exact(aux.params),
                     f"parameters, counted above; {exact(aux.macs)} MACs, {exact(aux.flops)} "
                     f"FLOPs, {human_bytes(aux.activation_bytes)} not counted above"))
    note = lower_bound_note(report)
    if note is not None:
        rows.append(("Lower bound", "", note))
    number_width = max(len(number) for _, number, _ in rows)
    return _aligned([(label, f"{number:>{number_width}}  {_unless_same(short, number)}".rstrip())
                     for label, number, short in rows])


def _unless_same(rounded: str, number: str) -> str:
    """Return the rounded form, or nothing when its number is the exact one (``448`` beside
    ``448``, ``0 MACs`` beside ``0``, ``1023 B`` beside ``1,023 B``)."""
    def digits(text: str) -> str:
        return text.split(" ")[0].replace(",", "")

    return "" if digits(rounded) == digits(number) else rounded


def layer_card(report: Report) -> Text:
    """Return the one-layer view: every number exact, with its breakdown."""
    row = next(r for r in report.layers if not r.container)
    pairs = [
        ("Layer", f"{row.type}: {shape_text(row.input_shape)} → {shape_text(row.output_shape)}"),
        ("Output volume", shape_text(row.output_shape)),
    ]
    weights = row.params - row.bias_params
    parts = f" ({exact(weights)} weights + {exact(row.bias_params)} biases)" if row.params else ""
    pairs.append(("Parameters", exact(row.params) + parts))
    if row.non_trainable_params:
        pairs.append(("Non-trainable", exact(row.non_trainable_params)))
    batch = f" (batch {report.batch})" if report.batch > 1 else ""
    pairs.append(("Multiply-accumulates", exact(row.macs) + batch))
    other = row.flops - 2 * row.macs
    extra = "bias adds" if row.bias_params else "other operations"
    breakdown = f" (2 × {exact(row.macs)} MACs + {exact(other)} {extra})" if row.macs else ""
    pairs.append(("FLOPs", exact(row.flops) + breakdown))
    field = row.receptive_field
    if field is None:
        pairs.append(("Receptive field", "untracked" if row.fields_out == "untracked"
                      else "global"))
    else:
        pairs.append(("Receptive field", f"{shape_text(field.size)} (stride "
                      f"{shape_text(field.stride)}, padding "
                      f"{shape_text(field.padding)})"))
    memory, rounded = f"{exact(row.activation_bytes)} B", human_bytes(row.activation_bytes)
    pairs.append((f"Output memory ({report.dtype})",
                  f"{memory} ({rounded})" if _unless_same(rounded, memory) else memory))
    return _aligned(pairs)
