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

from convcalc.textsafe import printable

__all__ = ["csv_cell", "markdown_cell", "terminal_text"]

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
