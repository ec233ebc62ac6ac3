"""Run a network on real arrays through the reference kernels and check every row.

`verify(network, report)` walks the network (`plan.py`) in execution order:

1. the value pass (`values.py`) runs every layer's kernel on random float32 arrays and
   records each row's output shape, parameter arrays, MAC counter and whether every value
   is finite;
2. the receptive-field probe (`probe.py`) runs one channel of slabs per input position,
   for each spatial dim, and records which positions reach each output unit;

then compares each row with the calculator's: shape (with the batch), ``params`` and
``non_trainable_params``, ``macs``, the receptive field (`field.py`) and finiteness. After
a ``mul`` that broadcasts a branch, the probe measures the local field with the broadcast
branch held fixed, and its scale (probe.py) shows which positions every unit depends on
through that branch: a row with ``global_context`` must depend so on every position along
each dim where any does, and a row without it on none (part of the receptive-field check).
Before anything is allocated, the memory the arrays need is estimated (`memory.py`).

The kernels place their windows themselves; nothing here computes an output size. Each
row's op (reference/ops/) is found by the pointer its layer type names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from numba.core import event

from convcalc.common import as_number, dim_names, shape_text
from convcalc.errors import LayerError, MemoryLimitExceeded, ProbeLimitExceeded
from convcalc.reference.expected import Expected, Reach, expected_fields
from convcalc.reference.field import (
    Supports,
    as_fraction,
    formula_mismatches,
    measure,
    uncut_units,
    unit_mismatches,
)
from convcalc.reference.lookup import layer_op
from convcalc.reference.memory import MemoryEstimate, estimate_memory
from convcalc.reference.plan import Leaf, Merge, Node, build_plan, checked_rows
from convcalc.reference.probe import (
    MAX_PROBE_TERMS,
    ProbePass,
    checked_units,
    probe_work,
    resolve_shared,
)
from convcalc.reference.results import (
    AxisMeasurement,
    FieldCheck,
    FiniteCheck,
    LayerCheck,
    MacsCheck,
    Mismatch,
    ParamCount,
    ParamsCheck,
    ShapeCheck,
    Verification,
)
from convcalc.reference.values import KernelFailed, ValuePass
from convcalc.results import Report
from convcalc.spec import Network

__all__ = ["DEFAULT_MAX_MEMORY", "MAX_CHECKED_UNITS", "MAX_PROBE_WORK", "Progress", "verify"]

DEFAULT_MAX_MEMORY = 2 * 1024**3
"""The memory verify's arrays may take at once unless told otherwise: 2 GiB."""
MAX_CHECKED_UNITS = 10_000_000
"""The most output units verify compares with the calculator's field, over every row
(rows that pass their input on share their input's check) and spatial dim: the checks
walk the units in Python, about 5 µs each."""
MAX_PROBE_WORK = 20_000_000_000
"""The most inner-loop trips the receptive-field probe may take (`probe.probe_work`):
about a minute on two cores. The probe's time grows with the square of the input's side
(W slabs of W positions), so a long enough input is refused before anything runs."""
Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all) as the run goes."""


def _joined(values: Sequence[object]) -> str:
    return "×".join("?" if v is None else str(v) for v in values)


def _field_words(size: Sequence[object], stride: Sequence[object],
                 padding: Sequence[object]) -> str:
    strides = [str(as_fraction(s)) if isinstance(s, float) else s for s in stride]
    return f"size {_joined(size)}, stride {_joined(strides)}, padding {_joined(padding)}"


def _axis(supports: Supports, width: int, model: Expected | None,
          printed: tuple[int, int | float, int] | None) -> tuple[AxisMeasurement, bool]:
    """Return one dim's measurement and whether it agrees with the calculator.

    ``model`` is the calculator's model of the row along this dim, ``printed`` its
    printed size, stride and padding there (None when it prints no field).
    """
    fit = measure(supports, width)
    window_wrong: list[int] = []
    field_wrong: list[int] = []
    through_padding = 0
    conclusive = fit.stride is not None
    if model is not None:
        # with another number of units the shape check has already failed
        same_units = len(model.reach.first) == len(supports.count)
        if same_units:
            window_wrong = unit_mismatches(supports, model.reach.first, model.reach.last)
        if model.field is not None and printed is not None and same_units:
            size, stride, padding = printed
            uncut = uncut_units(model.field, model.reach.first, model.reach.last, width)
            through_padding = int((~uncut).sum())
            field_wrong = formula_mismatches(supports, width, size, as_fraction(stride),
                                             padding, model.field.period, uncut)
            # a short stretch of units cannot show a longer period than it holds
            conclusive = conclusive and fit.span >= 2 * model.field.period + 1
    agrees = not window_wrong and not field_wrong
    if conclusive and printed is not None:
        size, stride, padding = printed
        agrees = agrees and (fit.size == size and fit.stride == as_fraction(stride)
                             and fit.padding in (None, padding))
    wrong = sorted(set(window_wrong) | set(field_wrong))
    covers = bool(np.all(supports.reached) and np.all(supports.first == 0)
                  and np.all(supports.last == width - 1))
    measurement = AxisMeasurement(
        input_size=width, units=len(supports.count), unclipped_units=fit.unclipped,
        size=fit.size if conclusive else None,
        stride=as_number(fit.stride) if conclusive and fit.stride is not None else None,
        padding=fit.padding if conclusive else None,
        covers_whole_input=covers, window_mismatches=len(window_wrong),
        field_mismatches=len(field_wrong), through_padding=through_padding,
        mismatched_units=tuple(wrong[:10]))
    return measurement, agrees


@dataclass
class _Probed:
    """What the probe passes found, per row and dim."""

    ran: bool
    widths: tuple[int, ...]
    supports: list[dict[int, Supports]] = field(default_factory=list)
    covered: list[dict[int, np.ndarray]] = field(default_factory=list)
    context: list[dict[int, np.ndarray]] = field(default_factory=list)
    models: list[dict[int, Expected]] = field(default_factory=list)
    # A row that passes its input on shares its input's supports and model: its check
    # along a dim is the same computation, done once (keyed by the objects themselves).
    axes: dict[tuple[int, int, int, object], tuple[AxisMeasurement, bool]] = field(
        default_factory=dict)

    def axis(self, dim: int, supports: Supports, model: Expected | None,
             printed: tuple[int, int | float, int] | None) -> tuple[AxisMeasurement, bool]:
        """Return `_axis` of one dim, computed once per supports, model and printed field."""
        key = (dim, id(supports), id(model), printed)
        if key not in self.axes:
            self.axes[key] = _axis(supports, self.widths[dim], model, printed)
        return self.axes[key]


def _field_check(step: Leaf | Merge, probed: _Probed) -> FieldCheck:
    expected = step.row.receptive_field
    if not probed.ran:
        kind = "none" if not probed.widths else "not_run"
        return FieldCheck(kind=kind, expected=expected, ok=kind == "not_run" or expected is None)
    index = step.index
    if index in probed.covered[0]:
        # the layer mixes all positions: whatever reaches its input reaches its output
        covered = tuple(int(c[index][1].sum()) for c in probed.covered)
        ok = expected is None and all(np.array_equal(c[index][0], c[index][1])
                                      for c in probed.covered)
        return FieldCheck(kind="global", expected=expected, covered=covered, ok=ok)
    if index not in probed.supports[0]:
        return FieldCheck(kind="after_global", expected=expected, ok=expected is None)
    printed: list[tuple[int, int | float, int] | None] = (
        [None] * len(probed.widths) if expected is None else
        list(zip(expected.size, expected.stride, expected.padding, strict=True)))
    models = [m.get(index) for m in probed.models]
    if any(m is not None and not np.any(m.reach.last >= 0) for m in models):
        # Along some dim no unit reaches the input (every tap lands in padding): then no
        # output unit sees anything, and the probe sees nothing along any dim.
        models = [None if m is None else Expected(Reach.nothing(len(m.reach.first)), m.field)
                  for m in models]
    axes = [probed.axis(dim, s[index], m, p) for dim, (s, m, p) in
            enumerate(zip(probed.supports, models, printed, strict=True))]
    measured = tuple(axis for axis, _ in axes)
    ok = all(agrees for _, agrees in axes)
    kind = "untracked" if expected is None else "field"
    return FieldCheck(kind=kind, expected=expected, measured=measured, ok=ok)


def _context_mismatch(step: Leaf | Merge, probed: _Probed) -> tuple[str, str] | None:
    """Return (expected, measured) in words when the row's ``global_context`` disagrees
    with the positions its probe scale holds; None when they agree or it was not measured
    (past the first layer that mixes all positions, every output reads every position
    anyway)."""
    if not probed.ran or any(step.index not in context for context in probed.context):
        return None
    held = [context[step.index] for context in probed.context]
    names = dim_names(len(probed.widths))
    every = [bool(h.all()) for h in held]
    none = [not h.any() for h in held]
    if step.row.global_context:
        if any(every) and all(e or n for e, n in zip(every, none, strict=True)):
            return None
        expected = ("global context: every output also depends on every input position "
                    "through a broadcast scale")
    else:
        if all(none):
            return None
        expected = "no global context"
    measured = ", ".join(f"{int(h.sum())} of {len(h)} positions along {name} reach every "
                         "output through a broadcast scale"
                         for name, h in zip(names, held, strict=True))
    return expected, measured


def _field_mismatch(check: FieldCheck, widths: tuple[int, ...]) -> tuple[str, str]:
    """Return (expected, measured) in words for a failed receptive-field check."""
    expected = check.expected
    expected_text = ("global (positions mixed)" if expected is None else
                     _field_words(expected.size, expected.stride, expected.padding))
    names = dim_names(len(widths)) if widths else ()
    if check.kind == "global":
        return expected_text, "global, " + ", ".join(
            f"{count} of {width} positions along {name} reach the output"
            for name, count, width in zip(names, check.covered or (), widths, strict=True))
    if check.kind == "after_global":
        return expected_text, "not measured past the first layer that mixes all positions"
    if check.kind == "none":
        return expected_text, "none: the input has no spatial dimension"
    axes = check.measured or ()
    measured = _field_words([a.size for a in axes], [a.stride for a in axes],
                            [a.padding for a in axes])
    for name, axis in zip(names, axes, strict=True):
        found = []
        if axis.window_mismatches:
            count = axis.window_mismatches
            found.append(f"{_units(count)} {'reaches' if count == 1 else 'reach'} other input "
                         "positions than the layers' windows lead to")
        if axis.field_mismatches:
            count = axis.field_mismatches
            found.append(f"{_units(count)} with no padding in the way "
                         f"{'does' if count == 1 else 'do'} not see the printed field clipped "
                         "to the input")
        if found:
            listed = ", ".join(str(u) for u in axis.mismatched_units)
            more = ", …" if len(axis.mismatched_units) == 10 else ""
            measured += f"; along {name}, {' and '.join(found)} (units {listed}{more})"
    return expected_text, measured


def _units(count: int) -> str:
    return "1 unit" if count == 1 else f"{count} units"


def _params_words(count: ParamCount) -> str:
    return f"{count.trainable:,} trainable + {count.non_trainable:,} non-trainable"


def _layer_check(step: Leaf | Merge, batch: int, values: ValuePass, probed: _Probed
                 ) -> tuple[LayerCheck, list[Mismatch]]:
    """Return one row's checks and its mismatches in words."""
    row = step.row
    name = row.name
    field_check = _field_check(step, probed)
    mismatches: list[Mismatch] = []
    measured = values.measured.get(step.index)
    if measured is not None and measured.shape != (batch, *row.output_shape):
        # other units than the calculator's: the shape check says so, units cannot be paired
        field_check = FieldCheck(kind="skipped", expected=row.receptive_field, ok=True)
    if measured is None:
        error = values.errors.get(step.index)
        if error is not None:
            mismatches.append(Mismatch(layer=name, check="kernel",
                                       expected="the kernel runs the layer",
                                       measured=f"the kernel refused it: {error}"))
        check = LayerCheck(name=name, type=row.type, shape=None, params=None, macs=None,
                           receptive_field=field_check, finite=None, error=error, ok=False)
        return check, mismatches
    expected_shape = (batch, *row.output_shape)
    shape = ShapeCheck(expected=expected_shape, measured=measured.shape,
                       ok=expected_shape == measured.shape)
    expected_params = ParamCount(trainable=row.params, non_trainable=row.non_trainable_params)
    params = ParamsCheck(expected=expected_params, measured=measured.params,
                         ok=expected_params == measured.params)
    macs = MacsCheck(expected=row.macs, measured=measured.macs,
                     padded_taps=measured.padded_taps, ok=row.macs == measured.macs)
    finite = FiniteCheck(ok=measured.finite)
    if not shape.ok:
        mismatches.append(Mismatch(layer=name, check="shape", expected=_joined(shape.expected),
                                   measured=_joined(shape.measured)))
    if not params.ok:
        mismatches.append(Mismatch(layer=name, check="params",
                                   expected=_params_words(params.expected),
                                   measured=_params_words(params.measured)))
    if not macs.ok:
        mismatches.append(Mismatch(layer=name, check="macs", expected=f"{macs.expected:,}",
                                   measured=f"{macs.measured:,}"))
    if not field_check.ok:
        expected_text, measured_text = _field_mismatch(field_check, probed.widths)
        mismatches.append(Mismatch(layer=name, check="receptive_field",
                                   expected=expected_text, measured=measured_text))
    context = _context_mismatch(step, probed) if shape.ok else None
    if context is not None:
        field_check = field_check.model_copy(update={"ok": False})
        mismatches.append(Mismatch(layer=name, check="receptive_field", expected=context[0],
                                   measured=context[1]))
    if not finite.ok:
        mismatches.append(Mismatch(layer=name, check="finite", expected="finite values",
                                   measured="NaN or infinity in the output"))
    ok = shape.ok and params.ok and macs.ok and field_check.ok and finite.ok
    check = LayerCheck(name=name, type=row.type, shape=shape, params=params, macs=macs,
                       receptive_field=field_check, finite=finite, ok=ok)
    return check, mismatches


# --------------------------------------------------------------------------------------
# The run


@contextmanager
def _compile_time() -> Iterator[list[float]]:
    """Yield a list that afterwards holds the seconds numba spent compiling, if it did."""
    seconds: list[float] = []
    with event.install_recorder("numba:compile") as recorder:
        yield seconds
    depth, started, total = 0, 0.0, 0.0
    for timestamp, happened in recorder.buffer:
        if happened.is_start:
            if depth == 0:
                started = timestamp
            depth += 1
        elif happened.is_end:
            depth -= 1
            if depth == 0:
                total += timestamp - started
    if recorder.buffer:
        seconds.append(total)


def _gib(count: int) -> str:
    return f"{count / 1024**3:.2f} GiB" if count >= 1024**3 else f"{count / 1024**2:.0f} MiB"


def _check_probe_memory(estimate: MemoryEstimate, max_memory: int, shape: str) -> None:
    """Raise MemoryLimitExceeded when one slab of the probe is already above the limit."""
    need = estimate.slab_bytes + estimate.probe_fixed_bytes
    if need > max_memory:
        raise MemoryLimitExceeded(
            f"the receptive-field probe needs about {_gib(need)} for one "
            f"input position, more than the {_gib(max_memory)} allowed; use a smaller "
            f"input (now {shape})", needed=need, limit=max_memory, probe=True)


def _check_probe_work(work: int, shape: str) -> None:
    """Raise ProbeLimitExceeded when the probe would take more than MAX_PROBE_WORK steps."""
    if work > MAX_PROBE_WORK:
        raise ProbeLimitExceeded(
            f"the receptive-field probe would take about {work:.2g} steps for the {shape} "
            f"input (one pass per input position along each spatial dim), more than the "
            f"{MAX_PROBE_WORK:.0e} allowed: give the network a shorter input")


def _probe_terms(plan: Sequence[Node], widths: tuple[int, ...], shape: str) -> int:
    """Return the most paths the probe follows at once, found by running it with no slab
    (the other dims' sets only); raise ProbeLimitExceeded above MAX_PROBE_TERMS."""
    most = 1
    for dim in range(len(widths)):
        dry = ProbePass(dim, 0, 0, widths, {}, {}, lambda: None)
        dry.nodes(plan, dry.input())
        most = max(most, dry.most_terms)
    if most > MAX_PROBE_TERMS:
        raise ProbeLimitExceeded(
            f"the receptive-field probe would follow {most} paths of different extents at "
            f"once for the {shape} input, more than the {MAX_PROBE_TERMS} allowed: the "
            "branches of the network's merges reach different positions")
    return most


def _check_runnable(plan: Sequence[Node]) -> None:
    """Raise LayerError, naming the row, at the first layer whose op refuses to run."""
    for step in checked_rows(plan):
        if isinstance(step, Leaf):
            refusal = layer_op(step.layer).refusal
            if refusal is not None:
                raise LayerError(refusal(step.layer), location=step.row.location,
                                 layer=step.row.name)


def verify(
    network: Network,
    report: Report,
    seed: int = 0,
    max_memory: int = DEFAULT_MAX_MEMORY,
    progress: Progress | None = None,
) -> Verification:
    """Return what running ``network`` on real arrays shows about each row of ``report``.

    ``report`` is the calculator's report of ``network`` (its batch is the arrays'
    batch). Raises MemoryLimitExceeded, before allocating anything, when the arrays
    would need more than ``max_memory`` bytes at once; LayerError, before anything runs,
    at a layer verify cannot run (``unknown``); PlanMismatch when ``report`` is not a
    report of ``network``.
    """
    started = time.perf_counter()
    plan = build_plan(network, report)
    _check_runnable(plan)
    estimate = estimate_memory(plan, report)
    shape = shape_text(report.input_shape)
    if estimate.value_bytes > max_memory:
        raise MemoryLimitExceeded(
            f"verify's arrays would need about {_gib(estimate.value_bytes)} at once, more "
            f"than the {_gib(max_memory)} allowed; use a smaller batch (now {report.batch}) "
            f"or a smaller input (now {shape})",
            needed=estimate.value_bytes, limit=max_memory)
    _check_probe_memory(estimate, max_memory, shape)
    steps = list(checked_rows(plan))
    widths = tuple(report.input_shape[1:])
    work = probe_work(plan, widths)
    _check_probe_work(work, shape)
    units = checked_units(plan, len(widths))
    if units > MAX_CHECKED_UNITS:
        raise ProbeLimitExceeded(
            f"verify would compare {units:,} output units with the calculator's receptive "
            f"fields for the {shape} input, more than the {MAX_CHECKED_UNITS:,} allowed: give "
            "the network a shorter input or fewer upsamplings")

    def chunks_of(estimate: MemoryEstimate) -> list[tuple[int, int, int]]:
        per_chunk = estimate.slabs_per_chunk(max_memory)
        return [(dim, start, min(start + per_chunk, width))
                for dim, width in enumerate(widths) for start in range(0, width, per_chunk)]

    chunks = chunks_of(estimate)
    # a step per row: its value, its probe in each chunk, its checks; a network whose
    # merges need more than one probe path gets more chunks, and progress is held at total
    total, done = len(steps) * (2 + len(chunks)), 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(done, total), total)

    with _compile_time() as compile_seconds:
        values = ValuePass(seed, tick)
        complete = True
        try:
            values.nodes(plan, values.input((report.batch, *report.input_shape)))
        except KernelFailed:
            complete = False
        probed = _Probed(ran=complete and bool(widths), widths=widths)
        if probed.ran:
            terms = _probe_terms(plan, widths, shape)
            if terms > 1:
                estimate = estimate_memory(plan, report, probe_terms=terms)
                _check_probe_memory(estimate, max_memory, shape)
                _check_probe_work(work * terms, shape)
                chunks = chunks_of(estimate)
            probed.supports = [{} for _ in widths]
            probed.covered = [{} for _ in widths]
            probed.context = [{} for _ in widths]
            shared: list[dict[int, int | None]] = [{} for _ in widths]
            for dim, start, stop in chunks:
                probe = ProbePass(dim, start, stop, widths, probed.supports[dim],
                                  probed.covered[dim], tick, probed.context[dim])
                probe.nodes(plan, probe.input())
                shared[dim] = probe.shared
            for dim, width in enumerate(widths):
                resolve_shared(probed.supports[dim], shared[dim], width)
            probed.models = [expected_fields(plan, width, dim)
                             for dim, width in enumerate(widths)]
    layers: list[LayerCheck] = []
    mismatches: list[Mismatch] = []
    for step in steps:
        if not complete and step.index > max(values.errors):
            break
        check, found = _layer_check(step, report.batch, values, probed)
        tick()
        layers.append(check)
        mismatches.extend(found)
    return Verification(
        name=report.name, input_shape=report.input_shape, batch=report.batch, seed=seed,
        ok=complete and not mismatches, complete=complete, layers=tuple(layers),
        mismatches=tuple(mismatches), memory_bytes=estimate.peak(max_memory),
        memory_limit=max_memory, seconds=time.perf_counter() - started,
        compile_seconds=compile_seconds[0] if compile_seconds else None)
