"""The small pieces every layer of the package shares; this module imports none of it.

``Frozen`` is the base of the frozen result models; ``dim_names`` and ``shape_text`` are
how shapes are named and written everywhere (``H``, ``W``; ``3×224×224``); ``as_number``
turns an exact fraction into the JSON number the results carry; ``Optimizer`` is the word
list of ``--optimizer``, here so that the command line's help loads nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from fractions import Fraction

from pydantic import BaseModel, ConfigDict

__all__ = ["Frozen", "Optimizer", "as_number", "dim_names", "shape_text"]


class Frozen(BaseModel):
    """Base of the frozen result models; their schemas are built on first use."""

    model_config = ConfigDict(frozen=True, defer_build=True)


def dim_names(rank: int) -> tuple[str, ...]:
    """Return the conventional names of ``rank`` spatial dims: L; H, W; D, H, W."""
    return {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}.get(rank, tuple(map(str, range(rank))))


def shape_text(shape: Sequence[int | float]) -> str:
    """Return a shape as ``3×224×224``."""
    return "×".join(str(d) for d in shape)


def as_number(value: Fraction) -> int | float:
    """Return a fraction as an int when it is whole, else as the nearest float."""
    return int(value) if value.denominator == 1 else float(value)


class Optimizer(StrEnum):
    """The optimizers whose state a training step counts (PyTorch's, not fused)."""

    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"
    adamw = "adamw"

    @property
    def state_copies(self) -> int:
        """Return how many tensors of the parameters' size the optimizer keeps: SGD none,
        SGD with momentum one (the momentum buffer), Adam and AdamW two (exp_avg and
        exp_avg_sq)."""
        return {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}[self.value]
