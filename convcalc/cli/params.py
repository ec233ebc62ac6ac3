"""Whole-number flags read strictly: ASCII digits only, within documented bounds."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from convcalc.textsafe import echo

__all__ = ["whole_number", "whole_numbers"]

_DIGITS = re.compile(r"[+-]?[0-9]+")
_MAX_DIGITS = 30
"""Longer digit strings are not converted at all (every bound here is far shorter)."""


def whole_number(text: str, low: int, high: int) -> int | str:
    """Return the int ``text`` spells, or what is wrong with it as a phrase."""
    stripped = text.strip()
    expected = f"a whole number from {low:,} to {high:,}"
    if _DIGITS.fullmatch(stripped) is None:
        return f"expected {expected} (ASCII digits), got {echo(text)}"
    if len(stripped.lstrip("+-0")) > _MAX_DIGITS:
        return f"expected {expected}, got a number of {len(stripped.lstrip('+-')):,} digits"
    value = int(stripped)
    if not low <= value <= high:
        return f"expected {expected}, got {value:,}"
    return value


def whole_numbers(low: int, high: int) -> Callable[[str], int]:
    """Return a typer ``parser`` for an int flag between ``low`` and ``high``.

    typer's own int accepts other scripts' digits and gives pydantic's words; this one says
    the bound, and echoes a bad value cut and escaped.
    """

    def parse(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        result = whole_number(str(value), low, high)
        if isinstance(result, str):
            raise ValueError(result)
        return result

    return parse
