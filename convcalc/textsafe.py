"""Text from strangers, made safe to echo: cut to a length, control characters escaped.

Network files and flags come from people we do not know. Anything of theirs that a
message or a terminal table repeats goes through ``echo`` (a value in a message) or
``printable`` (a name in a table): one line, bounded, with no control or bidirectional
characters left to move the cursor, ring the bell or reorder the line.
"""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = ["MAX_ECHO", "echo", "printable", "shorten"]

MAX_ECHO = 60
"""The most characters of a user's value a message repeats."""

# Format characters (category Cf) include the bidirectional overrides U+202A–U+202E and
# U+2066–U+2069, which reorder what a terminal shows; Cc are the C0/C1 controls.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """Return ``text`` with control, format and bidi characters shown as ``\\x1b``-style escapes.

    Printable characters (letters of any script, ×, emoji) stay as they are; a backslash
    stays a backslash, so the result is for showing, not for parsing back.
    """
    if text.isprintable():
        return text
    return "".join(
        _escape(c) if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text
    )


def shorten(text: str, limit: int = MAX_ECHO) -> str:
    """Return ``text`` cut to ``limit`` characters with the full length said after it.

    ``aaaa… (2,000,000 characters)`` keeps a message on one readable line.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def echo(value: Any, limit: int = MAX_ECHO) -> str:
    """Return ``repr``-like text of a user's value for a message: quoted, cut, escaped.

    Strings are quoted (``'conv1'``); a long one is cut as ``'aaaa…' (2,000,000
    characters)``. Other values are shown by ``repr`` and cut the same way, with huge
    integers given by their digit count instead of being converted to text.
    """
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > 200:  # str() of a 5,000-digit int is slow and unreadable
            return f"an integer of about {int(value.bit_length() * 0.30103):,} digits"
        return repr(value)
    if isinstance(value, str):
        text = printable(value)
        if len(text) <= limit:
            return f"'{text}'"
        return f"'{text[:limit]}…' ({len(value):,} characters)"
    text = printable(_bounded_repr(value, limit))
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({_size_of(value)})"


def _bounded_repr(value: Any, limit: int) -> str:
    """Return ``repr(value)`` without building the whole text of a huge list or mapping."""
    if isinstance(value, (list, tuple)) and len(value) > limit:
        value = value[:limit]
    elif isinstance(value, dict) and len(value) > limit:
        value = dict(list(value.items())[:limit])
    try:
        return repr(value)
    except (ValueError, RecursionError):  # an int past Python's digit limit, deep nesting
        return f"<{type(value).__name__}>"


def _size_of(value: Any) -> str:
    if isinstance(value, (list, tuple, dict)):
        return f"{len(value):,} items"
    return type(value).__name__
