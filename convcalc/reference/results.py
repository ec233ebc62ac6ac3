"""What `verify` measured: frozen result models. Their JSON is documented in docs/verify.md.

Each checked row (every layer and merge; container subtotals are sums and are not
checked) carries five checks, each with what the calculator said and what the arrays
gave. Pure: no numpy, so the renderers can import these without the kernels.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from convcalc.common import Frozen
from convcalc.results import ReceptiveField

__all__ = [
    "AxisMeasurement",
    "CheckName",
    "FieldCheck",
    "FiniteCheck",
    "LayerCheck",
    "MacsCheck",
    "Mismatch",
    "ParamCount",
    "ParamsCheck",
    "ShapeCheck",
    "Verification",
]

CheckName = Literal["shape", "params", "macs", "receptive_field", "finite", "kernel"]


class ShapeCheck(Frozen):
    """The output array's shape against the row's output shape, batch first in both.

    Attributes:
        expected: the calculator's shape with the batch in front.
        measured: the array's shape.
        ok: whether they are equal.
    """

    expected: tuple[int, ...]
    measured: tuple[int, ...]
    ok: bool


class ParamCount(Frozen):
    """A number of parameter elements.

    Attributes:
        trainable: weights, biases, BatchNorm's gamma and beta.
        non_trainable: BatchNorm's running mean and variance.
    """

    trainable: int
    non_trainable: int


class ParamsCheck(Frozen):
    """The elements of the parameter arrays the kernel needed, against the row's counts.

    Attributes:
        expected: the row's ``params`` and ``non_trainable_params``.
        measured: the sizes of the arrays handed to the kernel.
        ok: whether they are equal.
    """

    expected: ParamCount
    measured: ParamCount
    ok: bool


class MacsCheck(Frozen):
    """The multiply-accumulates the kernel counted as it ran, against the row's ``macs``.

    Attributes:
        expected: the row's MACs for the whole batch.
        measured: the kernel's counter (0 for kernels that do no weight MACs).
        padded_taps: how many of the measured MACs read a padding zero (conv only).
        ok: whether expected and measured are equal.
    """

    expected: int
    measured: int
    padded_taps: int | None
    ok: bool


class FiniteCheck(Frozen):
    """Whether every value of the output array is finite (no NaN, no infinity).

    Attributes:
        ok: True when every value is finite.
    """

    ok: bool


class AxisMeasurement(Frozen):
    """The receptive field measured along one spatial dimension of the network input.

    Attributes:
        input_size: the network input's length W along this dim.
        units: the layer's output units along this dim.
        unclipped_units: units whose measured support lies strictly inside the input;
            the measured size, stride and padding come from them.
        size: the most input positions a unit sees, first to last (None when too few
            units are unclipped to read size, stride and padding).
        stride: input positions between neighbouring units (a fraction after upsampling).
        padding: how far before input position 0 unit 0's field starts.
        covers_whole_input: every unit sees input positions 0 to W − 1.
        window_mismatches: units whose first or last input position on the arrays
            differs from where the calculator's windows (its index maps) lead on the
            same arrays, with each layer's padding as zeros.
        field_mismatches: units with no padding in the way (their field clipped to the
            input is what they can reach) that do not see exactly the printed field
            clipped to the input: ``[u·S − P, u·S − P + r − 1]`` for u ≡ 0 mod q.
        through_padding: units whose field clipped to the input includes positions
            they can reach only through padding (zeros on arrays): not compared with
            the printed field.
        mismatched_units: the first ten units of either kind of mismatch.
    """

    input_size: int
    units: int
    unclipped_units: int
    size: int | None
    stride: int | float | None
    padding: int | None
    covers_whole_input: bool
    window_mismatches: int
    field_mismatches: int
    through_padding: int
    mismatched_units: tuple[int, ...]


class FieldCheck(Frozen):
    """The receptive field measured by the probe, against the row's ``receptive_field``.

    Attributes:
        kind: ``field`` (measured per dim), ``global`` (the layer mixes all positions:
            the output must depend on every input position), ``after_global`` (not
            measured past the first layer that mixes all positions), ``untracked``
            (the calculator stopped tracking the field; measured, not compared),
            ``none`` (the network input has no spatial dims), ``not_run`` (an
            earlier kernel failed) or ``skipped`` (the output shape differs from the
            calculator's, so its units cannot be paired with the calculator's).
        expected: the calculator's field, or None when it reports none.
        measured: per spatial dim, for ``field`` and ``untracked``.
        covered: for ``global``: per spatial dim, how many input positions reach the
            output.
        ok: whether measurement and calculator agree.
    """

    kind: Literal["field", "global", "after_global", "untracked", "none", "not_run",
                  "skipped"]
    expected: ReceptiveField | None
    measured: tuple[AxisMeasurement, ...] | None = None
    covered: tuple[int, ...] | None = None
    ok: bool


class LayerCheck(Frozen):
    """Everything verify checked for one row (a layer or a merge).

    Attributes:
        name: the row's full name.
        type: the layer type (``add``/``concat`` for a merge).
        shape: the output shape check.
        params: the parameter count check.
        macs: the multiply-accumulate check.
        receptive_field: the receptive-field check.
        finite: the NaN/infinity check.
        error: why the kernel refused the layer, when it did (the other checks are
            then missing and verify stops).
        ok: whether every check passed.
    """

    name: str
    type: str
    shape: ShapeCheck | None
    params: ParamsCheck | None
    macs: MacsCheck | None
    receptive_field: FieldCheck
    finite: FiniteCheck | None
    error: str | None = None
    ok: bool


class Mismatch(Frozen):
    """One disagreement, in words.

    Attributes:
        layer: the row's full name.
        check: which check failed.
        expected: what the calculator said.
        measured: what the arrays gave.
    """

    layer: str
    check: CheckName
    expected: str
    measured: str


class Verification(Frozen):
    """The result of running a network on real arrays and checking every row.

    Attributes:
        schema_version: this JSON contract's version.
        name: the network's name.
        input_shape: the input shape, batch not included.
        batch: the batch the arrays had.
        seed: the seed of the random inputs and weights.
        ok: True when every check of every row passed.
        complete: False when a kernel refused a layer and verify stopped there.
        layers: the checked rows in execution order.
        mismatches: every failed check, in row order.
        memory_bytes: the estimated peak of the arrays, checked before allocating.
        memory_limit: the limit it was checked against.
        seconds: wall time of the run (not in the JSON).
        compile_seconds: time spent compiling kernels, or None when all came from the
            cache (not in the JSON).
    """

    schema_version: Literal[1] = 1
    name: str | None
    input_shape: tuple[int, ...]
    batch: int
    seed: int
    ok: bool
    complete: bool
    layers: tuple[LayerCheck, ...]
    mismatches: tuple[Mismatch, ...]
    memory_bytes: int
    memory_limit: int
    seconds: float = Field(0.0, exclude=True)
    compile_seconds: float | None = Field(None, exclude=True)
