"""verify's memory estimate against what its passes really allocate, op by op.

How the peaks are measured: every array the kernels and passes allocate is made by numpy
(each op hands its compiled loop its output, scratch and tables; nothing of size is
allocated inside numba code), and numpy reports its allocations to `tracemalloc`, so the
traced peak is every byte of every array, plus the Python objects made on the way.
numba's own allocator (NRT) does not report to tracemalloc: what is left there is the
parallel scheduler's and reductions' few words per thread and call, not counted.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from convcalc.analysis import analyze
from convcalc.loader import parse_network
from convcalc.reference.memory import (
    ROW_RECORD_BYTES,
    TAP_TABLE_BYTES,
    WINDOW_BOUND_BYTES,
    MemoryEstimate,
    estimate_memory,
)
from convcalc.reference.ops.pool import adaptive_bounds
from convcalc.reference.ops.resample import tap_tables
from convcalc.reference.plan import build_plan
from convcalc.reference.values import ValuePass
from convcalc.reference.verify import verify
from convcalc.results import Report
from convcalc.spec import Network

# Every layer type and merge verify runs, each after a conv that gives it 3 channels.
OPS = {
    "conv": "{type: conv, filters: 5, kernel: 3, padding: 2, stride: 2}",
    "conv_dilated_no_bias": "{type: conv, filters: 4, kernel: 3, dilation: 2, bias: false}",
    "conv_grouped": "{type: conv, filters: 6, kernel: 1, groups: 3}",
    "conv_transpose": "{type: conv_transpose, filters: 4, kernel: 3, stride: 2, padding: 1, "
                      "output_padding: 1}",
    "conv_transpose_no_bias": "{type: conv_transpose, filters: 2, kernel: 2, stride: 3, "
                              "bias: false}",
    "maxpool": "{type: maxpool, kernel: 3, stride: 2, padding: 1, ceil_mode: true}",
    "avgpool": "{type: avgpool, kernel: 2, count_include_pad: false}",
    "adaptive_avgpool": "{type: adaptive_avgpool, output: 3}",
    "adaptive_maxpool": "{type: adaptive_maxpool, output: 5}",
    "global_avgpool": "global_avgpool",
    "global_maxpool": "global_maxpool",
    "pad": "{type: pad, padding: 3}",
    "upsample_nearest": "{type: upsample, scale: 2}",
    "upsample_linear_size": "{type: upsample, size: 7, mode: linear}",
    "batchnorm": "batchnorm",
    "dropout": "dropout",
    "identity": "identity",
    "relu": "relu",
    "relu6": "relu6",
    "leaky_relu": "{type: leaky_relu, negative_slope: 0.1}",
    "gelu": "gelu",
    "silu": "silu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "hardswish": "hardswish",
    "softmax": "softmax",
    "hardsigmoid": "hardsigmoid",
    "mish": "mish",
    "elu": "{type: elu, alpha: 0.5}",
    "prelu": "prelu",
    "prelu_per_channel": "{type: prelu, per_channel: true}",
    "layer_scale": "layer_scale",
    "stochastic_depth": "{type: stochastic_depth, p: 0.2}",
    "flatten": "flatten",
    "linear": "{type: linear, units: 7}",
    "linear_no_bias": "{type: linear, units: 3, bias: false}",
    "add": "{type: residual, layers: [{type: conv, filters: 3, kernel: 3, padding: 1}]}",
    "concat": "{type: parallel, branches: [[], [{type: maxpool, kernel: 3, stride: 1, "
              "padding: 1}]]}",
    "channel_shuffle": "{type: channel_shuffle, groups: 3}",
    "slice": "{type: slice, channels: [1, 3]}",
    "conv_depthwise": "{type: conv, filters: 6, kernel: 3, groups: depthwise}",
    "layernorm": "layernorm",
    "groupnorm": "{type: groupnorm, groups: 3}",
    "instancenorm": "{type: instancenorm, affine: true, track_running_stats: true}",
    "instancenorm_batch_statistics": "instancenorm",
    "mul": "{type: parallel, merge: mul, branches: [[], [{type: adaptive_avgpool, output: 1}, "
           "sigmoid]]}",
    "after": "{type: residual, layers: [relu], after: [relu]}",
    "aux": "{type: aux, layers: [global_avgpool, flatten, {type: linear, units: 4}]}",
    "graph": "{type: graph, nodes: [{type: conv, name: a, filters: 3, kernel: 3, padding: 1}, "
             "{type: maxpool, name: p, kernel: 3, stride: 1, padding: 1, from: [input]}, "
             "{type: add, name: m, from: [a, p]}, {type: relu, name: r}, "
             "{type: concat, name: c, from: [r, input, a]}]}",
}
SHAPES = ["1x900", "2x24x20", "1x5x6x7"]


def _network(op: str, shape: str) -> Network:
    """Return a network of ``shape``: a conv to 3 channels, then ``op``."""
    text = (f"input: {shape}\nlayers:\n  - {{type: conv, filters: 3, kernel: 1}}\n"
            f"  - {OPS[op]}\n")
    if op in ("linear", "linear_no_bias"):
        text = text.replace("  - {type: linear", "  - flatten\n  - {type: linear")
    return parse_network(text).network


@contextmanager
def _traced() -> Iterator[list[int]]:
    """Yield a list that afterwards holds the traced peak, above what was alive before."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        yield peak
        peak.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()


def _value_pass(net: Network, report: Report) -> None:
    values = ValuePass(0, lambda: None)
    values.nodes(build_plan(net, report), values.input((report.batch, *report.input_shape)))


def _estimate(net: Network, report: Report) -> MemoryEstimate:
    return estimate_memory(build_plan(net, report), report)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", sorted(OPS))
def test_the_estimate_covers_the_measured_peak(op: str, shape: str) -> None:
    """Per op and shape, the value pass's traced peak and the whole run's (probe in tight
    chunks, checks) stay within the estimate."""
    net = _network(op, shape)
    report = analyze(net, batch=2)
    estimate = _estimate(net, report)
    _value_pass(net, report)  # compile outside the trace
    with _traced() as value_peak:
        _value_pass(net, report)
    assert value_peak[0] <= estimate.value_bytes
    # a limit that fits a few slabs: the probe's chunks and its fixed part are tested
    limit = estimate.probe_fixed_bytes + 5 * estimate.slab_bytes + estimate.value_bytes
    verify(net, report, max_memory=limit)
    with _traced() as run_peak:
        result = verify(net, report, max_memory=limit)
    assert result.ok
    assert run_peak[0] <= estimate.peak(limit)


def test_the_table_sizes_are_the_kernels() -> None:
    """The estimate's bytes per output index of a resampling or adaptive pooling table are
    what the kernels' tables take."""
    index, weight = tap_tables(10, 25, 0.4, True)
    assert index.nbytes + weight.nbytes == 25 * TAP_TABLE_BYTES
    start, end = adaptive_bounds(10, 4)
    assert start.nbytes + end.nbytes == 4 * WINDOW_BOUND_BYTES


def test_a_long_upsampling_counts_its_tap_tables() -> None:
    """1×10⁸ upsampled 2×: input 400 MB, output 800 MB, and tap tables of 32 B per output
    index (6.4 GB), and the row's record: about 7.6 GB, not the 1.2 GB of the arrays."""
    net = parse_network("input: 1x100000000\nlayers:\n  - {type: upsample, scale: 2}\n").network
    estimate = _estimate(net, analyze(net))
    arrays = 4 * 100_000_000 + 4 * 200_000_000
    tables = TAP_TABLE_BYTES * (200_000_000 + 2)
    assert estimate.value_bytes == arrays + tables + ROW_RECORD_BYTES


def test_the_probe_memory_is_linear_in_the_side() -> None:
    """One slab of 3×1024×1024 through a K3 conv is one line of 1,024 values, not a plane."""
    net = parse_network("input: 3x1024x1024\nlayers:\n  - {type: conv, filters: 8, kernel: 3, "
                        "padding: 1}\n  - relu\n").network
    estimate = _estimate(net, analyze(net))
    # slab 4,096 B + output 4,096 B + the padded line twice, 2·1,026·4 B
    assert estimate.slab_bytes == 4_096 + 4_096 + 8_208
    assert np.isfinite(estimate.peak(2 * 1024**3))
