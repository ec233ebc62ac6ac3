"""The definition of a reference op: everything verify knows about one layer type.

A layer class points at its op by a string (``reference_op``, e.g.
``"convcalc.reference.ops.conv:conv"``); that object is an `Op`, which owns for its type:

* ``kernel``: the array function, plain loops on float32 arrays (calling the op calls it);
* ``run``: the value pass's step: make the layer's arrays (weights from the pass's seeded
  streams) and run the kernel, giving the output and what it needed and counted;
* ``probe``: the receptive-field probe's step, every weight 1 (probe.py): the layer along
  one spatial dim alone, or, for a layer that mixes all positions, on the whole array;
* ``positions``: what the layer does to positions: moves them (windows), keeps them
  (acts on each element alone, so its supports are its input's) or mixes them all;
* its memory (memory.py): what its kernel allocates besides the output, on the value
  pass and per slab of the probe, and the bytes of its index tables.

A merge's op (`MergeOp`) owns its kernel and how the probe unites the branches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar

import numpy as np

if TYPE_CHECKING:
    from convcalc.results import LayerRow

__all__ = ["Arrays", "MergeOp", "Op", "Outcome", "Positions", "weightless"]

P = ParamSpec("P")
R = TypeVar("R")

Outcome = tuple[np.ndarray, int, int, int, "int | None"]
"""(output, trainable elements, non-trainable elements, MACs, taps on padding or None)."""


class Positions(StrEnum):
    """What a layer does to positions, which is how the probe treats it."""

    moved = "moved"
    """Its windows move positions: the probe runs it along each dim."""
    kept = "kept"
    """It acts on each element alone: its supports are its input's, at no cost."""
    mixed = "mixed"
    """Every output depends on every position alike: the probe stops there."""


class Arrays(Protocol):
    """Where an op's ``run`` gets its arrays: the value pass's seeded streams."""

    def uniform(self, index: int, name: str, shape: tuple[int, ...], low: float,
                high: float) -> np.ndarray:
        """Return row ``index``'s array ``name``: uniform in [low, high)."""
        ...

    def weighted(self, index: int, weight_shape: tuple[int, ...], units: int, fan_in: int,
                 bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Return He-uniform weights and, if asked, PyTorch-style biases for row ``index``."""
        ...


def _no_bytes(layer: Any, row: LayerRow, *_: int) -> int:
    return 0


def _one_tap(layer: Any, dims: tuple[int, ...], dim: int) -> int:
    return 1


def _no_probe(layer: Any, x: np.ndarray, axis: int, dims: tuple[int, ...]) -> np.ndarray:
    raise AssertionError(f"the probe does not run layer type {layer.type}: it keeps positions")


@dataclass(frozen=True)
class Op(Generic[P, R]):
    """One layer type's reference op.

    Attributes:
        kernel: the array function; calling the op calls it.
        run: ``run(layer, x, arrays, index)``: the value pass's outcome for row ``index``.
        probe: ``probe(layer, x, axis, dims)``: the output every weight 1 along spatial
            ``axis`` alone (``x`` has length 1 in the other dims, ``dims`` is the layer's
            real input size); for a layer that mixes all positions, its output on the
            whole ``x`` (``axis`` and ``dims`` unused).
        positions: what the layer does to positions.
        taps: ``taps(layer, dims, dim)``: its taps along ``dim`` (the probe's work per unit).
        value_scratch: ``value_scratch(layer, row, batch)``: bytes its kernel allocates
            besides the output on the value pass (padded copies, zero bias, tables).
        probe_scratch: ``probe_scratch(layer, row, dim)``: the same for one slab of the
            probe along ``dim``.
        tables: ``tables(layer, row)``: bytes of its index tables (resampling, adaptive
            windows), part of ``value_scratch``.
        new_output: False when its output is a view of its input (flatten).
        refusal: ``refusal(layer)``: why verify cannot run the layer at all (an operator
            whose rules are not known), checked before anything is estimated or run; None
            for the ops that run.
    """

    kernel: Callable[P, R]
    run: Callable[[Any, np.ndarray, Arrays, int], Outcome]
    probe: Callable[[Any, np.ndarray, int, tuple[int, ...]], np.ndarray] = _no_probe
    positions: Positions = Positions.moved
    taps: Callable[[Any, tuple[int, ...], int], int] = _one_tap
    value_scratch: Callable[[Any, LayerRow, int], int] = _no_bytes
    probe_scratch: Callable[[Any, LayerRow, int], int] = _no_bytes
    tables: Callable[[Any, LayerRow], int] = _no_bytes
    new_output: bool = True
    refusal: Callable[[Any], str] | None = None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Return the kernel's result on arrays."""
        return self.kernel(*args, **kwargs)


def weightless(output: Callable[[Any, np.ndarray], np.ndarray]
               ) -> Callable[[Any, np.ndarray, Arrays, int], Outcome]:
    """Return the ``run`` of a layer without parameters whose output is ``output(layer, x)``."""

    def run(layer: Any, x: np.ndarray, arrays: Arrays, index: int) -> Outcome:
        return output(layer, x), 0, 0, 0, None

    return run


@dataclass(frozen=True)
class MergeOp:
    """One merge's reference op.

    Attributes:
        kernel: the merge of the branches' arrays; calling the op calls it.
        union: how the probe joins the branches' one-channel arrays: their sum (a unit is
            reached when any branch reaches it).
        holds_broadcast: the probe leaves out of the union a branch broadcast along the
            probed dim (size 1 there while the output is larger): its field is held fixed,
            and its dependence on the slab goes to the probe's scale instead (``mul``).
    """

    kernel: Callable[..., np.ndarray]
    union: Callable[..., np.ndarray]
    holds_broadcast: bool = False

    def __call__(self, *xs: np.ndarray) -> np.ndarray:
        """Return the merge of ``xs``."""
        return self.kernel(*xs)
