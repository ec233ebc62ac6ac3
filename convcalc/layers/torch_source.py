"""Pieces of PyTorch source, as strings: what a layer's ``to_pytorch`` is written with.

This module is to ``to_pytorch`` what ``worked.py`` is to ``explain``: the vocabulary the
layer types share, kept apart from the exporter (``convcalc.export.pytorch``, which lays
out the whole file) so that each type writes its own module next to its other rules. It
imports nothing from convcalc and no torch: the source is only text.

**A value from the network file is data, never spliced text.** It reaches the source only
as ``constant(value)``, the ``repr`` of a ``str``, ``int``, ``bool``, ``None`` or a tuple of
them, or a float (``float("inf")`` where ``repr`` would give a bare ``inf``), so it reads
back as itself and cannot end a string early; or in a comment, through ``comment``, as
printable ASCII with every other character escaped. Everything else is the exporter's own
text, held as ``Code``; ``call`` takes ``Code`` for nested modules and writes any other
argument with ``constant``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Code",
    "Constant",
    "TorchHelper",
    "TorchLeaf",
    "call",
    "comment",
    "constant",
    "ints",
    "torch_padding",
]

Constant = str | int | float | bool | None | tuple["Constant", ...]
"""A value that may reach the source: it is written there by ``constant`` alone."""


@dataclass(frozen=True)
class Code:
    """Source the exporter wrote itself, from its own text and ``constant``s.

    Attributes:
        text: the source, one line.
    """

    text: str


@dataclass(frozen=True)
class TorchHelper:
    """A class the generated file defines because a module it builds needs it.

    Attributes:
        name: the class's name, as the modules call it.
        source: its definition, the exporter's own text.
        imports: the import lines it needs beyond ``torch`` and ``nn``.
    """

    name: str
    source: str
    imports: tuple[str, ...] = ()


@dataclass(frozen=True)
class TorchLeaf:
    """What one layer becomes: its module, and the pad module before it when one is needed.

    Attributes:
        module: the module's constructor call.
        pad: the pad module's call, written just before the layer as ``<layer>_pad``.
        helper: the class ``module`` builds on, when it is not one of torch's.
    """

    module: Code
    pad: Code | None = None
    helper: TorchHelper | None = None


def constant(value: Constant) -> str:
    """Return ``value`` as a Python literal that reads back as ``value``.

    The only way a value from the network file reaches the source. Subclasses are turned
    into the base type first, so an enum's or a str subclass's own ``repr`` never runs; a
    float that is not finite is ``float("inf")``, ``float("-inf")`` or ``float("nan")``.
    """
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        number = float(value)
        return repr(number) if math.isfinite(number) else f'float("{number!r}")'
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, tuple):
        items = [constant(item) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise TypeError(f"not a constant: {type(value).__name__}")


def comment(text: str) -> str:
    """Return ``text`` as printable ASCII for a comment: other characters escaped (\\n, \\x00).

    The result holds no line break, so it cannot end the comment it is written in.
    """
    return "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in text)


def call(function: str, *positional: Code | Constant, **keywords: Code | Constant) -> Code:
    """Return ``function(a, b, key=value)``, leaving out keywords whose value is None.

    ``function`` is the exporter's own (``nn.Conv2d``); an argument is either ``Code``
    (a nested module) or a constant, written by ``constant``.
    """
    if not re.fullmatch(r"[A-Za-z_][\w.]*", function):
        raise AssertionError(f"not a callable's name: {function!r}")

    def source(value: Code | Constant) -> str:
        return value.text if isinstance(value, Code) else constant(value)

    parts = [source(p) for p in positional]
    parts += [f"{key}={source(value)}" for key, value in keywords.items() if value is not None]
    return Code(f"{function}({', '.join(parts)})")


def ints(values: Sequence[int]) -> int | tuple[int, ...]:
    """Return one int when every dim agrees, else a tuple: ``3`` or ``(3, 1)``."""
    if len(set(values)) == 1:
        return values[0]
    return tuple(values)


def torch_padding(pads: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """Return (before, after) per dim in F.pad's order, last dim first: ``(l, r, t, b)``."""
    return tuple(side for before_after in reversed(pads) for side in before_after)
