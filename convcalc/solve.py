"""The inverse problems: which layer gives this output size, what ``same`` pads, which
input sizes a network takes without losing rows.

Every candidate is checked by the layer's own rules (``apply`` of a real ``Conv``,
``ConvTranspose``, ``MaxPool`` or ``AvgPool``; ``analyze`` for a whole network), so an
answer here is exactly what ``convcalc layer`` or ``convcalc net`` would then report.
The enumeration only narrows the padding down by arithmetic before that check.

"Simplest first" orders solutions by: no input rows left unread, then the smallest
dilation, stride, kernel, padding and output padding, in that order.

Errors name the parameters as the functions spell them, in backquotes
(`` `max_kernel` must be at least 1, got 0 ``), so that a front end can write its own
names in their place (``convcalc solve`` writes its flags).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Literal

from convcalc.analysis import ShapeRow, check_rows, walk_shapes
from convcalc.common import Frozen, dim_names, shape_text
from convcalc.errors import InputError, LayerError
from convcalc.geometry import same_padding, window_output_size
from convcalc.layers import LayerSpec
from convcalc.layers.base import MAX_SIZE
from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.pool import AdaptivePool, AvgPool, MaxPool
from convcalc.layers.window import Window, WindowKind
from convcalc.results import SCHEMA_VERSION
from convcalc.spec import Network
from convcalc.textsafe import echo

__all__ = [
    "MAX_CANDIDATES",
    "MAX_COMBINATIONS",
    "MAX_INPUT_CANDIDATES",
    "MAX_INPUT_ROWS",
    "InputSizes",
    "Rejected",
    "Requirement",
    "SamePadding",
    "WindowSolution",
    "WindowSolutions",
    "solve_inputs",
    "solve_same",
    "solve_window",
]

MAX_COMBINATIONS = 100_000
"""The most (kernel, stride, dilation) combinations ``solve_window`` searches."""
MAX_CANDIDATES = 100_000
"""The most settings ``solve_window`` checks with the layer's own rules (about 5 s): the
paddings (transposed: output paddings) that arithmetic leaves, over every combination."""
MAX_INPUT_CANDIDATES = 10_000
"""The most input sizes ``solve_inputs`` analyses in one call."""
MAX_INPUT_ROWS = 1_000_000
"""The most rows ``solve_inputs`` walks in one call (sizes × the network's rows)."""


class Requirement(StrEnum):
    """What an input size must give at every layer to count as valid.

    ``no_warnings``: no error and no warning, so every input row is read (a remainder
    that falls in the padding, or in the gaps of a stride wider than its window, is fine).
    ``whole``: besides, every sliding window's ``(W − K + P)/S`` and every adaptive pool's
    ``W/out`` is a whole number: nothing at all is left over.
    ``divisible``: besides no warnings, every sliding window's input is a multiple of its
    stride, so a stride-2 layer halves the size exactly (224 → 112; adaptive pools, made
    to take any size, are not asked to divide).
    """

    no_warnings = "no-warnings"
    whole = "whole"
    divisible = "divisible"


class WindowSolution(Frozen):
    """One layer setting that maps the input size to the output size.

    Attributes:
        kernel: kernel size K.
        stride: stride S.
        padding: padding P on each side.
        dilation: dilation D.
        output_padding: extra output rows of a transposed conv (0 for the others).
        whole: the division ``(W − D·(K−1) − 1 + 2P)/S`` is whole (always for transposed).
        unread_rows: the trailing input rows no window reads, when ``convcalc layer`` warns
            about them (more than the gap a stride wider than its window leaves anyway);
            0 otherwise.
        worked: the output size worked out, as ``--explain`` prints it.
    """

    kernel: int
    stride: int
    padding: int
    dilation: int
    output_padding: int = 0
    whole: bool
    unread_rows: int
    worked: str


class WindowSolutions(Frozen):
    """Every setting within the bounds that maps ``input`` to ``output``, simplest first.

    Attributes:
        schema_version: the JSON contract's version (docs/json.md).
        kind: the layer type searched.
        input: the input size along one spatial dim.
        output: the output size wanted.
        ceil_mode: whether pooling rounds up.
        kernels: the smallest and largest kernel tried (equal when it was fixed).
        strides: the smallest and largest stride tried.
        dilations: the smallest and largest dilation tried.
        padding: the padding, when it was fixed.
        max_padding: the largest padding tried; None for the default, one less than the
            dilated kernel (pooling: half the kernel, rounded down).
        solutions: the settings found, simplest first.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: WindowKind
    input: int
    output: int
    ceil_mode: bool
    kernels: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    padding: int | None
    max_padding: int | None
    solutions: tuple[WindowSolution, ...]


def _check_range(name: str, value: int, minimum: int) -> None:
    """Raise InputError unless ``minimum ≤ value ≤ MAX_SIZE`` (what a layer field takes).

    ``name`` is the parameter's; the message names it in backquotes, as every message
    here names a parameter, so that a front end can put its own name in its place.
    """
    if value < minimum:
        raise InputError(f"`{name}` must be at least {minimum}, got {echo(value)}",
                         field_name=name)
    if value > MAX_SIZE:
        raise InputError(f"`{name}` must be at most {MAX_SIZE:,} (the largest value a layer "
                         f"takes), got {echo(value)}", field_name=name)


def _values(fixed: int | None, bound: int, name: str) -> range:
    if fixed is not None:
        _check_range(name, fixed, 1)
        return range(fixed, fixed + 1)
    return range(1, bound + 1)


def _layer(kind: WindowKind, kernel: int, stride: int, padding: int, dilation: int,
           ceil_mode: bool, output_padding: int = 0) -> Conv | ConvTranspose | MaxPool | AvgPool:
    if kind is WindowKind.conv:
        return Conv(type="conv", filters=1, kernel=kernel, stride=stride, padding=padding,
                    dilation=dilation)
    if kind is WindowKind.conv_transpose:
        return ConvTranspose(type="conv_transpose", filters=1, kernel=kernel, stride=stride,
                             padding=padding, dilation=dilation, output_padding=output_padding)
    if kind is WindowKind.maxpool:
        return MaxPool(type="maxpool", kernel=kernel, stride=stride, padding=padding,
                       dilation=dilation, ceil_mode=ceil_mode)
    return AvgPool(type="avgpool", kernel=kernel, stride=stride, padding=padding,
                   ceil_mode=ceil_mode)


def _window_candidates(size: int, output: int, extent: int, stride: int) -> range:
    """Return the paddings whose padded span could give ``output`` windows, either rounding.

    ``W + 2P − E`` must lie in ``[(out − 2)·S, out·S]`` for floor or ceil to give ``out``.
    """
    low = -(-((output - 2) * stride + extent - size) // 2)
    high = (output * stride + extent - size) // 2
    return range(max(low, 0), high + 1)


def _candidates(kind: WindowKind, size: int, output: int, k: int, s: int, d: int,
                padding: int | None, limit: int) -> range:
    """Return the paddings (transposed: output paddings) worth checking for one k, s, d.

    Arithmetic alone: for a sliding window the paddings ``_window_candidates`` allows,
    within ``[0, limit]`` (or the fixed padding); for a transposed conv the output
    paddings ``x < max(S, D)`` with ``(W − 1)·S + E + x − out = 2P`` for an allowed P.
    The count does not depend on the stride's size, only on the padding limit.
    """
    extent = d * (k - 1) + 1
    low, high = (0, min(limit, MAX_SIZE)) if padding is None else (padding, padding)
    if kind is not WindowKind.conv_transpose:
        window = _window_candidates(size, output, extent, s)
        return range(max(window.start, low), min(window.stop, high + 1))
    base = output - (size - 1) * s - extent  # x = base + 2P
    first = base + 2 * low
    first = max(first, first % 2)  # the smallest x ≥ 0 of the same parity
    last = min(base + 2 * high, max(s, d) - 1)
    return range(first, last + 1, 2)


def solve_window(
    size: int,
    output: int,
    kind: WindowKind = WindowKind.conv,
    *,
    kernel: int | None = None,
    stride: int | None = None,
    padding: int | None = None,
    dilation: int | None = None,
    max_kernel: int = 11,
    max_stride: int = 4,
    max_padding: int | None = None,
    max_dilation: int = 3,
    ceil_mode: bool = False,
) -> WindowSolutions:
    """Return every (kernel, stride, padding, dilation) that maps ``size`` to ``output``.

    A value given (``kernel=3``) is fixed; the others range from 1 (padding from 0) to
    their bound. The padding is symmetric; by default it stays below the dilated kernel
    (a window always reads one real input), for pooling at most ``⌊K/2⌋`` (PyTorch's
    rule, on the kernel as written). Raises InputError for sizes below 1, ceil_mode on a
    convolution, dilation on avgpool, or bounds past MAX_COMBINATIONS.
    """
    if size < 1 or output < 1:
        raise InputError(f"the input and output sizes must be at least 1, got {echo(size)} "
                         f"and {echo(output)}")
    _check_range("size", size, 1)
    _check_range("output", output, 1)
    for name, bound in (("max_kernel", max_kernel), ("max_stride", max_stride),
                        ("max_dilation", max_dilation)):
        _check_range(name, bound, 1)
    if max_padding is not None:
        _check_range("max_padding", max_padding, 0)
    if padding is not None:
        _check_range("padding", padding, 0)
    pooling = kind in (WindowKind.maxpool, WindowKind.avgpool)
    if ceil_mode and not pooling:
        raise InputError(f"`ceil_mode` applies to maxpool and avgpool, not {kind}",
                         field_name="ceil_mode")
    if kind is WindowKind.avgpool:
        if dilation not in (None, 1):
            raise InputError("avgpool has no dilation")
        dilation = 1
    kernels = _values(kernel, max_kernel, "kernel")
    strides = _values(stride, max_stride, "stride")
    dilations = _values(dilation, max_dilation, "dilation")
    combinations = len(kernels) * len(strides) * len(dilations)
    if combinations > MAX_COMBINATIONS:
        raise InputError(f"the bounds allow {combinations:,} (kernel, stride, dilation) "
                         f"combinations, past the limit of {MAX_COMBINATIONS:,}; lower "
                         "`max_kernel`, `max_stride` or `max_dilation`")
    searches = []
    for d in dilations:
        for k in kernels:
            if k == 1 and d > 1 and dilation is None:
                continue  # a 1-tap kernel is the same at every dilation
            extent = d * (k - 1) + 1
            limit = k // 2 if pooling else extent - 1
            limit = limit if max_padding is None else max_padding
            searches += [(k, s, d, _candidates(kind, size, output, k, s, d, padding, limit))
                         for s in strides]
    candidates = sum(len(c) for *_, c in searches)
    if candidates > MAX_CANDIDATES:
        raise InputError(f"the bounds leave {candidates:,} settings to check, past the limit "
                         f"of {MAX_CANDIDATES:,}; fix `kernel`, `stride` or `dilation`, or lower "
                         "`max_padding`")
    found: list[WindowSolution] = []
    for k, s, d, candidates_ in searches:
        found += _solutions(kind, size, output, k, s, d, candidates_, ceil_mode)
    found.sort(key=lambda f: (f.unread_rows > 0, f.dilation, f.stride, f.kernel, f.padding,
                              f.output_padding))
    return WindowSolutions(
        kind=kind, input=size, output=output, ceil_mode=ceil_mode,
        kernels=(kernels[0], kernels[-1]), strides=(strides[0], strides[-1]),
        dilations=(dilations[0], dilations[-1]), padding=padding, max_padding=max_padding,
        solutions=tuple(found),
    )


def _solutions(kind: WindowKind, size: int, output: int, k: int, s: int, d: int,
               candidates: range, ceil_mode: bool) -> Iterator[WindowSolution]:
    """Yield the ``candidates`` (paddings; transposed: output paddings) that work."""
    from convcalc.explain import transposed_size_line, window_size_lines  # worked lines, on use
    extent = d * (k - 1) + 1
    if kind is WindowKind.conv_transpose:
        for extra in candidates:
            p = ((size - 1) * s + extent + extra - output) // 2
            if _fits(_layer(kind, k, s, p, d, False, extra), size, output):
                yield WindowSolution(
                    kernel=k, stride=s, padding=p, dilation=d, output_padding=extra,
                    whole=True, unread_rows=0,
                    worked=transposed_size_line(size, k, s, d, p, extra))
        return
    for p in candidates:
        layer = _layer(kind, k, s, p, d, ceil_mode)
        if not _fits(layer, size, output):
            continue
        assert not isinstance(layer, ConvTranspose), "handled above"
        window: Window = layer.window((1, size))
        worked = "; ".join(window_size_lines(window, 0)[0])
        span = size + 2 * p - extent
        unread = max(span % s - p, 0)  # trailing rows past the last window, padding aside
        yield WindowSolution(
            kernel=k, stride=s, padding=p, dilation=d, whole=span % s == 0,
            unread_rows=unread if unread > max(s - extent, 0) and not ceil_mode else 0,
            worked=worked)


def _fits(layer: LayerSpec, size: int, output: int) -> bool:
    """Return whether ``layer`` takes a ``size`` input to ``output`` positions."""
    try:
        return layer.apply((1, size)).output_shape[1] == output
    except LayerError:
        return False


# ---------------------------------------------------------------- same padding


class SamePadding(Frozen):
    """The padding TensorFlow's ``same`` adds, and whether a symmetric int does the same.

    Attributes:
        schema_version: the JSON contract's version (docs/json.md).
        input: the input size W.
        kernel: the kernel size K.
        stride: the stride S.
        dilation: the dilation D.
        output: ``⌈W/S⌉``.
        total: the padding added in all, ``max((out − 1)·S + D·(K−1) + 1 − W, 0)``.
        before: the padding before the first input (the smaller half).
        after: the padding after the last input.
        symmetric: the int padding equal to same on both sides, when the total is even.
        same_size: symmetric int paddings that give the same output size (their windows
            may sit one position off same's).
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    input: int
    kernel: int
    stride: int
    dilation: int
    output: int
    total: int
    before: int
    after: int
    symmetric: int | None
    same_size: tuple[int, ...]


def solve_same(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> SamePadding:
    """Return the padding ``same`` needs for one spatial dim, split before and after."""
    for name, value in (("size", size), ("kernel", kernel), ("stride", stride),
                        ("dilation", dilation)):
        _check_range(name, value, 1)
    before, after = same_padding(size, kernel, stride, dilation)
    output = window_output_size(size, kernel, stride, dilation, before, after)
    total = before + after
    candidates = sorted({total // 2, (total + 1) // 2})
    same_size = tuple(p for p in candidates
                      if window_output_size(size, kernel, stride, dilation, p, p) == output)
    return SamePadding(
        input=size, kernel=kernel, stride=stride, dilation=dilation, output=output,
        total=total, before=before, after=after,
        symmetric=before if before == after else None, same_size=same_size,
    )


# ---------------------------------------------------------------- input sizes


class Rejected(Frozen):
    """An input size that does not count as valid, and the first reason.

    Attributes:
        size: the input size.
        layer: the layer to blame, when there is one.
        reason: the error, the warning, or the division that is not whole.
    """

    size: int
    layer: str | None
    reason: str


class InputSizes(Frozen):
    """The input sizes in a range that a network maps as the requirement asks.

    Attributes:
        schema_version: the JSON contract's version (docs/json.md).
        network: the network's name.
        input_shape: the file's input shape.
        dims: the spatial dims varied (names such as ``H``, ``W``); the others keep the
            file's sizes.
        requirement: what counts as valid.
        minimum: the smallest size tried.
        maximum: the largest size tried.
        valid: the sizes that are valid, ascending.
        rejected: the others, each with its first reason.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    network: str | None
    input_shape: tuple[int, ...]
    dims: tuple[str, ...]
    requirement: Requirement
    minimum: int
    maximum: int
    valid: tuple[int, ...]
    rejected: tuple[Rejected, ...]


def _division_problem(rows: tuple[ShapeRow, ...], varied: tuple[int, ...],
                      requirement: Requirement) -> tuple[str, str] | None:
    """Return the first layer and the division that breaks ``requirement``, or None."""
    for row in rows:
        spec = row.spec
        names = dim_names(len(row.input_shape) - 1)
        if isinstance(spec, Conv | MaxPool | AvgPool):
            window = spec.window(row.input_shape)
            for i in varied:
                size, s = window.dims[i], window.stride[i]
                extent = window.dilation[i] * (window.kernel[i] - 1) + 1
                before, after = window.pads[i]
                span = size + before + after - extent
                if requirement is Requirement.whole and span % s:
                    # Written as the core's warnings write it: (W − K + 2P)/S when symmetric.
                    padding = (f"2P)/S = ({size} − {extent} + 2·{before})" if before == after
                               else f"P)/S = ({size} − {extent} + {before}+{after})")
                    return row.name, (f"({names[i]} − K + {padding}/{s} = {span / s:g} is not "
                                      "whole")
                if requirement is Requirement.divisible and size % s:
                    return row.name, f"{names[i]} = {size} is not a multiple of the stride {s}"
        elif isinstance(spec, AdaptivePool) and requirement is Requirement.whole:
            sizes = (spec.output,) * len(names) if isinstance(spec.output, int) else spec.output
            for i in varied:
                if row.input_shape[1 + i] % sizes[i]:
                    return row.name, (f"{names[i]} = {row.input_shape[1 + i]} is not a multiple "
                                      f"of the adaptive output {sizes[i]}")
    return None


def solve_inputs(
    network: Network,
    minimum: int,
    maximum: int,
    dim: str | None = None,
    requirement: Requirement = Requirement.no_warnings,
    progress: Callable[[int, int], None] | None = None,
) -> InputSizes:
    """Return which input sizes from ``minimum`` to ``maximum`` the network maps cleanly.

    Each size is put in every spatial dim (or only in ``dim``, by name: ``H``), keeping the
    channels, and the network's layers are checked as ``convcalc net`` would check them
    (``walk_shapes``: the layers' errors and warnings; the receptive field is not tracked,
    its warnings being about the report rather than the size). ``progress(done, total)``
    is called before each size and once at the end. Raises InputError when the input has
    no spatial dim, ``dim`` is not one of its names, or the range is empty, longer than
    MAX_INPUT_CANDIDATES, or makes more than MAX_INPUT_ROWS rows to walk.
    """
    shape = tuple(network.input)
    names = dim_names(len(shape) - 1)
    if len(shape) < 2:
        raise InputError(f"the network's input {shape_text(shape)} has no spatial "
                         "dimension to vary")
    if dim is None:
        varied = tuple(range(len(names)))
    elif dim.upper() in names:
        varied = (names.index(dim.upper()),)
    else:
        raise InputError(f"`dim` {dim!r} is not a spatial dim of the input "
                         f"{shape_text(shape)}; use {', '.join(names)}", field_name="dim")
    if minimum < 1 or maximum < minimum:
        raise InputError(f"the range `minimum` {minimum} `maximum` {maximum} is empty; give "
                         "1 ≤ min ≤ max")
    _check_range("maximum", maximum, 1)
    if maximum - minimum + 1 > MAX_INPUT_CANDIDATES:
        raise InputError(f"the range holds {maximum - minimum + 1:,} sizes, past the limit of "
                         f"{MAX_INPUT_CANDIDATES:,}; narrow `minimum` and `maximum`")
    rows = check_rows(network)
    walked = (maximum - minimum + 1) * rows
    if walked > MAX_INPUT_ROWS:
        raise InputError(
            f"trying {maximum - minimum + 1:,} sizes on a network of {rows:,} rows walks "
            f"{walked:,} rows, past the limit of {MAX_INPUT_ROWS:,}; narrow `minimum` and "
            f"`maximum` (at most {max(MAX_INPUT_ROWS // rows, 1):,} sizes for this network)")
    valid, rejected = [], []
    total = maximum - minimum + 1
    for done, size in enumerate(range(minimum, maximum + 1), start=1):
        if progress is not None:
            progress(done - 1, total)
        trial = list(shape)
        for i in varied:
            trial[1 + i] = size
        try:
            layers, warnings = walk_shapes(network.model_copy(update={"input": tuple(trial)}))
        except LayerError as error:
            rejected.append(Rejected(size=size, layer=error.layer, reason=error.message))
            continue
        if warnings:
            first = warnings[0]
            rejected.append(Rejected(size=size, layer=first.layer, reason=first.message))
            continue
        problem = (None if requirement is Requirement.no_warnings
                   else _division_problem(layers, varied, requirement))
        if problem is not None:
            rejected.append(Rejected(size=size, layer=problem[0], reason=problem[1]))
            continue
        valid.append(size)
    if progress is not None:
        progress(total, total)
    return InputSizes(
        network=network.name, input_shape=shape, dims=tuple(names[i] for i in varied),
        requirement=requirement, minimum=minimum, maximum=maximum, valid=tuple(valid),
        rejected=tuple(rejected),
    )
