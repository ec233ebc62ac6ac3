"""The bounds on value-dependent work: the receptive-field walk, the row limit, solve."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc import MAX_LAYERS, LayerError, Report, analyze
from convcalc.analysis import count_rows
from convcalc.geometry import IndexMap, TransposedWindowMap, WindowMap
from convcalc.layers.containers import Sequential
from convcalc.receptive_field import MAX_FIELD_LOOKUPS, AxisField
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
