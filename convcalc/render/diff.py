"""``convcalc diff`` as text: an aligned table and totals, Markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from rich.text import Text

from convcalc.common import shape_text
from convcalc.diff import NetworkDiff, RowChange, RowState, TotalChange
from convcalc.render.cells import csv_cell, markdown_cell, terminal_text
from convcalc.render.numbers import compact, exact, human_bytes, receptive_field_text
from convcalc.results import ReceptiveField

__all__ = ["diff_csv", "diff_json", "diff_markdown", "diff_text", "relative_text"]

MARK = {"added": "+", "removed": "−", "changed": "~", "unchanged": " "}
STYLE = {"added": "green", "removed": "red", "changed": "yellow", "unchanged": None}

Cell = Callable[[RowState], str]
COLUMNS: list[tuple[str, str, Cell]] = [
    ("Type", "<", lambda s: s.type),
    ("Output shape", "<", lambda s: shape_text(s.output_shape)),
    ("Params", ">", lambda s: compact(s.params)),
    ("MACs", ">", lambda s: compact(s.macs)),
    ("FLOPs", ">", lambda s: compact(s.flops)),
    ("Memory", ">", lambda s: human_bytes(s.activation_bytes)),
    ("Receptive field", ">", lambda s: receptive_field_text(s.receptive_field)),
]


def _side(row: RowChange) -> RowState:
    """Return the row's state in the second network, or in the first when it was removed."""
    side = row.b or row.a
    assert side is not None, "a compared row is in at least one network"
    return side


def _pair(row: RowChange, cell: Cell) -> str:
    """Return one side's value, or ``a → b`` when the two differ."""
    if row.a is None or row.b is None:
        return cell(_side(row))
    before, after = cell(row.a), cell(row.b)
    return before if before == after else f"{before} → {after}"


def relative_text(total: TotalChange, unit: str = "") -> str:
    """Return ``+10,240 (+12.3 %)``: the change, then relative to the first total.

    Below 0.1 % two significant digits show (``−0.039 %``); ``new`` when the first total
    is 0; ``0`` when nothing changed. ``unit`` follows the number (`` B``).
    """
    if not total.change:
        return "0"
    sign = "+" if total.change > 0 else "−"
    absolute = f"{sign}{abs(total.change):,}{unit}"
    if total.relative is None:
        return f"{absolute} (new)"
    percent = abs(total.relative) * 100
    shown = f"{percent:.1f}" if percent >= 0.1 else f"{percent:.2g}"
    return f"{absolute} ({sign}{shown} %)"


def _headline(diff: NetworkDiff, everything: bool) -> str:
    names = terminal_text(f"{diff.a_name or 'A'} → {diff.b_name or 'B'}")
    unchanged = diff.count("unchanged")
    hidden = "" if everything or not unchanged else " (hidden; --all shows them)"
    return (f"{names} (batch {diff.batch}, {diff.dtype}): {diff.count('changed')} changed, "
            f"{diff.count('added')} added, {diff.count('removed')} removed, {unchanged} "
            f"unchanged{hidden}")


_TOTAL_LABELS = {
    "params": "Parameters (trainable)", "non_trainable_params": "Non-trainable",
    "macs": "Multiply-accumulates", "flops": "FLOPs", "activation_bytes": "Activation memory",
    "param_bytes": "Parameter memory",
}


def _field(field: ReceptiveField | None) -> str:
    return receptive_field_text(field)


def _totals(diff: NetworkDiff) -> list[list[str]]:
    """Return the totals as label, A, B, change rows, then shapes and receptive field."""
    rows = []
    for quantity, total in diff.totals.items():
        label = _TOTAL_LABELS[quantity]
        suffix = " B" if quantity.endswith("bytes") else ""
        if suffix:
            label += f" ({diff.dtype})"
        rows.append([label, exact(total.before) + suffix, exact(total.after) + suffix,
                     relative_text(total, suffix)])
    for label, pair in (("Input shape", diff.input_shapes), ("Output shape", diff.output_shapes)):
        rows.append([label, shape_text(pair[0]), shape_text(pair[1]),
                     "same" if pair[0] == pair[1] else "changed"])
    a_field, b_field = (_field(f) for f in diff.receptive_fields)
    rows.append(["Receptive field (last)", a_field, b_field,
                 "same" if a_field == b_field else "changed"])
    if diff.training is not None:
        for quantity, total in diff.training.items():
            suffix = " B" if quantity.endswith("bytes") else ""
            rows.append([_TRAINING_LABELS[quantity], exact(total.before) + suffix,
                         exact(total.after) + suffix, relative_text(total, suffix)])
    return rows


_TRAINING_LABELS = {
    "peak_bytes": "Training peak", "param_bytes": "  parameters",
    "buffer_bytes": "  buffers", "grad_bytes": "  gradients",
    "optimizer_bytes": "  optimizer state", "master_bytes": "  master weights",
    "saved_bytes": "  saved activations", "transient_bytes": "  largest transient",
    "backward_macs": "Backward MACs", "backward_flops": "Backward FLOPs",
}


def _aligned(rows: list[list[str]], aligns: list[str]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(aligns))]
    return ["  ".join(f"{v:{a}{w}}" for v, a, w in zip(row, aligns, widths, strict=True)).rstrip()
            for row in rows]


def diff_text(diff: NetworkDiff, everything: bool = False) -> Text:
    """Return the changed rows (all with ``everything``) as a table, then the totals."""
    text = Text(_headline(diff, everything) + "\n\n", style="bold")
    shown = diff.shown(everything)
    if shown:
        header = ["", "Layer", *(name for name, _, _ in COLUMNS)]
        cells = [[MARK[row.status], "  " * _side(row).depth + terminal_text(row.name),
                  *(_pair(row, cell) for _, _, cell in COLUMNS)] for row in shown]
        lines = _aligned([header, *cells], ["<", "<", *(align for _, align, _ in COLUMNS)])
        text.append(lines[0] + "\n", style="bold")
        text.append("─" * max(len(line) for line in lines) + "\n")
        for row, line in zip(shown, lines[1:], strict=True):
            text.append(line + "\n", style=STYLE[row.status])
        text.append("\n")
    else:
        text.append("No row differs.\n\n")
    totals = _aligned([["", "A", "B", "Change"], *_totals(diff)], ["<", ">", ">", ">"])
    text.append(totals[0] + "\n", style="bold")
    text.append("\n".join(totals[1:]))
    return text


def diff_markdown(diff: NetworkDiff, everything: bool = False) -> str:
    """Return the changed rows and the totals as two Markdown tables."""
    lines = [f"**{_headline(diff, everything)}**", ""]
    shown = diff.shown(everything)
    if shown:
        lines += ["| | Layer | " + " | ".join(name for name, _, _ in COLUMNS) + " |",
                  "|---|---|" + "".join("--:|" if a == ">" else "---|" for _, a, _ in COLUMNS)]
        lines += [f"| {MARK[row.status]} | {markdown_cell(row.name)} | "
                  + " | ".join(_pair(row, cell) for _, _, cell in COLUMNS) + " |"
                  for row in shown]
        lines.append("")
    lines += ["| | A | B | Change |", "|---|--:|--:|--:|"]
    lines += ["| " + " | ".join(row) + " |" for row in _totals(diff)]
    return "\n".join(lines) + "\n"


def diff_csv(diff: NetworkDiff, everything: bool = False) -> str:
    """Return one CSV row per shown layer with both sides' values, then a total row."""
    fields = ("type", "output_shape", "params", "macs", "flops", "activation_bytes")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "status", *(f"{f}_{side}" for f in fields for side in "ab"),
                     "rf_size_a", "rf_size_b"])

    def value(state: RowState | None, field: str) -> str:
        if state is None:
            return ""
        if field == "output_shape":
            return "x".join(map(str, state.output_shape))
        return str(getattr(state, field))

    def size(state: RowState | None) -> str:
        if state is None or state.receptive_field is None:
            return ""
        return "x".join(map(str, state.receptive_field.size))

    for row in diff.shown(everything):
        writer.writerow([csv_cell(row.name), row.status,
                         *(value(side, f) for f in fields for side in (row.a, row.b)),
                         size(row.a), size(row.b)])
    totals = dict(diff.totals.items())
    writer.writerow(["total", "total", "", "",
                     "x".join(map(str, diff.output_shapes[0])),
                     "x".join(map(str, diff.output_shapes[1])),
                     *(str(getattr(totals[q], side)) for q in ("params", "macs", "flops",
                                                               "activation_bytes")
                       for side in ("before", "after")), "", ""])
    return buffer.getvalue()


def diff_json(diff: NetworkDiff, everything: bool = False) -> str:
    """Return the diff as JSON: the shown rows, their counts by status, and the totals."""
    data = diff.model_dump(mode="json")
    data["rows"] = [row.model_dump(mode="json") for row in diff.shown(everything)]
    data["counts"] = {status: diff.count(status)
                      for status in ("changed", "added", "removed", "unchanged")}
    return json.dumps(data, indent=2, ensure_ascii=False)
