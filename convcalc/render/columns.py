"""Which rows and columns a view of the report shows: ``--depth``, ``--columns``, ``--exact``.

One catalogue of columns serves the table, Markdown and CSV, so a name means the same in
each. The layer's name and type always come first; the rest are picked by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from convcalc.common import shape_text
from convcalc.render.numbers import compact, exact, human_bytes, receptive_field_text
from convcalc.results import LayerRow, Report

__all__ = ["DEFAULT_COLUMNS", "ColumnName", "View", "columns_of", "count_text", "memory_text",
           "repeat_of", "share_bar"]


class ColumnName(StrEnum):
    """A column ``--columns`` can pick (the table's, Markdown's and CSV's)."""

    input = "input"
    output = "output"
    params = "params"
    params_share = "params-share"
    macs = "macs"
    macs_share = "macs-share"
    flops = "flops"
    memory = "memory"
    receptive_field = "receptive-field"


DEFAULT_COLUMNS = (ColumnName.output, ColumnName.params, ColumnName.macs, ColumnName.flops,
                   ColumnName.memory, ColumnName.receptive_field)
"""The columns shown when ``--columns`` is not given (``input`` is there to pick)."""


@dataclass(frozen=True)
class View:
    """How a report is shown.

    Attributes:
        depth: containers deeper than this fold into their subtotal rows; None shows all.
        columns: the columns after name and type, in order; None for the default.
        bars: add the share bars after the parameters and the MACs.
        exact: full integers instead of ``9.41 K`` and ``3.06 MiB``.
    """

    depth: int | None = None
    columns: tuple[ColumnName, ...] | None = None
    bars: bool = False
    exact: bool = False

    def names(self) -> tuple[ColumnName, ...]:
        """Return the columns to show, the bars put after their quantities."""
        names = list(self.columns if self.columns is not None else DEFAULT_COLUMNS)
        if self.bars:
            for quantity, share in ((ColumnName.params, ColumnName.params_share),
                                    (ColumnName.macs, ColumnName.macs_share)):
                if quantity in names and share not in names:
                    names.insert(names.index(quantity) + 1, share)
        return tuple(names)


def count_text(value: int, full: bool) -> str:
    """Return a count as ``11,689,512`` (``full``) or ``11.7 M``."""
    return exact(value) if full else compact(value)


def memory_text(value: int, full: bool) -> str:
    """Return a byte count as ``3,211,264 B`` (``full``) or ``3.06 MiB``."""
    return f"{exact(value)} B" if full else human_bytes(value)


def share_bar(value: int, total: int, width: int = 10) -> str:
    """Return a bar of ``width`` cells showing value/total, then the percentage."""
    fraction = value / total if total else 0.0
    eighths = round(fraction * width * 8)
    blocks = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
    return f"{blocks:<{width}} {fraction:6.1%}"


def repeat_of(row: LayerRow, report: Report) -> int:
    """Return how many times a container row's body runs (its ``repeat``), 1 for the
    rows of one run (``body.0``, which share the container's spec) and every other row."""
    repeat = getattr(row.spec, "repeat", 1)
    if not row.container or repeat == 1:
        return 1
    parent_name = row.name.rpartition(".")[0]
    parent = next((r for r in report.layers if r.name == parent_name and r.container), None)
    return 1 if parent is not None and parent.spec is row.spec else int(repeat)


Column = tuple[str, str, Callable[[LayerRow], str], str]
"""A column: header, alignment ('<' or '>'), the cell of a row, the footer."""


def field_cell(row: LayerRow) -> str:
    """Return the receptive field, with ``+ global`` where the row also depends on every
    input position through a broadcast scale (``global_context``)."""
    if row.receptive_field is None and row.fields_out == "untracked":
        return "untracked"
    text = receptive_field_text(row.receptive_field)
    return f"{text} + global" if row.global_context and row.receptive_field else text


def type_cell(row: LayerRow, report: Report, view: View) -> str:
    """Return the row's type, marked ``(aux)`` in an auxiliary head, ``×N`` when it is a
    repeated container folded by ``--depth``; an unknown row names its operator, and a
    container holding one is marked ``(lower bound)``."""
    text = f"{row.type} (aux)" if row.aux and row.type != "aux" else row.type
    if row.unknown:
        op = getattr(row.spec, "op", None)
        text += f" ({op})" if op is not None and not row.container else " (lower bound)"
    if row.container and row.depth == view.depth:
        repeat = repeat_of(row, report)
        if repeat > 1:
            text += f" ×{repeat}"
    return text


def total_label(report: Report) -> str:
    """Return the totals row's label: ``Total``, ``Total (lower bound)`` when a row is
    unknown."""
    return "Total (lower bound)" if report.totals.lower_bound else "Total"


def lower_bound_note(report: Report) -> str | None:
    """Return the sentence saying why the totals are lower bounds, or None when they are
    not."""
    if not report.totals.lower_bound:
        return None
    rows = [row for row in report.layers if row.unknown and not row.container]
    ops = sorted({str(getattr(row.spec, "op", "?")) for row in rows})
    count = f"{len(rows)} unknown row{'s' if len(rows) != 1 else ''}"
    return (f"{count} ({', '.join(ops)}) counted as 0: every total is at least the number "
            "shown")


def columns_of(report: Report, view: View) -> list[Column]:
    """Return the picked columns (name and type not included) with their cells and footers."""
    totals, full = report.totals, view.exact

    def shown_whole(row: LayerRow) -> bool:
        """A leaf, or a container folded by --depth: its bar stands for its subtree."""
        return not row.container or row.depth == view.depth

    catalogue: dict[ColumnName, Column] = {
        ColumnName.input: ("Input shape", "<", lambda r: shape_text(r.input_shape),
                           shape_text(report.input_shape)),
        ColumnName.output: ("Output shape", "<", lambda r: shape_text(r.output_shape),
                            shape_text(report.output_shape)),
        ColumnName.params: ("Params", ">", lambda r: count_text(r.params, full),
                            count_text(totals.params, full)),
        ColumnName.params_share: ("Params share", "<", lambda r: share_bar(
            r.params, totals.params) if shown_whole(r) else "", ""),
        ColumnName.macs: ("MACs", ">", lambda r: count_text(r.macs, full),
                          count_text(totals.macs, full)),
        ColumnName.macs_share: ("MACs share", "<", lambda r: share_bar(
            r.macs, totals.macs) if shown_whole(r) else "", ""),
        ColumnName.flops: ("FLOPs", ">", lambda r: count_text(r.flops, full),
                           count_text(totals.flops, full)),
        ColumnName.memory: ("Memory", ">", lambda r: memory_text(r.activation_bytes, full),
                            memory_text(totals.activation_bytes, full)),
        ColumnName.receptive_field: ("Receptive field", ">", field_cell, ""),
    }
    return [catalogue[name] for name in view.names()]
