"""Written arithmetic: formulas as a student writes them, each with the value it gives.

A layer's ``explain`` builds its lines from these pieces (``Term``, ``product``,
``equation``, the window-size lines) with the numbers its ``resolve`` found. A ``Term``
carries its text and its value together, so ``10·(3·5·5) + 10`` is written and evaluated
in one step, and a test can hold the value against the report's number. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from convcalc.common import dim_names
from convcalc.geometry import transposed_output_size
from convcalc.layers.base import Shape
from convcalc.layers.window import Window, slice_of_dim

__all__ = [
    "Term",
    "Worked",
    "decimal",
    "equation",
    "lines_per_dim",
    "number",
    "product",
    "same_lines",
    "scaled",
    "transposed_size_line",
    "weight_note",
    "window_lines",
    "window_size_lines",
]


@dataclass(frozen=True)
class Term:
    """A piece of arithmetic as written (``10·(3·5·5)``) and its value.

    Attributes:
        text: the arithmetic as printed.
        value: what it evaluates to.
    """

    text: str
    value: int

    def __mul__(self, other: Term) -> Term:
        return Term(f"{self.text}·{other.text}", self.value * other.value)

    def __add__(self, other: Term) -> Term:
        return Term(f"{self.text} + {other.text}", self.value + other.value)

    def __sub__(self, other: Term) -> Term:
        return Term(f"{self.text} − {other.text}", self.value - other.value)

    def group(self) -> Term:
        """Return the term in brackets."""
        return Term(f"({self.text})", self.value)


def number(value: int) -> Term:
    """Return one number as a term."""
    return Term(str(value), value)


def product(values: Sequence[int]) -> Term:
    """Return ``a·b·c`` of the values, in order."""
    terms = [number(v) for v in values]
    result = terms[0]
    for term in terms[1:]:
        result = result * term
    return result


def equation(label: str, term: Term, note: str = "") -> str:
    """Return ``label = text = value (note)``; a lone number is not repeated."""
    worked = "" if term.text == str(term.value) else f"{term.text} = "
    return f"{label} = {worked}{term.value:,}" + (f" ({note})" if note else "")


def decimal(value: Fraction) -> str:
    """Return ``14.5``, or ``9.66…`` (cut, not rounded) when it runs past two places."""
    if (value * 100).denominator == 1:
        return f"{float(value):g}"
    return f"{math.floor(value * 100) / 100:.2f}…"


def scaled(factor: int, term: Term) -> Term:
    """Return ``factor·term``, the term in brackets when it is a sum or difference."""
    depth, loose = 0, False
    for char in term.text:
        depth += (char == "(") - (char == ")")
        loose = loose or (depth == 0 and char in "+−")
    return number(factor) * (term.group() if loose else term)


def lines_per_dim(rank: int, lines_of_dim: Callable[[int], list[str]]) -> list[str]:
    """Return one set of lines when every dim reads alike, else one set per dim, named."""
    per = [lines_of_dim(i) for i in range(rank)]
    if all(lines == per[0] for lines in per):
        return per[0]
    names = dim_names(rank)
    return [f"{names[i]}: {line}" for i in range(rank) for line in per[i]]


def weight_note(bias: bool) -> str:
    """Return how a weighted layer's FLOPs follow from its MACs."""
    return "2 per MAC, one add per bias use" if bias else "2 per MAC"


@dataclass
class Worked:
    """A layer's worked formulas and the numbers they end in, for one sample.

    Attributes:
        lines: the formulas with numbers, in reading order (MACs, FLOPs and the receptive
            field are added after them, batch included).
        output_shape: the shape the formulas give.
        params: the parameters the formulas give.
        non_trainable_params: the stored statistics the formulas give.
        macs: the MACs as written, for one sample; None when the layer has none.
        flops: the FLOPs beyond two per MAC, as written, for one sample; None when none.
        flops_note: what the FLOPs count, printed after them.
    """

    lines: list[str]
    output_shape: Shape
    params: int = 0
    non_trainable_params: int = 0
    macs: Term | None = None
    flops: Term | None = None
    flops_note: str = ""


# ---------------------------------------------------------------- sliding windows


def _unread_note(extent: int, stride: int, after: int, remainder: int,
                 dims: Sequence[str]) -> str:
    """Return why the positions past the last window are left unread, and which they are,
    by the name of the input indices along each of ``dims`` (rows along H, columns along
    W), as the warnings name them: ``the last input column is never read``, and for dims
    that read alike ``the last input row along H and the last input column along W``."""
    lost = remainder - after
    if lost <= 0:
        return "only right padding is left unread"

    def last(name: str) -> str:
        return f"the last input {slice_of_dim(name)}" if lost == 1 else \
            f"the last {lost} input {slice_of_dim(name, lost)}"

    if len(dims) == 1:
        unread = f"{last(dims[0])} {'is' if lost == 1 else 'are'}"
    else:
        unread = " and ".join(f"{last(name)} along {name}" for name in dims) + " are"
    gap = stride - extent
    if gap >= lost:
        between = " and the ".join(f"{gap} {slice_of_dim(name, gap)}" for name in dims)
        verb = "are" if gap > 1 or len(dims) > 1 else "is"
        return (f"{unread} never read, as the {between} between windows {verb} anyway (a "
                f"window of {extent} at stride {stride})")
    return f"{unread} never read"


def window_size_lines(window: Window, i: int,
                      dims: Sequence[str] | None = None) -> tuple[list[str], int]:
    """Return the lines that work out dim ``i``'s output size, and that size.

    ``out = (32 − 5 + 2·2)/1 + 1 = 32``; a division that is not whole says how it was
    rounded and which positions are left unread, named for the dims the line stands for
    (``dims``: dim ``i``'s name alone by default); ceil_mode says when PyTorch drops the
    last window. The size is the written arithmetic's, so it can be held against
    ``window.out``.
    """
    size, k, s, d = window.dims[i], window.kernel[i], window.stride[i], window.dilation[i]
    before, after = window.pads[i]
    lines = []
    extent = d * (k - 1) + 1
    if d > 1:
        lines.append(f"effective kernel = {d}·({k} − 1) + 1 = {extent} (dilation {d})")
    symmetric = f"2·{before}" if before else "0"
    padding = symmetric if before == after else f"{before} + {after}"
    span = size - extent + before + after
    head = f"({size} − {extent} + {padding})/{s}"
    whole, remainder = divmod(span, s)
    if not remainder:
        out = whole + 1
        note = " (whole, so ceil_mode changes nothing)" if window.ceil_mode else ""
        lines.append(f"out = {head} + 1 = {out}{note}")
        return lines, out
    value = decimal(Fraction(span, s))
    if not window.ceil_mode:
        out = whole + 1
        names = dims if dims is not None else (dim_names(len(window.dims))[i],)
        note = _unread_note(extent, s, after, remainder, names)
        lines.append(f"out = {head} = {value} → floor → {whole} + 1 = {out}; {note}")
        return lines, out
    out = whole + 2
    lines.append(f"out = {head} = {value} → ceil → {whole + 1} + 1 = {out} (ceil_mode)")
    start = (out - 1) * s
    if start >= size + before:
        lines.append(f"the last window would start at ({out} − 1)·{s} = {start} ≥ {size} + "
                     f"{before}, inside the right padding, so PyTorch drops it: "
                     f"out = {out - 1}")
        out -= 1
    return lines, out


def same_lines(window: Window, i: int) -> list[str]:
    """Return the line that works out TensorFlow's ``same`` padding of dim ``i``."""
    size, k, s, d = window.dims[i], window.kernel[i], window.stride[i], window.dilation[i]
    extent = d * (k - 1) + 1
    out = -(-size // s)
    total = max((out - 1) * s + extent - size, 0)
    return [f"same (TensorFlow's rule): out = ⌈{size}/{s}⌉ = {out}; padding = "
            f"max(({out} − 1)·{s} + {extent} − {size}, 0) = {total} → {total // 2} before, "
            f"{total - total // 2} after"]


def window_lines(window: Window, same: bool) -> tuple[list[str], tuple[int, ...]]:
    """Return the output-size lines of every dim (collapsed when alike) and the sizes."""
    sizes = [window_size_lines(window, i)[1] for i in range(len(window.dims))]

    def lines(i: int, dims: Sequence[str] | None = None) -> list[str]:
        return (same_lines(window, i) if same else []) + window_size_lines(window, i, dims)[0]

    # Dims whose arithmetic is the same share one set of lines, which names the unread
    # input of each (a row along H, a column along W); written for one dim to compare.
    rank = len(window.dims)
    if rank > 1 and all(lines(i, ("",)) == lines(0, ("",)) for i in range(rank)):
        return lines(0, dim_names(rank)), tuple(sizes)
    return lines_per_dim(rank, lines), tuple(sizes)


def transposed_size_line(size: int, kernel: int, stride: int, dilation: int, padding: int,
                         output_padding: int) -> str:
    """Return ``out = (16 − 1)·2 − 2·0 + 1·(2 − 1) + 0 + 1 = 32`` for a transposed conv."""
    out = transposed_output_size(size, kernel, stride, dilation, padding, output_padding)
    return (f"out = ({size} − 1)·{stride} − 2·{padding} + {dilation}·({kernel} − 1) + "
            f"{output_padding} + 1 = {out}")
