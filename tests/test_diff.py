"""Differences between two reports: matching by name, statuses, order and totals."""

from __future__ import annotations

import pytest

from convcalc import analyze, parse_network
from convcalc.diff import diff_reports
from convcalc.results import Report

SMALL = """name: small
input: 3x32x32
layers:
  - {type: conv, name: c1, filters: 8, kernel: 3, padding: 1}
  - relu
  - {type: conv, name: c2, filters: 8, kernel: 3, padding: 1}
  - global_avgpool
  - {type: linear, name: fc, units: 10}
"""
# c1 widened to 16 filters, c2 replaced by a 2×2 max pool.
CHANGED = """name: small2
input: 3x32x32
layers:
  - {type: conv, name: c1, filters: 16, kernel: 3, padding: 1}
  - relu
  - {type: maxpool, name: pool, kernel: 2}
  - global_avgpool
  - {type: linear, name: fc, units: 10}
"""


def report(text: str, batch: int = 1) -> Report:
    return analyze(parse_network(text, "test").network, batch=batch)


def test_rows_match_by_name_in_the_second_networks_order() -> None:
    """c2 is removed where it stood, pool added; the rest changed by the wider c1."""
    diff = diff_reports(report(SMALL), report(CHANGED))
    assert [(r.name, r.status) for r in diff.rows] == [
        ("c1", "changed"), ("relu1", "changed"), ("c2", "removed"), ("pool", "added"),
        ("global_avgpool1", "changed"), ("fc", "changed")]


def test_changed_rows_name_the_fields() -> None:
    """Widening c1 from 8 to 16 filters doubles its params 224 → 448 and its MACs."""
    diff = diff_reports(report(SMALL), report(CHANGED))
    c1 = diff.rows[0]
    assert c1.changed == ("output_shape", "params", "macs", "flops", "activation_bytes")
    assert (c1.a.params, c1.b.params) == (224, 448)  # type: ignore[union-attr]
    assert (c1.a.macs, c1.b.macs) == (8 * 32 * 32 * 27, 16 * 32 * 32 * 27)  # type: ignore[union-attr]
    fc = diff.rows[-1]
    assert fc.changed == ("input_shape", "params", "macs", "flops")
    assert (fc.a.params, fc.b.params) == (8 * 10 + 10, 16 * 10 + 10)  # type: ignore[union-attr]


def test_totals_absolute_and_relative() -> None:
    """Params 898 → 618 (−280, −31.2 %); MACs 811,088 → 442,528; memory +49,184 B."""
    totals = diff_reports(report(SMALL), report(CHANGED)).totals
    assert (totals.params.before, totals.params.after, totals.params.change) == (898, 618, -280)
    assert totals.params.relative == pytest.approx(-280 / 898)
    assert (totals.macs.before, totals.macs.after) == (811_088, 442_528)
    assert totals.activation_bytes.change == 49_184
    assert totals.non_trainable_params.relative is None
    assert totals.aux is None


def test_identical_networks_have_no_changes() -> None:
    """A network against itself: every row unchanged, every total change 0."""
    diff = diff_reports(report(SMALL), report(SMALL))
    assert {r.status for r in diff.rows} == {"unchanged"}
    assert diff.shown() == ()
    assert len(diff.shown(everything=True)) == 5
    assert all(t.change == 0 for _, t in diff.totals.items())


def test_rows_only_in_the_first_come_first_when_nothing_precedes_them() -> None:
    """A layer removed from the front is listed before the first row of the second."""
    first = "input: 1x8\nlayers:\n  - {type: pad, name: p, padding: 1}\n  - relu\n"
    second = "input: 1x8\nlayers:\n  - relu\n"
    diff = diff_reports(report(first), report(second))
    assert [(r.name, r.status) for r in diff.rows] == [("p", "removed"), ("relu1", "changed")]


def test_containers_and_receptive_fields_are_compared() -> None:
    """A residual's subtotal row changes with its child; a bigger kernel widens the field."""
    first = ("input: 2x8x8\nlayers:\n  - {type: residual, name: block, layers: "
             "[{type: conv, name: c, filters: 2, kernel: 3, padding: 1}]}\n")
    diff = diff_reports(report(first), report(first.replace("kernel: 3, padding: 1",
                                                            "kernel: 5, padding: 2")))
    rows = {r.name: r for r in diff.rows}
    assert rows["block"].status == "changed"
    assert rows["block.c"].changed == ("params", "macs", "flops", "receptive_field")
    assert diff.receptive_fields[0].size == (3, 3)  # type: ignore[union-attr]
    assert diff.receptive_fields[1].size == (5, 5)  # type: ignore[union-attr]


def test_batch_scales_both_sides() -> None:
    """With batch 4, both networks' MACs are for 4 samples."""
    diff = diff_reports(report(SMALL, 4), report(CHANGED, 4))
    macs = diff.totals.macs
    assert (macs.before, macs.after, diff.batch) == (4 * 811_088, 4 * 442_528, 4)


def test_aux_totals_compare_a_head_against_none() -> None:
    """A network with an aux head against one without: the head's sums against 0."""
    plain = "input: [4]\nlayers:\n  - {type: linear, name: fc, units: 2}\n"
    headed = ("input: [4]\nlayers:\n  - {type: aux, name: head, layers: [{type: linear, "
              "name: h, units: 3}]}\n  - {type: linear, name: fc, units: 2}\n")
    totals = diff_reports(report(plain), report(headed)).totals
    assert totals.aux is not None
    # The head: 4 inputs to 3 units, 4·3 + 3 = 15 parameters and 12 MACs, none before.
    assert (totals.aux.params.before, totals.aux.params.after) == (0, 15)
    assert (totals.aux.macs.change, totals.aux.macs.relative) == (12, None)
    assert totals.params.change == 15 and totals.macs.change == 0


def test_folded_reports_diff_by_their_containers() -> None:
    """Folded to depth 0, a residual's child rows drop out and its row alone changes."""
    first = ("input: 2x8x8\nlayers:\n  - {type: residual, name: block, layers: "
             "[{type: conv, name: c, filters: 2, kernel: 3, padding: 1}]}\n")
    second = first.replace("kernel: 3, padding: 1", "kernel: 5, padding: 2")
    diff = diff_reports(report(first).folded(0), report(second).folded(0))
    assert [(r.name, r.status) for r in diff.rows] == [("block", "changed")]
    # Params of c: 2·(2·3·3) + 2 = 38 before, 2·(2·5·5) + 2 = 102 after.
    assert (diff.totals.params.before, diff.totals.params.after) == (38, 102)
