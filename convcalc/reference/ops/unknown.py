"""The op of an ``unknown`` layer: it refuses to run.

An ``unknown`` row stands for an operator convcalc has no rule for (imported with
``--allow-unknown``); there is nothing to compute it with, so verify stops before it
estimates or runs anything, naming the operator (exit 2), rather than check numbers
against a made-up kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from convcalc.reference.ops._op import Arrays, Op, Outcome

if TYPE_CHECKING:
    from convcalc.layers.unknown import Unknown

__all__ = ["unknown"]


def _refusal(layer: Unknown) -> str:
    return (f"verify cannot run operator {layer.op}: convcalc does not know what it computes "
            "(an unknown row); replace the row with the layers it stands for")


def _refused(x: np.ndarray, *args: Any) -> np.ndarray:
    """Raise: an unknown operator has no kernel."""
    raise ValueError("an unknown operator has no kernel")


def _run(layer: Unknown, x: np.ndarray, arrays: Arrays, index: int) -> Outcome:
    raise ValueError(_refusal(layer))


unknown = Op(_refused, _run, refusal=_refusal)
"""The op of ``unknown``: refuses verify (``refusal``), and has no kernel."""
