"""Names from network files made safe for each output format.

Terminal views (tables, Markdown) show control and bidi characters escaped
(``textsafe.printable``), so a name cannot move the cursor, ring the bell or reorder a
line. Markdown also escapes ``|``, which would end a table cell. CSV keeps the name as
written but defuses a spreadsheet formula: a name starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading ``'`` (OWASP's advice), unless the
whole cell is a plain number such as ``-1`` (docs/json.md, CSV).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from convcalc.textsafe import printable

__all__ = ["aligned", "csv_cell", "markdown_cell", "terminal_text"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def terminal_text(text: str) -> str:
    """Return ``text`` with control, format and bidi characters shown escaped."""
    return printable(text)


def markdown_cell(text: str) -> str:
    """Return ``text`` for a Markdown table cell: escaped, ``|`` and ``<`` made literal."""
    return printable(text).replace("|", "\\|").replace("<", "&lt;")


def csv_cell(text: str) -> str:
    """Return ``text`` for a CSV cell, with a leading ``'`` when a spreadsheet would run it."""
    if text.startswith(_FORMULA_START) and _NUMBER.fullmatch(text) is None:
        return "'" + text
    return text


def aligned(columns: Sequence[tuple[str, str]], cells: Sequence[Sequence[str]]
            ) -> tuple[str, str, list[str]]:
    """Return a plain table's header line, its rule and its row lines: each column as wide
    as its widest cell or header, aligned by its format flag (``<`` or ``>``), two spaces
    between columns, no trailing spaces."""
    widths = [max(len(header), *(len(row[i]) for row in cells))
              for i, (header, _) in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(f"{v:{align}{w}}" for v, (_, align), w in
                         zip(values, columns, widths, strict=True)).rstrip()

    rule = "─" * (sum(widths) + 2 * (len(widths) - 1))
    return line([header for header, _ in columns]), rule, [line(row) for row in cells]
