"""The answers of ``convcalc solve`` as text: tables for people, CSV and Markdown for scripts.

JSON is each result model's own dump (``model_dump_json``); these functions do the rest.
"""

from __future__ import annotations

import csv
import io
from itertools import pairwise

from convcalc.common import dim_names, shape_text
from convcalc.solve import InputSizes, Requirement, SamePadding, WindowSolutions
from convcalc.textsafe import printable

__all__ = [
    "compact_sizes",
    "inputs_csv",
    "inputs_text",
    "same_csv",
    "same_text",
    "solutions_csv",
    "solutions_markdown",
    "solutions_text",
]

_LIST_LIMIT = 24
"""The most sizes listed one by one before the list is cut."""


# ---------------------------------------------------------------- kernel settings


def _columns(result: WindowSolutions) -> list[str]:
    if result.kind == "conv_transpose":  # no division, so no remainder to mark
        return ["Kernel", "Stride", "Padding", "Dilation", "Output padding", "Worked"]
    return ["Kernel", "Stride", "Padding", "Dilation", "Whole", "Worked"]


def _cells(result: WindowSolutions, limit: int) -> list[list[str]]:
    shown = result.solutions if limit <= 0 else result.solutions[:limit]
    rows = []
    for found in shown:
        cells = [str(found.kernel), str(found.stride), str(found.padding), str(found.dilation)]
        mark = str(found.output_padding) if result.kind == "conv_transpose" else (
            "yes" if found.whole else "")
        rows.append([*cells, mark, found.worked])
    return rows


def _bound(name: str, values: tuple[int, int]) -> str:
    return f"{name} {values[0]}" if values[0] == values[1] else f"{name} ≤ {values[1]}"


def _title(result: WindowSolutions) -> str:
    mode = ", ceil_mode" if result.ceil_mode else ""
    count = len(result.solutions)
    found = f"{count:,} setting{'s' if count != 1 else ''}"
    padding = (f"padding {result.padding}" if result.padding is not None else
               f"padding ≤ {result.max_padding}" if result.max_padding is not None else
               "padding ≤ half the kernel" if result.kind in ("maxpool", "avgpool")
               else "padding < the dilated kernel")
    bounds = ", ".join([_bound("kernel", result.kernels), _bound("stride", result.strides),
                        _bound("dilation", result.dilations), padding])
    verb = "maps" if count == 1 else "map"
    return (f"{result.kind}{mode}: {found} that {verb} {result.input} → {result.output}, "
            f"simplest first ({bounds})")


def _none_found(result: WindowSolutions) -> str:
    return (f"No {result.kind} setting within the bounds maps {result.input} → "
            f"{result.output}; widen --max-k, --max-stride, --max-pad or --max-dilation, or "
            "free a fixed value.\n")


def _more(result: WindowSolutions, limit: int) -> str:
    hidden = len(result.solutions) - limit
    return f"… and {hidden:,} more (--limit 0 shows all)\n" if limit > 0 and hidden > 0 else ""


def solutions_text(result: WindowSolutions, limit: int = 20) -> str:
    """Return the settings as an aligned table under a title, the first ``limit`` of them."""
    if not result.solutions:
        return _none_found(result)
    columns, rows = _columns(result), _cells(result, limit)
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(f"{v:<{w}}" for v, w in zip(values, widths, strict=True)).rstrip()

    text = [_title(result), "", line(columns), "─" * len(line(columns)),
            *(line(r) for r in rows)]
    return "\n".join(text) + "\n" + _more(result, limit)


def solutions_markdown(result: WindowSolutions, limit: int = 20) -> str:
    """Return the settings as a Markdown table under a bold title."""
    if not result.solutions:
        return _none_found(result)
    columns = _columns(result)
    lines = [f"**{_title(result)}**", "", "| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in _cells(result, limit)]
    return "\n".join(lines) + "\n" + _more(result, limit)


def solutions_csv(result: WindowSolutions) -> str:
    """Return every setting as a CSV row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["kernel", "stride", "padding", "dilation", "output_padding", "whole",
                     "unread_rows", "worked"])
    for found in result.solutions:
        writer.writerow([found.kernel, found.stride, found.padding, found.dilation,
                         found.output_padding, str(found.whole).lower(), found.unread_rows,
                         found.worked])
    return buffer.getvalue()


# ---------------------------------------------------------------- same padding


def _same_lines(same: SamePadding) -> list[str]:
    extent = same.dilation * (same.kernel - 1) + 1
    dilated = f" (dilated to {extent})" if same.dilation > 1 else ""
    lines = [
        f"same padding for W = {same.input}, K = {same.kernel}{dilated}, S = {same.stride}",
        f"out = ⌈{same.input}/{same.stride}⌉ = {same.output}",
        f"total = max(({same.output} − 1)·{same.stride} + {extent} − {same.input}, 0) = "
        f"{same.total}",
        f"split: {same.before} before, {same.after} after"
        + (" (the odd one goes after, as TensorFlow does)" if same.total % 2 else ""),
    ]
    if same.symmetric is not None:
        lines.append(f"symmetric: padding={same.symmetric} on both sides is exactly same")
        return lines
    for padding in same.same_size:
        shift = padding - same.before
        where = "earlier" if shift > 0 else "later"
        lines.append(f"no symmetric padding is exactly same: padding={padding} on both sides "
                     f"gives the same size {same.output}, with every window {abs(shift)} "
                     f"position{'s' if abs(shift) > 1 else ''} {where}")
    if not same.same_size:
        lines.append(f"no symmetric padding gives the output size {same.output}")
    if same.stride > 1:
        lines.append("PyTorch's padding='same' takes stride 1 only; pad with "
                     f"F.pad(x, ({same.before}, {same.after})) and use padding=0")
    return lines


def same_text(same: SamePadding) -> str:
    """Return the padding ``same`` needs, worked out, one fact a line."""
    return "\n".join(_same_lines(same)) + "\n"


def same_csv(same: SamePadding) -> str:
    """Return the answer as one CSV row under a header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    fields = ["input", "kernel", "stride", "dilation", "output", "total", "before", "after",
              "symmetric"]
    writer.writerow(fields)
    values = same.model_dump()
    writer.writerow(["" if values[f] is None else values[f] for f in fields])
    return buffer.getvalue()


# ---------------------------------------------------------------- input sizes


def compact_sizes(values: tuple[int, ...]) -> str:
    """Return sizes for reading: ``32, 64, 96 … 512 (every 32 from 32)``, ``1–300``, runs."""
    if not values:
        return "none"
    steps = {b - a for a, b in pairwise(values)}
    if len(values) >= 4 and len(steps) == 1:
        step = steps.pop()
        if step == 1:
            return f"{values[0]}–{values[-1]} (every size)"
        return (f"{values[0]}, {values[1]}, {values[2]} … {values[-1]} "
                f"(every {step} from {values[0]})")
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    parts = [f"{run[0]}–{run[-1]}" if len(run) >= 3 else ", ".join(map(str, run))
             for run in runs]
    if len(parts) > _LIST_LIMIT:
        return ", ".join(parts[:_LIST_LIMIT]) + f" … ({len(values)} sizes in all)"
    return ", ".join(parts)


_REQUIREMENT_TEXT = {
    Requirement.no_warnings: "no warnings (every input row read)",
    Requirement.whole: "every division whole",
    Requirement.divisible: "every stride dividing its input",
}


def _inputs_lines(result: InputSizes) -> list[str]:
    dims = " and ".join(result.dims)
    name = printable(result.network) if result.network else "network"
    count = result.maximum - result.minimum + 1
    lines = [
        f"{name} ({shape_text(result.input_shape)}): input sizes {result.minimum}–"
        f"{result.maximum} along {dims}, {_REQUIREMENT_TEXT[result.requirement]}",
        f"valid ({len(result.valid)} of {count}): {compact_sizes(result.valid)}",
    ]
    return lines


def inputs_text(result: InputSizes) -> str:
    """Return the valid sizes compactly, and how the file's own size fares."""
    lines = _inputs_lines(result)
    names = dim_names(len(result.input_shape) - 1)
    own = {result.input_shape[1 + names.index(d)] for d in result.dims}
    file_size = own.pop() if len(own) == 1 else None
    if file_size is not None and result.minimum <= file_size <= result.maximum:
        if file_size in result.valid:
            lines.append(f"the file's size {file_size} is valid")
        else:
            reason = next(r for r in result.rejected if r.size == file_size)
            where = f"layer '{printable(reason.layer)}': " if reason.layer else ""
            below = [v for v in result.valid if v < file_size][-1:]
            above = [v for v in result.valid if v > file_size][:1]
            nearest = ", ".join(map(str, below + above)) or "none in the range"
            lines.append(f"the file's size {file_size} is not: {where}"
                         f"{printable(reason.reason)}")
            lines.append(f"nearest valid: {nearest}")
    return "\n".join(lines) + "\n"


def inputs_csv(result: InputSizes) -> str:
    """Return one CSV row per size tried: valid or not, and the first reason."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["size", "valid", "layer", "reason"])
    rejected = {r.size: r for r in result.rejected}
    for size in range(result.minimum, result.maximum + 1):
        reason = rejected.get(size)
        writer.writerow([size, "false" if reason else "true",
                         (reason.layer or "") if reason else "", reason.reason if reason else ""])
    return buffer.getvalue()
