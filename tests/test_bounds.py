"""The bounds on value-dependent work: the receptive-field walk, the row limit, solve."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc import MAX_LAYERS, InputError, LayerError, Report, analyze
from convcalc.analysis import MAX_FULL_NAME, count_rows, walk_shapes
from convcalc.common import dim_names
from convcalc.geometry import IndexMap, TransposedWindowMap, WindowMap
from convcalc.layers.base import MAX_SIZE
from convcalc.layers.containers import Sequential
from convcalc.layers.window import Window, WindowKind, resolve_window
from convcalc.receptive_field import MAX_FIELD_LOOKUPS, AxisField
from convcalc.solve import (
    MAX_CANDIDATES,
    MAX_INPUT_ROWS,
    _layer,
    solve_inputs,
    solve_same,
    solve_window,
)
from convcalc.spec import Network


def run(input_shape: list[int], layers: list[Any]) -> Report:
    """Return the report of a network given as plain data."""
    return analyze(Network.model_validate({"input": input_shape, "layers": layers}))


def through_every_tap(field: AxisField, index_map: IndexMap) -> AxisField:
    """Return ``field.through(index_map)`` the slow way: every unit, every tap looked up."""
    period_out, period_in = index_map.period
    turns = field.period // math.gcd(period_in, field.period)
    period = period_out * turns
    lefts, rights = [], []
    for unit in range(period):
        reads = index_map.reads(unit)
        if not reads:
            left = field.edges(index_map.span(unit)[0])[0]
            lefts.append(left)
            rights.append(left - 1)
            continue
        seen = [field.edges(x) for x in reads]
        nonempty = [(lo, hi) for lo, hi in seen if lo <= hi]
        if not nonempty:
            lefts.append(seen[0][0])
            rights.append(seen[0][0] - 1)
            continue
        lefts.append(min(lo for lo, _ in nonempty))
        rights.append(max(hi for _, hi in nonempty))
    shift = period_in * turns // field.period * field.shift
    return AxisField(period, shift, tuple(lefts), tuple(rights))


# ------------------------------------------------------------------ the field walk


def test_huge_kernel_after_a_transposed_conv_is_computed_in_closed_form() -> None:
    """A 2·10⁹-tap conv after a stride-2 transposed conv gets its field at once, exactly.

    By hand: the transposed conv's even outputs read inputs 0, 1 and its odd outputs
    nothing. Output 0 of the conv reads positions −10⁹ … 10⁹ − 1; the even ones among them
    read inputs −5·10⁸ … 5·10⁸ − 1, which is 10⁹ inputs, starting 5·10⁸ before input 0.
    """
    start = time.perf_counter()
    report = run([1, 2], [
        {"type": "conv_transpose", "filters": 1, "kernel": 1, "stride": 2},
        {"type": "conv", "filters": 1, "kernel": 2_000_000_000, "padding": 1_000_000_000},
    ])
    assert time.perf_counter() - start < 1.0
    field = report.layers[1].receptive_field
    assert field is not None
    assert (field.size, field.stride, field.padding) == ((10**9,), (0.5,), (5 * 10**8,))
    assert report.warnings == ()


@settings(max_examples=300, deadline=None)
@given(
    up_kernel=st.integers(1, 7), up_stride=st.integers(1, 6), up_dilation=st.integers(1, 4),
    up_padding=st.integers(0, 3), kernel=st.integers(1, 40), stride=st.integers(1, 4),
    dilation=st.integers(1, 5), padding=st.integers(0, 10),
    transposed=st.booleans(),
)
def test_closed_form_agrees_with_every_tap(
    up_kernel: int, up_stride: int, up_dilation: int, up_padding: int, kernel: int,
    stride: int, dilation: int, padding: int, transposed: bool,
) -> None:
    """Looking up one period of taps gives the same field as looking up every tap."""
    field = AxisField.identity().through(
        TransposedWindowMap(up_kernel, up_stride, up_dilation, up_padding))
    second: IndexMap = (TransposedWindowMap(kernel, stride, dilation, padding) if transposed
                        else WindowMap(kernel, stride, dilation, padding))
    assert field.through(second) == through_every_tap(field, second)


def test_field_lookups_past_the_budget_leave_the_field_untracked() -> None:
    """A field that would take more look-ups than MAX_FIELD_LOOKUPS is untracked, with a warning.

    A stride-4096 transposed conv of kernel 1 leaves 4095 units of each period seeing
    nothing; a 10,001-tap conv then needs 4096 · 2 · 4096 = 33,554,432 look-ups, past
    2²³ = 8,388,608. The shapes and counts are still computed.
    """
    assert MAX_FIELD_LOOKUPS == 2**23
    start = time.perf_counter()
    report = run([1, 4], [
        {"type": "conv_transpose", "filters": 1, "kernel": 1, "stride": 4096, "name": "up"},
        {"type": "conv", "filters": 1, "kernel": 10_001, "padding": 5000, "name": "wide"},
        "relu",
    ])
    assert time.perf_counter() - start < 2.0
    assert report.layers[0].receptive_field is not None
    assert report.layers[1].receptive_field is None
    assert report.layers[2].receptive_field is None
    assert report.layers[1].output_shape == (1, 3 * 4096 + 1)
    assert [(w.layer, w.message) for w in report.warnings] == [(
        "wide",
        "the receptive field takes more than 8,388,608 look-ups to track (a long period "
        "with many layers or wide kernels); it is not reported from here on",
    )]


def test_a_field_within_the_budget_is_tracked() -> None:
    """The same network with a 1,023-tap conv costs 4096 · 2 · 1023 look-ups and is tracked."""
    report = run([1, 4], [
        {"type": "conv_transpose", "filters": 1, "kernel": 1, "stride": 4096},
        {"type": "conv", "filters": 1, "kernel": 1023, "padding": 511},
    ])
    field = report.layers[1].receptive_field
    # Output 0 reads positions −511 … 511; only position 0 is an input (input 0).
    assert field is not None and field.size == (1,) and field.padding == (0,)
    assert report.warnings == ()


# ------------------------------------------------------------------ the row limit


def test_row_limit_is_checked_before_the_walk() -> None:
    """A network one row past MAX_LAYERS is refused at once, naming both numbers."""
    assert MAX_LAYERS == 100_000
    # 49,999 turns × (relu + turn subtotal) + the outer subtotal = 99,999 rows: allowed;
    # 50,000 turns give 100,001.
    fits = Network.model_validate({"input": [1, 8], "layers": [
        {"type": "sequential", "repeat": 49_999, "layers": ["relu"]}]})
    assert count_rows(fits.layers) == 99_999
    start = time.perf_counter()
    with pytest.raises(LayerError) as raised:
        run([1, 8], [{"type": "sequential", "repeat": 50_000, "layers": ["relu"]}])
    assert time.perf_counter() - start < 1.0
    assert raised.value.message == (
        "the network expands to 100,001 rows (layers, merges and container subtotals, "
        "repeats included), past the limit of 100,000; lower a 'repeat'")


def test_count_rows_counts_a_shared_container_every_time_it_appears() -> None:
    """A container shared by reference (a YAML alias) counts once per place it appears."""
    block = Sequential.model_validate({"type": "sequential", "repeat": 2, "layers": [
        {"type": "relu"}]})  # 2 · (1 + 1) + 1 = 5 rows
    outer = Sequential(type="sequential", layers=[block, block, block])  # 15 + 1
    assert count_rows([outer, block]) == 21


# ------------------------------------------------------------------ solve


def every_setting(kind: WindowKind, size: int, output: int, max_kernel: int, max_stride: int,
                  max_dilation: int, max_padding: int | None,
                  ceil_mode: bool) -> set[tuple[int, int, int, int, int]]:
    """Return every (k, s, p, d, output padding) mapping size → output, by trying them all."""
    found = set()
    pooling = kind in (WindowKind.maxpool, WindowKind.avgpool)
    dilations = range(1, 2) if kind is WindowKind.avgpool else range(1, max_dilation + 1)
    for k in range(1, max_kernel + 1):
        for d in dilations:
            if k == 1 and d > 1:
                continue
            extent = d * (k - 1) + 1
            limit = (k // 2 if pooling else extent - 1) if max_padding is None else max_padding
            for s in range(1, max_stride + 1):
                extras = range(max(s, d)) if kind is WindowKind.conv_transpose else range(1)
                for p in range(limit + 1):
                    for extra in extras:
                        layer = _layer(kind, k, s, p, d, ceil_mode, extra)
                        try:
                            out = layer.apply((1, size)).output_shape[1]
                        except LayerError:
                            continue
                        if out == output:
                            found.add((k, s, p, d, extra))
    return found


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(WindowKind), size=st.integers(1, 20), output=st.integers(1, 30),
       max_kernel=st.integers(1, 6), max_stride=st.integers(1, 6),
       max_dilation=st.integers(1, 3), max_padding=st.none() | st.integers(0, 8),
       ceil_mode=st.booleans())
def test_worked_out_paddings_agree_with_trying_every_one(
    kind: WindowKind, size: int, output: int, max_kernel: int, max_stride: int,
    max_dilation: int, max_padding: int | None, ceil_mode: bool,
) -> None:
    """The paddings solve works out are exactly those that trying every padding finds."""
    ceil_mode = ceil_mode and kind in (WindowKind.maxpool, WindowKind.avgpool)
    result = solve_window(size, output, kind, max_kernel=max_kernel, max_stride=max_stride,
                          max_dilation=max_dilation, max_padding=max_padding,
                          ceil_mode=ceil_mode)
    got = {(f.kernel, f.stride, f.padding, f.dilation, f.output_padding)
           for f in result.solutions}
    assert got == every_setting(kind, size, output, max_kernel, max_stride, max_dilation,
                                max_padding, ceil_mode)
    assert len(got) == len(result.solutions)


def test_transposed_search_does_not_grow_with_the_square_of_the_stride() -> None:
    """A 100,000-stride transposed search takes about a second, not minutes.

    By hand: (56 − 1)·S − 2P + 2 + x = 28 with P ≤ 2 and x < S has no solution once
    55·S + 2 > 32, so none at all (S = 1 gives 57 + x − 2P ≥ 53).
    """
    start = time.perf_counter()
    result = solve_window(56, 28, WindowKind.conv_transpose, kernel=3, max_dilation=1,
                          max_stride=100_000)
    assert time.perf_counter() - start < 5.0
    assert result.solutions == ()
    assert result.strides == (1, 100_000)


def test_a_huge_stride_is_worked_out_not_counted_up_to() -> None:
    """--stride 10⁹ answers at once: 28 windows of stride 10⁹ need 2P ≥ 27·10⁹ − 56."""
    start = time.perf_counter()
    assert solve_window(56, 28, stride=10**9).solutions == ()
    assert solve_window(56, 28, WindowKind.conv_transpose, stride=10**9).solutions == ()
    # One window does fit: out 1 from 56 with a 3-tap kernel, P = 0 (floor(53/10⁹) + 1).
    one = solve_window(56, 1, stride=10**9, kernel=3, max_dilation=1)
    assert [(f.kernel, f.padding) for f in one.solutions] == [(3, 0), (3, 1), (3, 2)]
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(("call", "message"), [
    (lambda: solve_window(56, 28, stride=MAX_SIZE + 1),
     "`stride` must be at most 2,147,483,647 (the largest value a layer takes), got "
     "2147483648"),
    (lambda: solve_window(56, 28, kernel=10**400),
     "`kernel` must be at most 2,147,483,647 (the largest value a layer takes), got an integer "
     "of about 400 digits"),
    (lambda: solve_window(56, 28, max_padding=MAX_SIZE + 1),
     "`max_padding` must be at most 2,147,483,647 (the largest value a layer takes), got "
     "2147483648"),
    (lambda: solve_window(MAX_SIZE + 1, 28),
     "`size` must be at most 2,147,483,647 (the largest value a layer takes), got "
     "2147483648"),
    (lambda: solve_window(56, 28, max_padding=-1), "`max_padding` must be at least 0, got -1"),
    (lambda: solve_same(7, 3, MAX_SIZE + 1),
     "`stride` must be at most 2,147,483,647 (the largest value a layer takes), got "
     "2147483648"),
    # Σ over S = 1 … 10,000 of the paddings between (26·S + 3 − 56)/2 and (28·S + 3 − 56)/2.
    (lambda: solve_window(56, 28, kernel=3, max_dilation=1, max_stride=10_000,
                          max_padding=MAX_SIZE),
     "the bounds leave 50,004,999 settings to check, past the limit of 100,000; fix `kernel`, "
     "`stride` or `dilation`, or lower `max_padding`"),
])
def test_solve_values_out_of_range(call: Any, message: str) -> None:
    """Values a layer cannot take, and searches past MAX_CANDIDATES, are refused at once."""
    assert MAX_CANDIDATES == 100_000
    start = time.perf_counter()
    with pytest.raises(InputError) as caught:
        call()
    assert time.perf_counter() - start < 1.0
    assert str(caught.value) == message


def conv_stack(repeat: int) -> Network:
    """Return ``repeat`` turns of a padded 3×3 conv and a relu on a 3×64×64 input."""
    return Network.model_validate({"input": [3, 64, 64], "layers": [
        {"type": "sequential", "repeat": repeat, "layers": [
            {"type": "conv", "filters": 8, "kernel": 3, "padding": 1}, "relu"]}]})


def test_solve_inputs_stops_at_the_row_bound_before_work() -> None:
    """Sizes × rows past MAX_INPUT_ROWS is refused at once, saying how many sizes fit."""
    assert MAX_INPUT_ROWS == 1_000_000
    network = conv_stack(2000)  # 2000 · (2 + 1) + 1 = 6,001 rows
    start = time.perf_counter()
    with pytest.raises(InputError) as caught:
        solve_inputs(network, 1, 10_000)
    assert time.perf_counter() - start < 1.0
    assert caught.value.message == (
        "trying 10,000 sizes on a network of 6,001 rows walks 60,010,000 rows, past the limit "
        "of 1,000,000; narrow `minimum` and `maximum` (at most 166 sizes for this network)")
    assert len(solve_inputs(network, 1, 166).valid) == 166


def test_solve_inputs_reports_progress() -> None:
    """The progress callback hears (done, total) before each size and once at the end."""
    calls: list[tuple[int, int]] = []
    result = solve_inputs(conv_stack(2), 1, 4, progress=lambda done, total: calls.append(
        (done, total)))
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert result.valid == (1, 2, 3, 4)


def test_walk_shapes_matches_analyze() -> None:
    """The shape-only walk gives analyze's layer names, input shapes and warnings."""
    network = Network.model_validate({"input": [3, 34, 34], "layers": [
        {"type": "conv", "filters": 4, "kernel": 3, "stride": 2},
        {"type": "residual", "layers": ["relu"]},
        {"type": "maxpool", "kernel": 2}, "flatten", {"type": "linear", "units": 2}]})
    rows, warnings = walk_shapes(network)
    report = analyze(network)
    assert [(r.name, r.input_shape) for r in rows] == [
        (r.name, r.input_shape) for r in report.layers if not r.container and r.spec]
    assert warnings == report.warnings
    # (34 − 3)/2 = 15.5: conv1 leaves the last row (H) and column (W) unread, one warning.
    assert [w.layer for w in warnings] == ["conv1"]


# ------------------------------------------------------------------ pooling edge windows


def padding_only_by_scanning(window: Window) -> list[str]:
    """Return the padding-only notes the slow way: every window, every tap."""
    notes = []
    for name, size, k, s, d, (before, _), out in zip(
        dim_names(len(window.dims)), window.dims, window.kernel, window.stride,
        window.dilation, window.pads, window.out, strict=True,
    ):
        empty = [o for o in range(out)
                 if not any(0 <= o * s - before + tap * d < size for tap in range(k))]
        if empty:
            notes.append(f"output {', '.join(map(str, empty))} along {name} reads only padding")
    return notes


@settings(max_examples=400, deadline=None)
@given(size=st.integers(1, 12), kernel=st.integers(1, 6), stride=st.integers(1, 4),
       dilation=st.integers(1, 14), padding=st.integers(0, 3) | st.just("same"),
       ceil_mode=st.booleans())
def test_padding_only_windows_agree_with_scanning_every_window(
    size: int, kernel: int, stride: int, dilation: int, padding: int | str, ceil_mode: bool,
) -> None:
    """The windows found to read only padding are those a scan of every tap finds."""
    try:
        window = resolve_window((1, size), "maxpool", kernel, stride, dilation, padding,  # type: ignore[arg-type]
                                ceil_mode)
    except LayerError:
        return
    assert window.padding_only_windows() == padding_only_by_scanning(window)


def test_wide_pool_windows_cost_nothing_per_edge_window() -> None:
    """A 200,000-wide pool padded by 100,000 is not checked window by window (0.25 s a row).

    By hand: stride 1, so windows 0 … 99,999 start in the padding, and each still reaches
    the input (its last tap is at o − 100,000 + 199,999 ≥ 0): no window reads only padding.
    """
    network = Network.model_validate({"input": [1, 1_000_000], "layers": [
        {"type": "sequential", "repeat": 200, "layers": [
            {"type": "maxpool", "kernel": 200_000, "padding": 100_000, "stride": 1}]}]})
    start = time.perf_counter()
    report = analyze(network)
    assert time.perf_counter() - start < 2.0
    assert report.output_shape == (1, 1_000_200)
    assert report.warnings == ()


# ------------------------------------------------------------------ nesting


def nested(levels: int, name: str | None, inner: dict[str, Any]) -> dict[str, Any]:
    """Return ``inner`` wrapped in ``levels`` sequentials, each called ``name``."""
    for _ in range(levels):
        inner = {"type": "sequential", "layers": [inner],
                 **({"name": name} if name else {})}
    return inner


def test_deep_subtotals_are_differences_of_running_sums() -> None:
    """Every level of a deep nest subtotals its rows, without rescanning them per level.

    By hand: 3 turns of a 4→4 3×3 conv (148 params, 16·16·4·36 = 36,864 MACs each) and a
    relu, inside 60 sequentials: every subtotal has 444 params and 110,592 MACs.
    """
    conv = {"type": "conv", "filters": 4, "kernel": 3, "padding": 1}
    inner = {"type": "sequential", "repeat": 3, "layers": [conv, "relu"]}
    report = run([4, 16, 16], [nested(60, None, inner)])
    subtotals = [row for row in report.layers if row.container]
    assert len(subtotals) == 60 + 1 + 3
    assert {(row.params, row.macs) for row in subtotals[-61:]} == {(444, 110_592)}
    assert {(row.params, row.macs) for row in subtotals[:3]} == {(148, 36_864)}
    assert report.totals.params == 444


def test_full_names_past_the_limit_are_refused() -> None:
    """A full name past MAX_FULL_NAME characters is refused, naming it cut short.

    Five 200-character names joined by four dots make 1,004 characters.
    """
    assert MAX_FULL_NAME == 1_000
    with pytest.raises(LayerError) as raised:
        run([1, 8], [nested(5, "n" * 200, {"type": "relu"})])
    assert raised.value.message == (
        "the layer's full name (its containers' names and its own, joined by dots) is 1,004 "
        "characters long, past the limit of 1,000; shorten the names or nest less")
    assert raised.value.layer == ".".join(["n" * 200] * 5)  # cut once, when described
    assert f"layer '{'n' * 60}…' (1,004 characters): the layer's" in raised.value.describe()
    assert raised.value.location == ("layers", 0, "layers", 0, "layers", 0, "layers", 0,
                                     "layers", 0)
    assert len(run([1, 8], [nested(4, "n" * 200, {"type": "relu"})]).layers) == 5
