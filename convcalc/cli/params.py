"""Whole-number flags read strictly: ASCII digits only, within documented bounds."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from convcalc.textsafe import echo

__all__ = ["input_shape_or_reason", "whole_number", "whole_numbers"]

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


def input_shape_or_reason(text: str) -> tuple[int, ...] | str:
    """Return the shape an ``--input`` spells, in any form a file's ``input`` takes
    (``3x224x224``, ``3×224×224``, ``3,224,224``, ``[3, 224, 224]``), or, worded as for a
    file's ``input``, what is wrong with it.

    The one parser of every command's ``--input``.
    """
    from pydantic import TypeAdapter, ValidationError

    from convcalc.errors import SpecError
    from convcalc.loader import network_from_data
    from convcalc.spec import InputShape

    value: Any = text
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        # The file's flow form; its items as the file would read them, digits alone.
        items = stripped[1:-1].split(",")
        if all(_DIGITS.fullmatch(i.strip()) and not i.strip().startswith(("+", "-"))
               for i in items):
            value = ",".join(i.strip() for i in items)
    try:
        shape: tuple[int, ...] = TypeAdapter(InputShape).validate_python(value)
        return shape
    except ValidationError:
        pass
    try:  # the loader's wording, the same as a file's ``input`` gets
        network_from_data({"input": value, "layers": ["relu"]}, "<flags>")
    except SpecError as error:
        # Say which value is wrong when the message does not show it ("got 0" alone).
        return error.message if text in error.message else f"{echo(text)}: {error.message}"
    return f"{echo(text)} is not a shape"  # pragma: no cover - the adapter refused it
