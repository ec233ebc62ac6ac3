"""The receptive-field probe, one line per slab, against the probe it replaced: full slabs.

The old probe ran, for each spatial dim d, one item per input position b holding ones at
b along d and at every position of the other dims, through the whole network: W_d times
the network's volume. The new one keeps, per path through the merges, a line along d and
the path's sets along the other dims (probe.py). Both must find the same supports for
every row, every dim and every unit, and the same coverage at a layer that mixes all
positions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from test_verify import SYNTHETIC

from convcalc.analysis import analyze
from convcalc.errors import InputError
from convcalc.layers.channels import ChannelShuffle, Slice
from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.dense import Flatten, Linear
from convcalc.layers.elementwise import (
    Activation,
    Dropout,
    Elu,
    LayerScale,
    LeakyRelu,
    Prelu,
    StochasticDepth,
)
from convcalc.layers.norm import BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from convcalc.layers.pool import GlobalPool
from convcalc.loader import parse_network
from convcalc.reference import kernels
from convcalc.reference.field import Supports
from convcalc.reference.lookup import layer_op
from convcalc.reference.ops._window import spatial_per_dim, window_options
from convcalc.reference.plan import Block, GraphBlock, Leaf, Merge, Node, build_plan
from convcalc.reference.probe import ProbePass, resolve_shared
from convcalc.reference.verify import MAX_CHECKED_UNITS, MAX_PROBE_WORK, verify

_GLOBAL = object()
# The oracle's own lists: layers that move no position (the channel layers move channels
# alone), layers that mix them all.
ELEMENTWISE = (Activation, LeakyRelu, BatchNorm, Dropout, LayerNorm, GroupNorm, InstanceNorm,
               Elu, Prelu, LayerScale, StochasticDepth, ChannelShuffle, Slice)
MIXES_ALL_POSITIONS = (Flatten, Linear, GlobalPool)


class _FullProbe:
    """The old probe: whole slabs through the network's full-rank layers (the oracle)."""

    def __init__(self, dim: int, width: int) -> None:
        self.dim, self.width = dim, width
        self.supports: dict[int, Supports] = {}
        self.covered: dict[int, np.ndarray] = {}

    def input(self, spatial: tuple[int, ...]) -> np.ndarray:
        x = np.zeros((self.width, 1, *spatial), np.float32)
        for item in range(self.width):
            index: list[Any] = [item, 0] + [slice(None)] * len(spatial)
            index[2 + self.dim] = item
            x[tuple(index)] = 1
        return x

    def nodes(self, nodes: Sequence[Node], x: Any) -> Any:
        for node in nodes:
            if isinstance(node, GraphBlock):
                x = self.graph(node, x)
            else:
                x = self.block(node, x) if isinstance(node, Block) else self.leaf(node, x)
        return x

    def graph(self, block: GraphBlock, x: Any) -> Any:
        # every value kept by name: each step reads the ones it names
        values = {"input": x}
        for step in block.steps:
            inputs = [values[name] for name in step.reads]
            values[step.name] = (self.joined(step.merge, inputs) if step.merge is not None
                                 else self.nodes(step.nodes, inputs[0]))
        return values[block.output]

    def block(self, block: Block, x: Any) -> Any:
        outputs = [self.nodes(body, x) if body else x for body in block.bodies]
        if block.aux:  # the head's output leaves; the main path goes on with x
            return x
        if block.merge is None:
            return self.nodes(block.after, outputs[0])
        return self.nodes(block.after, self.joined(block.merge, outputs))

    def joined(self, merge: Merge, outputs: list[Any]) -> Any:
        if merge.kind == "mul":
            # a branch broadcast along the probed dim is held fixed: left out of the union
            axis = 2 + self.dim
            longest = max(out.shape[axis] for out in outputs if out is not _GLOBAL)
            outputs = [out for out in outputs if out is not _GLOBAL
                       and not out.shape[axis] == 1 < longest]
            outputs = [np.ascontiguousarray(out) for out in np.broadcast_arrays(*outputs)]
        if any(out is _GLOBAL for out in outputs):
            return _GLOBAL
        y = (kernels.add(*outputs) > 0).astype(np.float32)
        self.read(merge.index, y)
        return y

    def leaf(self, leaf: Leaf, x: Any) -> Any:
        if x is _GLOBAL:
            return _GLOBAL
        layer = leaf.layer
        if isinstance(layer, ELEMENTWISE):
            y = x
        elif isinstance(layer, Conv):
            options = window_options(layer, x.shape[2:])
            y = kernels.conv(x, np.ones((1, 1, *options.kernel), np.float32), None,
                             options.stride, options.dilation, options.pad_before,
                             options.pad_after, 1)[0]
        elif isinstance(layer, ConvTranspose):
            options = window_options(layer, x.shape[2:], crops=True)
            y = kernels.conv_transpose(x, np.ones((1, 1, *options.kernel), np.float32), None,
                                       options.stride, options.dilation, options.pad_before,
                                       spatial_per_dim(layer.output_padding, x.ndim - 2), 1)[0]
        elif isinstance(layer, Linear):
            y = kernels.linear(x, np.ones((1, x.shape[-1]), np.float32), None)[0]
        else:
            y = layer_op(layer).run(layer, x, None, leaf.index)[0]  # no weights
        if isinstance(layer, MIXES_ALL_POSITIONS):
            self.covered[leaf.index] = np.stack([
                np.any(a.reshape(a.shape[0], -1) > 0, axis=1) for a in (x, y)])
            return _GLOBAL
        y = (y > 0).astype(np.float32)
        self.read(leaf.index, y)
        return y

    def read(self, index: int, y: np.ndarray) -> None:
        others = tuple(axis for axis in range(1, y.ndim) if axis != 2 + self.dim)
        reached = np.any(y > 0, axis=others)
        self.supports[index] = Supports.empty(reached.shape[1])
        self.supports[index].add(reached, 0)


# A branch that reads only padding along W (length 1) merged with one that does not:
# along H only the live branch's positions count.
MIXED_BRANCHES = """
input: 1x12x1
layers:
  - type: parallel
    merge: add
    branches:
      - [{type: conv, filters: 1, kernel: [1, 1]}]
      - [{type: maxpool, kernel: [3, 2], stride: 1, dilation: [1, 2], padding: 1}]
  - {type: conv, filters: 1, kernel: [3, 1], dilation: 2}
"""

NETWORKS = {**SYNTHETIC, "mixed_branches": MIXED_BRANCHES}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_the_line_probe_finds_what_full_slabs_find(name: str) -> None:
    """Every row's supports along every dim, and every coverage, equal the old probe's."""
    net = parse_network(NETWORKS[name]).network
    report = analyze(net)
    plan = build_plan(net, report)
    widths = tuple(report.input_shape[1:])
    for dim, width in enumerate(widths):
        full = _FullProbe(dim, width)
        full.nodes(plan, full.input(widths))
        supports: dict[int, Supports] = {}
        covered: dict[int, np.ndarray] = {}
        for start in range(0, width, 7):  # in chunks, as verify runs it
            line = ProbePass(dim, start, min(start + 7, width), widths, supports, covered,
                             lambda: None)
            line.nodes(plan, line.input())
        resolve_shared(supports, line.shared, width)
        assert sorted(supports) == sorted(full.supports)
        for index, expected in full.supports.items():
            found = supports[index]
            assert np.array_equal(found.reached, expected.reached), (name, dim, index)
            reached = expected.reached
            assert np.array_equal(found.first[reached], expected.first[reached])
            assert np.array_equal(found.last[reached], expected.last[reached])
        assert sorted(covered) == sorted(full.covered)
        for index, expected in full.covered.items():
            assert np.array_equal(covered[index], expected)


def test_the_mixed_branches_case_needs_two_terms() -> None:
    """Along H, the branch that reads only padding along W is dropped: the merge's units
    see only themselves, as on full slabs (the calculator's per-dim windows, which do not
    know the branch reads nothing, differ there: verify reports it, as it did before)."""
    net = parse_network(MIXED_BRANCHES).network
    report = analyze(net)
    plan = build_plan(net, report)
    supports: dict[int, Supports] = {}
    probe = ProbePass(0, 0, 12, (12, 1), supports, {}, lambda: None)
    probe.nodes(plan, probe.input())
    merge = supports[2]
    assert merge.first.tolist() == list(range(12)) == merge.last.tolist()


def test_elementwise_rows_cost_nothing_in_the_probe() -> None:
    """Fifty relus on 1×20000 share the input's supports: the probe takes well under the
    old second per row (it ran every row on 20,000 slabs of 20,000 values)."""
    net = parse_network("input: 1x20000\nlayers:\n" + "  - relu\n" * 50).network
    report = analyze(net)
    plan = build_plan(net, report)
    supports: dict[int, Supports] = {}
    started = time.perf_counter()
    probe = ProbePass(0, 0, 100, (20000,), supports, {}, lambda: None)
    probe.nodes(plan, probe.input())
    resolve_shared(supports, probe.shared, 20000)
    assert time.perf_counter() - started < 1.0
    assert supports[0] is supports[49]
    assert supports[0].first.tolist() == list(range(20000))


def test_a_probe_above_its_work_bound_is_refused_before_running() -> None:
    """1×200000 through a K3 conv: 200,000 slabs × (their line of 200,000 + (200,000 +
    199,998 units) × 3 taps) is about 2.8·10¹¹ steps, above the bound: an input error
    naming it, nothing run."""
    net = parse_network("input: 1x200000\nlayers:\n  - {type: conv, filters: 1, kernel: 3}\n"
                        ).network
    with pytest.raises(InputError) as caught:
        verify(net, analyze(net))
    assert MAX_PROBE_WORK == 20_000_000_000
    assert str(caught.value) == (
        "the receptive-field probe would take about 2.8e+11 steps for the 1×200000 input "
        "(one pass per input position along each spatial dim), more than the 2e+10 "
        "allowed: give the network a shorter input")


def test_checks_above_their_unit_bound_are_refused_before_running() -> None:
    """1×100 upsampled 1000× then 100 K3 P1 convs: 100,000 + 100·100,000 = 10,100,000
    units to compare, above the 10⁷ bound."""
    net = parse_network("input: 1x100\nlayers:\n  - {type: upsample, scale: 1000}\n"
                        + "  - {type: conv, filters: 1, kernel: 3, padding: 1}\n" * 100
                        ).network
    assert MAX_CHECKED_UNITS == 10_000_000
    with pytest.raises(InputError, match="verify would compare 10,100,000 output units"):
        verify(net, analyze(net))


def test_a_row_that_passes_its_input_on_shares_its_check() -> None:
    """Fifty relus after a conv on 1×3000: every relu's field measurement is the conv's,
    and each is checked against its own printed field."""
    net = parse_network("input: 1x3000\nlayers:\n  - {type: conv, filters: 1, kernel: 5}\n"
                        + "  - relu\n" * 50).network
    result = verify(net, analyze(net))
    assert result.ok
    fields = {check.receptive_field.measured for check in result.layers}
    assert len(fields) == 1


def test_more_paths_than_the_bound_are_refused_before_the_slabs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The mixed-branches network needs two paths along H; with the bound at one, verify
    refuses after its pass with no slab, naming the count."""
    monkeypatch.setattr("convcalc.reference.verify.MAX_PROBE_TERMS", 1)
    net = parse_network(MIXED_BRANCHES).network
    with pytest.raises(InputError) as caught:
        verify(net, analyze(net))
    assert str(caught.value) == (
        "the receptive-field probe would follow 2 paths of different extents at once for the "
        "1×12×1 input, more than the 1 allowed: the branches of the network's merges reach "
        "different positions")
