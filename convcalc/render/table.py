"""The rich views: the network table, its summary, and the one-layer card."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from convcalc.render.numbers import compact, exact, human_bytes, receptive_field_text, shape_text
from convcalc.results import LayerRow, Report

__all__ = ["layer_card", "network_table", "visible_rows"]


def visible_rows(report: Report, depth: int | None) -> list[LayerRow]:
    """Return the rows to show: containers deeper than ``depth`` fold into their subtotal."""
    if depth is None:
        return list(report.layers)
    return [row for row in report.layers if row.depth <= depth]


def _share(value: int, total: int, width: int = 10) -> Text:
    """Return a bar of ``width`` cells showing value/total, and the percentage."""
    fraction = value / total if total else 0.0
    cells = round(fraction * width * 8)
    blocks = "█" * (cells // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[cells % 8]
    return Text(f"{blocks:<{width}} {fraction:6.1%}")


def network_table(report: Report, depth: int | None = None, bars: bool = False) -> RenderableType:
    """Return the per-layer table with totals, and the summary lines below it."""
    title = report.name or "network"
    table = Table(
        title=f"{title}: input {shape_text(report.input_shape)}, batch {report.batch}",
        box=box.SIMPLE_HEAD, show_footer=True, title_justify="left",
    )
    totals = report.totals
    table.add_column("Layer", footer="Total")
    table.add_column("Type")
    table.add_column("Output shape", footer=shape_text(report.output_shape))
    table.add_column("Params", justify="right", footer=compact(totals.params))
    table.add_column("MACs", justify="right", footer=compact(totals.macs))
    if bars:
        table.add_column("MACs share")
    table.add_column("FLOPs", justify="right", footer=compact(totals.flops))
    table.add_column("Memory", justify="right", footer=human_bytes(totals.activation_bytes))
    table.add_column("Receptive field", justify="right")
    for row in visible_rows(report, depth):
        cells: list[RenderableType] = [
            "  " * row.depth + row.name, row.type, shape_text(row.output_shape),
            compact(row.params), compact(row.macs),
        ]
        if bars:
            cells.append(_share(row.macs, totals.macs) if not row.container else "")
        cells += [compact(row.flops), human_bytes(row.activation_bytes),
                  receptive_field_text(row.receptive_field)]
        table.add_row(*cells, style="bold" if row.container else None)
    return Group(table, summary(report))


def summary(report: Report) -> Table:
    """Return the totals as exact numbers, with what each one counts."""
    totals = report.totals
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    grid.add_column(justify="right")
    grid.add_column()
    grid.add_row("Parameters (trainable)", exact(totals.params), compact(totals.params))
    grid.add_row("Non-trainable (BN statistics)", exact(totals.non_trainable_params), "")
    grid.add_row("Multiply-accumulates", exact(totals.macs), f"{compact(totals.macs)} MACs")
    grid.add_row("FLOPs", exact(totals.flops), f"{compact(totals.flops)} FLOPs")
    grid.add_row(f"Activation memory ({report.dtype})", exact(totals.activation_bytes) + " B",
                 human_bytes(totals.activation_bytes))
    grid.add_row(f"Parameter memory ({report.dtype})", exact(totals.param_bytes) + " B",
                 human_bytes(totals.param_bytes))
    return grid


def layer_card(report: Report) -> RenderableType:
    """Return the one-layer view: every number exact, with its breakdown."""
    row = next(r for r in report.layers if not r.container)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Layer", f"{row.type}: {shape_text(row.input_shape)} → "
                          f"{shape_text(row.output_shape)}")
    grid.add_row("Output volume", shape_text(row.output_shape))
    weights = row.params - row.bias_params
    parts = f" ({exact(weights)} weights + {exact(row.bias_params)} biases)" if row.params else ""
    grid.add_row("Parameters", exact(row.params) + parts)
    if row.non_trainable_params:
        grid.add_row("Non-trainable", exact(row.non_trainable_params))
    batch = f" (batch {report.batch})" if report.batch > 1 else ""
    grid.add_row("Multiply-accumulates", exact(row.macs) + batch)
    other = row.flops - 2 * row.macs
    extra = "bias adds" if row.bias_params else "other operations"
    breakdown = f" (2 × {exact(row.macs)} MACs + {exact(other)} {extra})" if row.macs else ""
    grid.add_row("FLOPs", exact(row.flops) + breakdown)
    field = row.receptive_field
    if field is None:
        grid.add_row("Receptive field", "global")
    else:
        grid.add_row("Receptive field", f"{'×'.join(map(str, field.size))} (stride "
                     f"{'×'.join(map(str, field.stride))}, padding "
                     f"{'×'.join(map(str, field.padding))})")
    grid.add_row(f"Output memory ({report.dtype})",
                 f"{exact(row.activation_bytes)} B ({human_bytes(row.activation_bytes)})")
    return grid
