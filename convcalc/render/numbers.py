"""Numbers and shapes as people read them: 61.1 M, 2.3 GiB, 3×224×224, 5×5 s2."""

from __future__ import annotations

from fractions import Fraction

from convcalc.common import shape_text
from convcalc.results import ReceptiveField

# shape_text lives in convcalc.common; it stays importable here for the renderers.
__all__ = ["compact", "exact", "human_bytes", "number_text", "receptive_field_text",
           "shape_text"]

_STEPS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))
_HUGE = 10**21
"""From here a count is shown by its order of magnitude: its digits would not read, and past
10^308 it would not even fit a float."""


def _astronomic(value: int, unit: str) -> str:
    """Return ``~1e312 B``-style text for a count too large for a float."""
    digits = len(str(abs(value))) if value.bit_length() < 10_000 else int(
        value.bit_length() * 0.30103) + 1
    return f"{'-' if value < 0 else ''}~1e{digits - 1}{unit}"


def exact(value: int) -> str:
    """Return an int with thousands separators: 11,689,512."""
    return f"{value:,}"


def compact(value: int) -> str:
    """Return a count in three significant digits with a K/M/G/T suffix: 61.1 M."""
    if abs(value) >= _HUGE:
        return _astronomic(value, "")
    for size, suffix in _STEPS:
        if abs(value) >= size:
            scaled = value / size
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{scaled:.{digits}f} {suffix}"
    return str(value)


def human_bytes(value: int) -> str:
    """Return a byte count in IEC units: 3.06 MiB."""
    if abs(value) >= _HUGE:
        return _astronomic(value, " B")
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    scaled = float(value)
    for unit in units:
        if scaled < 1024 or unit == units[-1]:
            if unit == "B":
                return f"{value} B"
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{scaled:.{digits}f} {unit}"
        scaled /= 1024
    raise AssertionError("unreachable")


def number_text(value: int | float) -> str:
    """Return a whole number as ``2``, any other as its nearest small fraction ``1/2``."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return str(Fraction(value).limit_denominator(1 << 20))


def receptive_field_text(field: ReceptiveField | None) -> str:
    """Return ``5×5 s2`` (size and effective stride), or ``global`` when positions mix."""
    if field is None:
        return "global"
    size = shape_text(field.size)
    strides = {number_text(s) for s in field.stride}
    stride = strides.pop() if len(strides) == 1 else "×".join(number_text(s) for s in field.stride)
    return f"{size} s{stride}"
