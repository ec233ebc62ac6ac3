"""The value pass: every layer run by its kernel on random float32 arrays.

Inputs are uniform with unit variance, weights He-uniform (±√(6/fan_in), so activations
keep their scale through deep stacks of ReLU layers), biases ±1/√fan_in as PyTorch
initialises them, BatchNorm statistics near the identity. All come from `arrays.uniform`
with a stream per row and array, so a seed gives the same arrays on any machine.

For each row the pass records what the arrays show: the output's shape, the sizes of the
parameter arrays handed to the kernel, the MACs the kernel counted, the taps that read
padding, and whether every output value is finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from convcalc.layers import LayerSpec
from convcalc.reference.arrays import stream_key, uniform
from convcalc.reference.lookup import layer_op, merge_op
from convcalc.reference.ops._op import Outcome
from convcalc.reference.plan import Leaf, Merge
from convcalc.reference.results import ParamCount
from convcalc.reference.walk import PlanFold

__all__ = ["KernelFailed", "Measured", "ValuePass"]


class KernelFailed(Exception):
    """A kernel refused a layer the calculator accepted; the pass stops there."""


@dataclass(frozen=True)
class Measured:
    """What one row's kernel did.

    Attributes:
        shape: the output array's shape.
        params: the elements of the parameter arrays handed to the kernel.
        macs: the kernel's MAC counter (0 for kernels that do no weight MACs).
        padded_taps: MACs that read a padding zero (conv only).
        finite: no output value is NaN or infinite.
    """

    shape: tuple[int, ...]
    params: ParamCount
    macs: int
    padded_taps: int | None
    finite: bool


class ValuePass(PlanFold[np.ndarray]):
    """Runs every layer on real arrays and records what each row's kernel did.

    Attributes:
        measured: per checked-row index, what its kernel did.
        errors: per checked-row index, why its kernel refused the layer.
    """

    def __init__(self, seed: int, tick: Callable[[], None]) -> None:
        self.seed = seed
        self.tick = tick
        self.measured: dict[int, Measured] = {}
        self.errors: dict[int, str] = {}

    def input(self, shape: tuple[int, ...]) -> np.ndarray:
        """Return the network input: ``shape`` with the batch, uniform with unit variance."""
        bound = math.sqrt(3)
        return uniform(shape, stream_key(self.seed, "input"), -bound, bound)

    def merge(self, merge: Merge, outputs: list[np.ndarray]) -> np.ndarray:
        op = merge_op(merge.kind)
        return self.record(merge, lambda: (op(*outputs), 0, 0, 0, None))

    def leaf(self, leaf: Leaf, x: np.ndarray) -> np.ndarray:
        return self.record(leaf, lambda: self.run(leaf.layer, x, leaf.index))

    def record(self, step: Leaf | Merge, run: Callable[[], Outcome]) -> np.ndarray:
        try:
            y, trainable, non_trainable, macs, padded_taps = run()
        except (ValueError, TypeError, IndexError, ZeroDivisionError) as error:
            self.errors[step.index] = str(error)
            raise KernelFailed from None
        # min and max carry a NaN or an infinity through, without a temporary array
        finite = y.size == 0 or bool(np.isfinite(y.min()) and np.isfinite(y.max()))
        params = ParamCount(trainable=trainable, non_trainable=non_trainable)
        self.measured[step.index] = Measured(tuple(y.shape), params, macs, padded_taps,
                                             finite)
        self.tick()
        return y

    def uniform(self, index: int, name: str, shape: tuple[int, ...], low: float,
                high: float) -> np.ndarray:
        """Return row ``index``'s array ``name``: uniform in [low, high), from the seed."""
        return uniform(shape, stream_key(self.seed, index, name), low, high)

    def weighted(self, index: int, weight_shape: tuple[int, ...], units: int, fan_in: int,
                 bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Return He-uniform weights and, if asked, PyTorch-style biases for row ``index``."""
        weight = self.uniform(index, "weight", weight_shape, -math.sqrt(6 / fan_in),
                              math.sqrt(6 / fan_in))
        if not bias:
            return weight, None
        bound = 1 / math.sqrt(fan_in)
        return weight, self.uniform(index, "bias", (units,), -bound, bound)

    def run(self, layer: LayerSpec, x: np.ndarray, index: int) -> Outcome:
        """Return the output and what the kernel needed and counted for one layer."""
        return layer_op(layer).run(layer, x, self, index)
