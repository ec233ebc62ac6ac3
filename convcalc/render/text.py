"""The plain-text formats for scripts and documents: JSON, CSV and Markdown."""

from __future__ import annotations

import csv
import io

from convcalc.common import shape_text
from convcalc.render.cells import csv_cell, markdown_cell
from convcalc.render.numbers import compact, human_bytes, receptive_field_text
from convcalc.render.table import visible_rows
from convcalc.results import Report

__all__ = ["CSV_COLUMNS", "to_csv", "to_json", "to_markdown"]

CSV_COLUMNS = (
    "name", "type", "depth", "container", "input_shape", "output_shape", "params",
    "non_trainable_params", "macs", "flops", "activation_bytes", "rf_size", "rf_stride",
    "rf_padding", "aux", "global_context",
)


def to_json(report: Report) -> str:
    """Return the report as the documented JSON contract (docs/json.md)."""
    return report.model_dump_json(indent=2)


def _dims(values: tuple[int | float, ...] | None) -> str:
    return "x".join(str(v) for v in values) if values is not None else ""


def to_csv(report: Report) -> str:
    """Return one CSV row per report row; shapes and fields are written ``3x224x224``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.layers:
        field = row.receptive_field
        writer.writerow([
            csv_cell(row.name), row.type, row.depth, str(row.container).lower(),
            _dims(row.input_shape), _dims(row.output_shape), row.params,
            row.non_trainable_params, row.macs, row.flops, row.activation_bytes,
            _dims(field.size if field else None), _dims(field.stride if field else None),
            _dims(field.padding if field else None), str(row.aux).lower(),
            str(row.global_context).lower(),
        ])
    return buffer.getvalue()


def to_markdown(report: Report, depth: int | None = None) -> str:
    """Return a GitHub-flavoured Markdown table with a totals row."""
    lines = [
        f"**{markdown_cell(report.name or 'network')}**: input {shape_text(report.input_shape)}, "
        f"batch {report.batch}, {report.dtype}",
        "",
        "| Layer | Type | Output shape | Params | MACs | FLOPs | Memory | Receptive field |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for row in visible_rows(report, depth):
        name = "&nbsp;&nbsp;" * row.depth + (f"**{markdown_cell(row.name)}**" if row.container
                                            else markdown_cell(row.name))
        row_type = f"{row.type} (aux)" if row.aux and row.type != "aux" else row.type
        field = receptive_field_text(row.receptive_field)
        if row.global_context and row.receptive_field:
            field += " + global"
        lines.append(
            f"| {name} | {row_type} | {shape_text(row.output_shape)} | {compact(row.params)} "
            f"| {compact(row.macs)} | {compact(row.flops)} | {human_bytes(row.activation_bytes)} "
            f"| {field} |"
        )
    totals = report.totals
    lines.append(
        f"| **Total** | | {shape_text(report.output_shape)} | {totals.params:,} | "
        f"{totals.macs:,} | {totals.flops:,} | {human_bytes(totals.activation_bytes)} | |"
    )
    if totals.aux is not None:
        aux = totals.aux
        lines += ["", f"Auxiliary heads (aux rows): {aux.params:,} parameters, counted in the "
                      f"total; {aux.macs:,} MACs, {aux.flops:,} FLOPs and "
                      f"{human_bytes(aux.activation_bytes)} not counted in it."]
    return "\n".join(lines) + "\n"
