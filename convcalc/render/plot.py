"""Where the cost goes, as a figure: per-layer MACs, parameters, memory and receptive field.

``cost_figure(report)`` returns a matplotlib ``Figure`` of four panels sharing one x axis,
the layers in execution order (merges included, container subtotals left out, as the
totals count them); ``figure_bytes`` renders it as PNG, SVG or PDF. Counts and memory are
drawn on log scales (a network's layers span five or more decades), zeros left blank.

This module imports matplotlib (the ``convcalc[plot]`` extra): import it only inside the
command that draws.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from convcalc.layers.base import LayerFamily
from convcalc.layers.merges import MERGES
from convcalc.layers.window import dim_names
from convcalc.render.cells import terminal_text
from convcalc.render.numbers import compact, human_bytes, shape_text
from convcalc.results import LayerRow, Report

__all__ = ["FORMATS", "NAMED_TICKS_UP_TO", "cost_figure", "figure_bytes", "plotted_rows"]

FORMATS = ("png", "svg", "pdf")
"""The file formats a figure is written in, by the output file's suffix."""
NAMED_TICKS_UP_TO = 48
"""Up to this many layers, each gets its name on the x axis; past it, container spans."""

_MERGE = (f"merge ({', '.join(MERGES)})", "#9467bd")
"""Every merge row, whichever merge: the legend names each registered one."""
_POOLING = ("pooling", "#8c564b")
"""Every layer of the pooling family."""
_NORMALISATION = ("normalisation", "#2ca02c")
"""Every layer of the norm family (batchnorm, layernorm, groupnorm, instancenorm)."""
_OWN_COLOUR = {
    "conv": ("conv", "#1f77b4"), "conv_transpose": ("conv_transpose", "#17becf"),
    "linear": ("linear", "#ff7f0e"),
    "upsample": ("upsample", "#e377c2"),
}
"""The layer types drawn in a colour of their own (the costly and the shape-changing
ones), by type; any other layer is drawn as ``_OTHER``. A choice of what stands out, not a
rule per type: a new type needs no entry."""
_OTHER = ("other (activations, flatten, pad, …)", "#999999")
_LEGEND = [*(_OWN_COLOUR[name] for name in ("conv", "conv_transpose", "linear")),
           _NORMALISATION, _MERGE, _POOLING, _OWN_COLOUR["upsample"], _OTHER]
"""The legend's entries, in this order (those the figure draws)."""


def plotted_rows(report: Report) -> list[LayerRow]:
    """Return the rows drawn: every layer and merge, not the containers' subtotals."""
    return [row for row in report.layers if not row.container]


def _kind(row: LayerRow) -> tuple[str, str]:
    """Return the legend entry and colour of a row's bars: a merge's, its family's (pooling,
    normalisation), its own, or the others'."""
    if row.spec is None:
        return _MERGE
    if row.spec.family is LayerFamily.pool:
        return _POOLING
    if row.spec.family is LayerFamily.norm:
        return _NORMALISATION
    return _OWN_COLOUR.get(row.type, _OTHER)


def _color(row: LayerRow) -> str:
    return _kind(row)[1]


def _tidy(label: str) -> str:
    """Return a tick label without needless zeros: 1.00 M -> 1 M, 2.0 KiB -> 2 KiB."""
    number, _, unit = label.partition(" ")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return f"{number} {unit}".strip()


def _bars(axes: Axes, rows: Sequence[LayerRow], values: list[int], title: str,
          label: Callable[[int], str], binary: bool = False) -> None:
    """Draw one bar per layer on a log scale, coloured by layer type; zeros stay blank."""
    positions = list(range(len(rows)))
    axes.bar(positions, values, width=0.8, color=[_color(r) for r in rows], label=title)
    axes.set_title(title, loc="left", fontsize=10)
    positive = [v for v in values if v > 0]
    if not positive:
        axes.set_yticks([])
        axes.text(0.5, 0.5, "none in this network", transform=axes.transAxes, ha="center",
                  va="center", color=_OTHER[1])
        return
    base = 2 if binary else 10
    axes.set_yscale("log", base=base)
    # One decade (or two octaves) below the smallest bar, so that it still shows.
    low = base ** math.floor(math.log(min(positive) / (10 if base == 10 else 4), base))
    high = base ** math.ceil(math.log(max(positive), base) + 1e-9)
    axes.set_ylim(low, high)
    if binary:
        axes.yaxis.set_major_locator(LogLocator(base=2, numticks=6))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _tidy(label(round(v)))))
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.grid(axis="y", which="major", alpha=0.3)


def _receptive_field(axes: Axes, rows: Sequence[LayerRow], report: Report) -> None:
    """Draw the receptive-field size per spatial dim; stop where positions mix (global)."""
    axes.set_title("Receptive field (input positions)", loc="left", fontsize=10)
    sizes = report.input_shape[1:]
    if not sizes:
        axes.text(0.5, 0.5, "no spatial dimensions", transform=axes.transAxes, ha="center",
                  va="center", color=_OTHER[1])
        axes.set_yticks([])
        return
    names = dim_names(len(sizes))
    fields = [row.receptive_field for row in rows]
    per_dim = [[math.nan if f is None else f.size[i] for f in fields]
               for i in range(len(sizes))]
    same = all(line == per_dim[0] for line in per_dim) and len(set(sizes)) == 1
    for i, line in enumerate(per_dim[:1] if same else per_dim):
        label = "size" if same else f"size along {names[i]}"
        axes.plot(range(len(rows)), line, marker=".", markersize=4, label=label)
    for i, size in enumerate(sizes[:1] if len(set(sizes)) == 1 else sizes):
        along = "" if len(set(sizes)) == 1 else f" along {names[i]}"
        axes.axhline(size, color=_OTHER[1], linestyle="--", linewidth=1)
        axes.annotate(f"input {size}{along}", (0, size), xytext=(2, 2),
                      textcoords="offset points", fontsize=8, color="#555555")
    first_global = next((i for i, f in enumerate(fields) if f is None), None)
    if first_global is not None:
        axes.axvspan(first_global - 0.5, len(rows) - 0.5, color=_OTHER[1], alpha=0.12, lw=0)
        lost = "untracked" if rows[first_global].fields_out == "untracked" else "global"
        axes.annotate(lost, (first_global - 0.5, 0.5), xycoords=("data", "axes fraction"),
                      xytext=(3, 0), textcoords="offset points", fontsize=8, color="#555555")
    axes.set_yscale("log")
    drawn = [v for line in per_dim for v in line if not math.isnan(v)] + list(sizes)
    axes.set_ylim(min(drawn) / 1.5, max(drawn) * 2)
    axes.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.grid(axis="y", which="major", alpha=0.3)
    if not same:
        axes.legend(fontsize=8, loc="upper left")


def _spans(rows: Sequence[LayerRow]) -> list[tuple[str, int, int]]:
    """Return (name, first, last) of the runs of rows inside one container, for the x axis.

    Top-level containers, or their children when one container holds most of the network
    (MobileNet's ``features``).
    """
    for level in (1, 2, 3):
        spans: list[tuple[str, int, int]] = []
        for index, row in enumerate(rows):
            parts = row.name.split(".")
            group = ".".join(parts[:level]) if len(parts) > level else ""
            if spans and spans[-1][0] == group:
                spans[-1] = (group, spans[-1][1], index)
            else:
                spans.append((group, index, index))
        named = [span for span in spans if span[0]]
        if not named or max(last - first + 1 for _, first, last in named) <= 0.6 * len(rows):
            return named
    return named


def _label(name: str) -> str:
    """Return a name as figure text: escaped, and ``$`` literal (it starts mathtext)."""
    return terminal_text(name).replace("$", r"\$")


def cost_figure(report: Report) -> Figure:
    """Return the four-panel figure of where ``report``'s network spends its cost."""
    rows = plotted_rows(report)
    count = len(rows)
    width = min(max(7.0 + 0.16 * count, 10.0), 24.0)
    figure = Figure(figsize=(width, 10.5), layout="constrained")
    axes = figure.subplots(4, 1, sharex=True)
    totals = report.totals
    batch = f" for a batch of {report.batch}" if report.batch > 1 else ""
    least = "at least " if totals.lower_bound else ""  # unknown rows count 0
    figure.suptitle(
        f"{_label(report.name or 'network')}: where the cost goes — input "
        f"{shape_text(report.input_shape)}{batch}, {least}{compact(totals.params)} parameters, "
        f"{compact(totals.macs)} MACs, {human_bytes(totals.activation_bytes)} of "
        f"activations ({report.dtype})", fontsize=11)
    _bars(axes[0], rows, [r.macs for r in rows], "MACs (multiply-accumulates)", compact)
    _bars(axes[1], rows, [r.params for r in rows], "Parameters", compact)
    _bars(axes[2], rows, [r.activation_bytes for r in rows],
          f"Activation memory (output, {report.dtype})", human_bytes, binary=True)
    _receptive_field(axes[3], rows, report)
    present = {_kind(row) for row in rows}
    kinds = [kind for kind in _LEGEND if kind in present]
    figure.legend(handles=[Patch(color=color, label=label) for label, color in kinds],
                  loc="outside lower center", ncols=len(kinds), fontsize=8, frameon=False)
    bottom = axes[3]
    bottom.set_xlim(-0.6, count - 0.4)
    if count <= NAMED_TICKS_UP_TO:
        bottom.set_xticks(range(count), [_label(row.name) for row in rows], rotation=90,
                          fontsize=7)
    else:
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=20))
        bottom.set_xlabel("layer (execution order)")
        for shade, (name, first, last) in enumerate(_spans(rows)):
            for panel in axes:
                if shade % 2 == 0:
                    panel.axvspan(first - 0.5, last + 0.5, color="#000000", alpha=0.04, lw=0)
            if last - first >= 2:
                axes[0].annotate(_label(name), ((first + last) / 2, 1.0), xytext=(0, -2),
                                 xycoords=("data", "axes fraction"), textcoords="offset points",
                                 ha="center", va="top", fontsize=8, color="#555555")
    return figure


def figure_bytes(figure: Figure, file_format: str) -> bytes:
    """Return the figure rendered as ``png``, ``svg`` or ``pdf``, without a creation date."""
    buffer = io.BytesIO()
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    figure.savefig(buffer, format=file_format, dpi=150, metadata=metadata[file_format])
    return buffer.getvalue()
