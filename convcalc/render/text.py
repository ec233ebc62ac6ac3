"""The plain-text formats for scripts and documents: JSON, CSV and Markdown."""

from __future__ import annotations

import csv
import io

from convcalc.common import shape_text
from convcalc.render.cells import csv_cell, markdown_cell
from convcalc.render.columns import (
    ColumnName,
    View,
    columns_of,
    count_text,
    lower_bound_note,
    memory_text,
    total_label,
    type_cell,
)
from convcalc.render.table import visible_rows
from convcalc.results import LayerRow, Report

__all__ = ["CSV_COLUMNS", "csv_columns", "to_csv", "to_json", "to_markdown"]

CSV_COLUMNS = (
    "name", "type", "depth", "container", "input_shape", "output_shape", "params",
    "non_trainable_params", "macs", "flops", "activation_bytes", "rf_size", "rf_stride",
    "rf_padding", "aux", "global_context",
)


def to_json(report: Report, depth: int | None = None) -> str:
    """Return the report as the documented JSON contract (docs/json.md); with ``depth``,
    the rows deeper than it folded into their containers' subtotal rows."""
    return report.folded(depth).model_dump_json(indent=2)


def _dims(values: tuple[int | float, ...] | None) -> str:
    return "x".join(str(v) for v in values) if values is not None else ""


_CSV_OF_COLUMN = {
    ColumnName.input: ("input_shape",),
    ColumnName.output: ("output_shape",),
    ColumnName.params: ("params", "non_trainable_params"),
    ColumnName.params_share: ("params_share",),
    ColumnName.macs: ("macs",),
    ColumnName.macs_share: ("macs_share",),
    ColumnName.flops: ("flops",),
    ColumnName.memory: ("activation_bytes",),
    ColumnName.receptive_field: ("rf_size", "rf_stride", "rf_padding"),
}
"""The CSV columns each ``--columns`` name stands for."""


def _share(value: int, total: int) -> str:
    return f"{value / total:.6f}" if total else "0"


def _csv_values(row: LayerRow, report: Report) -> dict[str, object]:
    field = row.receptive_field
    return {
        "name": csv_cell(row.name), "type": row.type, "depth": row.depth,
        "container": str(row.container).lower(), "input_shape": _dims(row.input_shape),
        "output_shape": _dims(row.output_shape), "params": row.params,
        "non_trainable_params": row.non_trainable_params, "macs": row.macs,
        "flops": row.flops, "activation_bytes": row.activation_bytes,
        "rf_size": _dims(field.size if field else None),
        "rf_stride": _dims(field.stride if field else None),
        "rf_padding": _dims(field.padding if field else None), "aux": str(row.aux).lower(),
        "global_context": str(row.global_context).lower(),
        "params_share": _share(row.params, report.totals.params),
        "macs_share": _share(row.macs, report.totals.macs),
    }


def csv_columns(view: View | None = None) -> tuple[str, ...]:
    """Return the CSV header: every column, or with ``--columns`` the row's identity
    (name, type, depth, container, aux, global_context) around the picked ones."""
    if view is None or (view.columns is None and not view.bars):
        return CSV_COLUMNS
    picked = [name for column in view.names() for name in _CSV_OF_COLUMN[column]]
    return ("name", "type", "depth", "container", *picked, "aux", "global_context")


def to_csv(report: Report, view: View | None = None) -> str:
    """Return one CSV row per report row; shapes and fields are written ``3x224x224``.

    ``view`` folds rows deeper than its depth and picks the columns (``--columns``)."""
    view = view if view is not None else View()
    header = csv_columns(view)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in report.folded(view.depth).layers:
        values = _csv_values(row, report)
        writer.writerow([values[column] for column in header])
    return buffer.getvalue()


def to_markdown(report: Report, depth: int | None = None, view: View | None = None) -> str:
    """Return a GitHub-flavoured Markdown table with a totals row, its numbers rounded
    throughout, or exact throughout with ``view.exact``."""
    view = view if view is not None else View(depth=depth)
    columns = columns_of(report, view)
    lines = [
        f"**{markdown_cell(report.name or 'network')}**: input {shape_text(report.input_shape)}, "
        f"batch {report.batch}, {report.dtype}",
        "",
        "| Layer | Type | " + " | ".join(header for header, _, _, _ in columns) + " |",
        "|---|---|" + "".join("--:|" if align == ">" else "---|" for _, align, _, _ in columns),
    ]
    for row in visible_rows(report, view.depth):
        name = "&nbsp;&nbsp;" * row.depth + (f"**{markdown_cell(row.name)}**" if row.container
                                            else markdown_cell(row.name))
        cells = [name, type_cell(row, report, view), *(cell(row) for _, _, cell, _ in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    footers = [f"**{total_label(report)}**", "", *(footer for _, _, _, footer in columns)]
    lines.append("|" + "|".join(f" {footer} " if footer else " " for footer in footers) + "|")
    totals = report.totals
    if totals.aux is not None:
        aux, full = totals.aux, view.exact
        lines += ["", f"Auxiliary heads (aux rows): {count_text(aux.params, full)} parameters, "
                      f"counted in the total; {count_text(aux.macs, full)} MACs, "
                      f"{count_text(aux.flops, full)} FLOPs and "
                      f"{memory_text(aux.activation_bytes, full)} not counted in it."]
    note = lower_bound_note(report)
    if note is not None:
        lines += ["", f"Lower bound: {note}."]
    return "\n".join(lines) + "\n"
