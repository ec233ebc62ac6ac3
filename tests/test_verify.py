"""convcalc.reference.verify: running networks on arrays confirms the calculator's rows.

Every example network passes; small synthetic networks cover every layer type, 1-D and
3-D inputs, dilation, groups, ceil_mode's dropped window, ``same`` with even kernels,
output_padding, upsampling, residual and parallel blocks. A report with one wrong number
fails at exactly that row and check. Counts are worked by hand where they are new.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from conftest import EXAMPLES

from convcalc import analyze, load_network, parse_network
from convcalc.errors import LayerError, MemoryLimitExceeded
from convcalc.geometry import WindowMap
from convcalc.layers import REGISTRY
from convcalc.reference.arrays import stream_key, uniform
from convcalc.reference.expected import Reach
from convcalc.reference.field import Supports, measure
from convcalc.reference.memory import estimate_memory
from convcalc.reference.ops import elementwise as elementwise_ops
from convcalc.reference.ops import pool as pool_ops
from convcalc.reference.plan import PlanMismatch, build_plan
from convcalc.reference.results import ParamCount, Verification
from convcalc.reference.verify import verify
from convcalc.results import ReceptiveField, Report
from convcalc.spec import Network

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))

# Small networks that between them use every layer type and the awkward geometries.
SYNTHETIC = {
    "every_2d": """
name: every_2d
input: 3x23x19
layers:
  - {type: conv, filters: 8, kernel: [3, 4], stride: [2, 1], padding: same}
  - batchnorm
  - relu
  - {type: conv, filters: 8, kernel: 3, dilation: 2, padding: 1, groups: 8}
  - relu6
  - {type: maxpool, kernel: 3, stride: 2, padding: 1, ceil_mode: true}
  - {type: pad, padding: [[1, 0], [0, 2]]}
  - {type: avgpool, kernel: 2, stride: 2, ceil_mode: true, count_include_pad: false}
  - gelu
  - {type: upsample, scale: 2, mode: nearest}
  - silu
  - {type: upsample, scale: [2, 3], mode: linear}
  - sigmoid
  - {type: conv_transpose, filters: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1}
  - tanh
  - {type: conv, filters: 4, kernel: 3, stride: 3, dilation: 2, padding: [[2, 1], [0, 3]]}
  - hardswish
  - {type: leaky_relu, negative_slope: 0.2}
  - type: residual
    layers:
      - {type: conv, filters: 4, kernel: 3, padding: 1}
      - dropout
    shortcut:
      - {type: conv, filters: 4, kernel: 1}
  - type: parallel
    merge: concat
    branches:
      - []
      - [{type: conv, filters: 2, kernel: 5, padding: 2}]
      - [{type: maxpool, kernel: 3, stride: 1, padding: 1}]
  - type: sequential
    repeat: 2
    layers:
      - {type: conv, filters: 10, kernel: 3, padding: valid}
      - identity
  - {type: adaptive_avgpool, output: [3, 2]}
  - softmax
  - {type: adaptive_maxpool, output: 2}
  - global_maxpool
  - {type: linear, units: 5}
""",
    "one_d": """
name: one_d
input: 2x101
layers:
  - {type: conv, filters: 4, kernel: 4, padding: same, stride: 3}
  - {type: conv, filters: 4, kernel: 5, dilation: 3, stride: 2, padding: 2, groups: 2}
  - {type: maxpool, kernel: 2, ceil_mode: true}
  - {type: upsample, size: 21, mode: linear}
  - {type: conv_transpose, filters: 3, kernel: 4, stride: 3, dilation: 2, padding: 2,
     output_padding: 1}
  - {type: upsample, size: 37, mode: nearest}
  - type: parallel
    merge: add
    branches:
      - [{type: conv, filters: 3, kernel: 3, padding: 1}]
      - [{type: avgpool, kernel: 3, stride: 1, padding: 1}]
  - global_avgpool
  - {type: linear, units: 3, bias: false}
""",
    "three_d": """
name: three_d
input: 2x9x12x10
layers:
  - {type: conv, filters: 4, kernel: [3, 3, 2], stride: [1, 2, 2], padding: same}
  - batchnorm
  - {type: maxpool, kernel: 2, stride: [1, 2, 2], ceil_mode: true, padding: 1}
  - {type: conv_transpose, filters: 2, kernel: 2, stride: 2}
  - {type: avgpool, kernel: 3, stride: 2, padding: 1}
  - {type: upsample, scale: [1, 2, 2], mode: linear}
  - flatten
  - {type: linear, units: 4}
""",
    # a 1x1 stride-2 transposed conv leaves every other unit reading nothing
    "empty_units": """
name: empty_units
input: 1x16x16
layers:
  - {type: conv_transpose, filters: 1, kernel: 1, stride: 2}
  - {type: conv, filters: 1, kernel: 2}
  - {type: conv, filters: 1, kernel: 3, dilation: 3, stride: 2, padding: 1}
""",
    # W=5, K2 S2 P1 ceil_mode: the last window would start in the right padding: dropped
    "ceil_drop": """
name: ceil_drop
input: 2x5x6
layers:
  - {type: maxpool, kernel: 2, stride: 2, padding: 1, ceil_mode: true}
  - {type: conv, filters: 3, kernel: 4, padding: same}
""",
    "flat_input": """
name: flat_input
input: 12
layers:
  - {type: linear, units: 6}
  - relu
  - {type: linear, units: 2}
""",
    # the activations, layer scale and stochastic depth of modern CNNs, 1-D to 3-D and flat
    "modern_elementwise": """
name: modern_elementwise
input: 3x9x8
layers:
  - {type: conv, filters: 6, kernel: 3, padding: 1}
  - hardsigmoid
  - mish
  - {type: elu, alpha: 0.5}
  - prelu
  - {type: prelu, per_channel: true, init: 0.1}
  - type: residual
    layers:
      - {type: conv, filters: 6, kernel: 3, padding: 1}
      - {type: layer_scale, init: 0.5}
      - {type: stochastic_depth, p: 0.2}
  - {type: stochastic_depth, p: 1.0, mode: batch}
  - global_avgpool
  - {type: prelu, per_channel: true}
  - layer_scale
  - elu
""",
    "modern_elementwise_1d": """
name: modern_elementwise_1d
input: 2x17
layers:
  - {type: conv, filters: 3, kernel: 3, stride: 2}
  - {type: prelu, per_channel: true, init: 0.3}
  - {type: layer_scale, init: 0.7}
  - {type: elu, alpha: 2}
  - {type: stochastic_depth, p: 0.5, mode: row}
  - hardsigmoid
""",
    "modern_elementwise_3d": """
name: modern_elementwise_3d
input: 2x3x4x5
layers:
  - {type: conv, filters: 4, kernel: 3, padding: 1}
  - {type: prelu, per_channel: true}
  - {type: layer_scale, init: 2.0}
  - mish
  - {type: stochastic_depth, p: 0.0}
  - flatten
  - {type: linear, units: 8}
  - hardsigmoid
""",
    # squeeze-and-excitation (mul broadcasting), after layers and an aux head
    "se_aux_after": """
name: se_aux_after
input: 3x13x11
layers:
  - {type: conv, name: stem, filters: 6, kernel: 3, stride: 2, padding: 1}
  - type: residual
    name: block
    layers:
      - {type: conv, filters: 6, kernel: 3, padding: 1}
      - type: parallel
        name: se
        merge: mul
        branches:
          - []
          - [{type: adaptive_avgpool, output: 1}, {type: conv, filters: 2, kernel: 1}, relu,
             {type: conv, filters: 6, kernel: 1}, sigmoid]
    after: [{type: relu, name: relu}]
  - type: aux
    name: aux_head
    layers: [{type: conv, filters: 2, kernel: 3}, global_avgpool, {type: linear, units: 3}]
  - type: parallel
    name: rows
    merge: mul
    branches:
      - [{type: conv, filters: 6, kernel: [1, 3], padding: [0, 1]}]
      - [{type: adaptive_maxpool, output: [1, 6]}, sigmoid]
    after: [batchnorm]
  - global_avgpool
  - {type: linear, units: 4}
""",
}

# ShuffleNetV2's block (chunk into two slices, concat, channel_shuffle) and depthwise convs
# in 1-D, 2-D and 3-D, and a slice of a flat vector
SYNTHETIC |= {
    "channels_2d": """
name: channels_2d
input: 4x13x11
layers:
  - {type: conv, filters: 8, kernel: 3, stride: 2, padding: 1, groups: depthwise}
  - {type: channel_shuffle, groups: 4}
  - type: parallel
    branches:
      - [{type: slice, channels: [0, 4]}]
      - - {type: slice, channels: [4, 8]}
        - {type: conv, filters: 4, kernel: 3, padding: 1, groups: depthwise, bias: false}
        - {type: conv_transpose, filters: 8, kernel: 2, stride: 1, groups: depthwise}
        - {type: maxpool, kernel: 2, stride: 1}
  - {type: channel_shuffle, groups: 2}
  - global_avgpool
  - {type: slice, channels: [3, 9]}
  - {type: linear, units: 2}
""",
    "channels_1d_3d": """
name: channels_1d_3d
input: 6x3x7x5
layers:
  - {type: channel_shuffle, groups: 3}
  - {type: slice, channels: [1, 5]}
  - {type: conv, filters: 8, kernel: [1, 3, 3], padding: [0, 1, 1], groups: depthwise}
  - {type: channel_shuffle, groups: 8}
  - flatten
""",
    "channels_1d": """
name: channels_1d
input: 6x29
layers:
  - {type: conv_transpose, filters: 12, kernel: 3, stride: 2, groups: depthwise}
  - {type: channel_shuffle, groups: 6}
  - {type: slice, channels: [2, 12]}
""",
}


# The normalisation layers in 1-D, 2-D and 3-D and on a flat input, each option used.
SYNTHETIC["norms"] = """
name: norms
input: 4x7x6
layers:
  - {type: conv, filters: 6, kernel: 3, padding: 1}
  - {type: layernorm, eps: 1e-6}
  - {type: groupnorm, groups: 3}
  - {type: instancenorm, affine: true}
  - {type: instancenorm, track_running_stats: true}
  - {type: layernorm, bias: false}
  - {type: groupnorm, groups: 6, affine: false, eps: 0.001}
  - {type: maxpool, kernel: 2}
  - global_avgpool
  - {type: layernorm, affine: false}
  - {type: groupnorm, groups: 2}
  - {type: linear, units: 3}
"""
SYNTHETIC["norms_1d_3d"] = """
name: norms_1d_3d
input: 2x3x4x5
layers:
  - {type: conv, filters: 4, kernel: 2, stride: [1, 2, 1]}
  - layernorm
  - {type: groupnorm, groups: 2}
  - {type: instancenorm, affine: true, track_running_stats: true}
  - flatten
  - {type: linear, units: 8}
  - {type: layernorm, affine: false}
"""
# A graph: a skip around a downsampling path, a pad module's layer, a nested residual
# node, repeated twice; and a graph inside a parallel branch.
SYNTHETIC["graph"] = """
name: graph
input: 3x12x10
layers:
  - type: graph
    name: g
    repeat: 2
    nodes:
      - {type: conv, name: down, filters: 4, kernel: 3, stride: 2, padding: [[1, 0], [0, 1]]}
      - {type: upsample, name: up, scale: 2}
      - type: residual
        name: res
        layers: [{type: conv, filters: 4, kernel: 3, padding: 1}]
      - {type: conv, name: side, filters: 4, kernel: 1, from: [input]}
      - {type: concat, name: cat, from: [res, side, up]}
      - {type: conv, name: out, filters: 3, kernel: 1}
  - type: parallel
    merge: add
    branches:
      - []
      - - type: graph
          nodes:
            - {type: maxpool, name: p, kernel: 3, stride: 1, padding: 1}
            - {type: add, name: m, from: [p, input]}
"""
SYNTHETIC["norms_1d"] = """
name: norms_1d
input: 3x17
layers:
  - {type: conv, filters: 4, kernel: 3, stride: 2}
  - instancenorm
  - {type: layernorm, eps: 0.01}
  - {type: groupnorm, groups: 4}
  - {type: conv, filters: 2, kernel: 3}
"""


def network(text: str) -> Network:
    """Return the network of a YAML text."""
    return parse_network(text, "test.yaml").network


def verified(net: Network, batch: int = 1, **options: Any) -> tuple[Report, Verification]:
    """Return the calculator's report of ``net`` and its verification on arrays."""
    report = analyze(net, batch=batch)
    return report, verify(net, report, **options)


def assert_all_agree(report: Report, result: Verification) -> None:
    """Assert every row was checked, ran and agreed."""
    assert result.mismatches == ()
    assert result.ok and result.complete
    assert len(result.layers) == sum(not row.container for row in report.layers)
    assert all(check.ok for check in result.layers)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_every_example_verifies(path: Any) -> None:
    """Every example network's rows agree with its arrays: shapes, params, MACs, fields."""
    net = load_network(path).network
    report, result = verified(net)
    assert_all_agree(report, result)
    leaves = [row for row in report.layers if not row.container]
    assert sum(check.macs.measured for check in result.layers if check.macs) == \
        report.totals.macs
    assert sum(check.params.measured.trainable for check in result.layers if check.params) == \
        report.totals.params
    assert [check.name for check in result.layers] == [row.name for row in leaves]


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_networks_verify(name: str) -> None:
    """Every layer type and the awkward geometries agree, at batch 2 (MACs for the batch)."""
    report, result = verified(network(SYNTHETIC[name]), batch=2)
    assert_all_agree(report, result)
    assert all(check.shape.measured[0] == 2 for check in result.layers if check.shape)


REFUSED = {"unknown"}
"""The types verify refuses (an operator convcalc does not know): tested below instead."""


def test_synthetic_networks_use_every_layer_type() -> None:
    """The synthetic networks between them use every layer type the format has but those
    verify refuses."""
    used = {word for text in SYNTHETIC.values() for word in
            text.replace("{", " ").replace(",", " ").replace(":", " ").split()}
    assert set(REGISTRY) - REFUSED <= used


def test_verify_refuses_an_unknown_row_before_running_anything() -> None:
    """A network with an ``unknown`` row is refused, naming the row and its operator,
    before any array is made (an operator whose rules are not known has nothing to run)."""
    net = network("""
input: 3x8x8
layers:
  - {type: conv, filters: 4, kernel: 3}
  - {type: sequential, name: block, layers: [
      relu, {type: unknown, name: f1, op: Frobnicate, output: [4, 3, 3]}]}
  - flatten
""")
    report = analyze(net)
    with pytest.raises(LayerError) as refused:
        verify(net, report, max_memory=1)  # refused before the memory estimate
    assert refused.value.layer == "block.f1"
    assert refused.value.location == ("layers", 1, "layers", 1)
    assert refused.value.message == (
        "verify cannot run operator Frobnicate: convcalc does not know what it computes (an "
        "unknown row); replace the row with the layers it stands for")


def test_the_lecture_layer_by_hand() -> None:
    """3×32×32, 10 filters 5×5 pad 2: 760 params, 768,000 MACs, 56,520 of them on padding.

    Per dim 32 windows × 5 taps = 160 (window, tap) pairs, of which 30+31+32+31+30 = 154
    read the input; in 2-D 160² − 154² = 1,884 pairs read padding, times 3 channels and
    10 filters.
    """
    _, result = verified(network(
        "input: 3x32x32\nlayers:\n  - {type: conv, filters: 10, kernel: 5, padding: 2}\n"))
    (check,) = result.layers
    assert check.ok
    assert check.params is not None and check.macs is not None and check.shape is not None
    assert check.params.measured == ParamCount(trainable=760, non_trainable=0)
    assert check.macs.measured == 768_000
    assert check.macs.padded_taps == 56_520
    assert check.shape.measured == (1, 10, 32, 32)
    axes = check.receptive_field.measured
    assert axes is not None
    assert [(a.size, a.stride, a.padding) for a in axes] == [(5, 1, 2), (5, 1, 2)]


def test_batchnorm_statistics_are_non_trainable() -> None:
    """BatchNorm over 6 channels hands the kernel 6+6 trainable and 6+6 running values."""
    _, result = verified(network("input: 6x4x4\nlayers:\n  - batchnorm\n"))
    (check,) = result.layers
    assert check.params is not None
    assert check.params.measured == ParamCount(trainable=12, non_trainable=12)


def test_norm_parameters_by_hand() -> None:
    """On 6×8×8: layernorm 6+6 learned; groupnorm without affine none; instancenorm with
    affine and running statistics 6+6 learned and 6+6 stored; the field passes through."""
    _, result = verified(network(
        "input: 6x8x8\nlayers:\n  - {type: conv, filters: 6, kernel: 3}\n  - layernorm\n"
        "  - {type: groupnorm, groups: 3, affine: false}\n"
        "  - {type: instancenorm, affine: true, track_running_stats: true}\n"))
    _, layernorm, groupnorm, instancenorm = result.layers
    assert [check.params.measured for check in (layernorm, groupnorm, instancenorm)
            if check.params is not None] == [
        ParamCount(trainable=12, non_trainable=0), ParamCount(trainable=0, non_trainable=0),
        ParamCount(trainable=12, non_trainable=12)]
    for check in (layernorm, groupnorm, instancenorm):
        axes = check.receptive_field.measured
        assert axes is not None
        assert [(a.size, a.stride) for a in axes] == [(3, 1), (3, 1)]
def test_prelu_and_layer_scale_hand_their_kernels_c_values() -> None:
    """On 6×4×4, prelu per channel and layer_scale each hand the kernel 6 trainable values,
    a shared prelu 1, stochastic depth none."""
    _, result = verified(network(
        "input: 6x4x4\nlayers:\n  - {type: prelu, per_channel: true}\n  - prelu\n"
        "  - layer_scale\n  - {type: stochastic_depth, p: 0.5}\n"))
    assert [check.params.measured for check in result.layers if check.params] == [
        ParamCount(trainable=6, non_trainable=0), ParamCount(trainable=1, non_trainable=0),
        ParamCount(trainable=6, non_trainable=0), ParamCount(trainable=0, non_trainable=0)]
    assert result.ok


def test_receptive_field_of_two_convs_by_hand() -> None:
    """K3 then K3 S2 P1 on 1×32: size 1 + 2 + 2 = 5, stride 2, padding 0 + 1·1 = 1."""
    _, result = verified(network(
        "input: 1x32\nlayers:\n  - {type: conv, filters: 1, kernel: 3}\n"
        "  - {type: conv, filters: 1, kernel: 3, stride: 2, padding: 1}\n"))
    axis = result.layers[1].receptive_field.measured[0]  # type: ignore[index]
    assert (axis.size, axis.stride, axis.padding) == (5, 2, 1)
    assert axis.units == 15 and axis.input_size == 32
    assert axis.window_mismatches == axis.field_mismatches == 0


def test_upsampling_gives_a_fractional_stride() -> None:
    """A 2× nearest upsampling after a K3 conv: stride 1/2, period 2, size 3, padding 0."""
    _, result = verified(network(
        "input: 1x20\nlayers:\n  - {type: conv, filters: 1, kernel: 3}\n"
        "  - {type: upsample, scale: 2}\n"))
    axis = result.layers[1].receptive_field.measured[0]  # type: ignore[index]
    assert (axis.size, axis.stride, axis.padding) == (3, 0.5, 0)


def test_resnet_late_layers_cover_the_whole_input() -> None:
    """ResNet-18's average pool sees all of 224×224; its last convs have no unit inside."""
    _, result = verified(load_network(EXAMPLES / "resnet18.yaml").network)
    by_name = {check.name: check for check in result.layers}
    pool = by_name["avgpool"].receptive_field.measured
    assert pool is not None and all(axis.covers_whole_input for axis in pool)
    last_conv = by_name["layer4.1.conv2"].receptive_field
    assert last_conv.ok and last_conv.measured is not None
    assert all(axis.unclipped_units == 0 and axis.size is None for axis in last_conv.measured)
    assert by_name["flatten"].receptive_field.kind == "global"
    assert by_name["flatten"].receptive_field.covered == (224, 224)
    assert by_name["fc"].receptive_field.kind == "after_global"


def test_global_pool_after_dropped_rows_mixes_what_reaches_it() -> None:
    """K3 S2 on 1×10 never reads position 9; a global pool after it mixes the other 9."""
    _, result = verified(network(
        "input: 1x10\nlayers:\n  - {type: conv, filters: 2, kernel: 3, stride: 2}\n"
        "  - global_avgpool\n"))
    field = result.layers[1].receptive_field
    assert field.kind == "global" and field.ok and field.covered == (9,)


def test_a_flat_input_has_no_receptive_field() -> None:
    """An input without spatial dims is checked for everything but the field."""
    _, result = verified(network(SYNTHETIC["flat_input"]))
    assert result.ok
    assert {check.receptive_field.kind for check in result.layers} == {"none"}


def test_ceil_mode_drops_the_window_that_starts_in_the_padding() -> None:
    """W=5, K2 S2 P1, ceil_mode: ceil(5/2) + 1 = 4 windows, the last dropped: 3."""
    _, result = verified(network(SYNTHETIC["ceil_drop"]))
    shape = result.layers[0].shape
    assert shape is not None and shape.measured == (1, 2, 3, 4)


def _with_row(report: Report, name: str, **changes: Any) -> Report:
    """Return ``report`` with row ``name`` changed."""
    rows = tuple(row.model_copy(update=changes) if row.name == name else row
                 for row in report.layers)
    return report.model_copy(update={"layers": rows})


def test_a_wrong_mac_count_fails_that_row_and_check_only() -> None:
    """A report with one row's MACs + 1 fails exactly there, with both numbers."""
    net = load_network(EXAMPLES / "lenet5.yaml").network
    report = analyze(net)
    result = verify(net, _with_row(report, "conv2", macs=240_001))
    assert not result.ok and result.complete
    assert [(m.layer, m.check, m.expected, m.measured) for m in result.mismatches] == [
        ("conv2", "macs", "240,001", "240,000")]
    assert [check.name for check in result.layers if not check.ok] == ["conv2"]


def test_wrong_shape_params_and_field_are_each_caught() -> None:
    """A wrong output shape, parameter count or receptive-field padding is each a mismatch."""
    net = load_network(EXAMPLES / "lenet5.yaml").network
    report = analyze(net)
    report = _with_row(report, "pool1", output_shape=(6, 15, 15))
    report = _with_row(report, "conv1", params=157)
    wrong_field = ReceptiveField(size=(14, 14), stride=(2, 2), padding=(1, 0))
    report = _with_row(report, "tanh2", receptive_field=wrong_field)
    result = verify(net, report)
    found = {(m.layer, m.check): (m.expected, m.measured) for m in result.mismatches}
    assert found[("pool1", "shape")] == ("1×6×15×15", "1×6×14×14")
    assert found[("conv1", "params")] == ("157 trainable + 0 non-trainable",
                                          "156 trainable + 0 non-trainable")
    assert found[("tanh2", "receptive_field")][0] == "size 14×14, stride 2×2, padding 1×0"
    assert len(found) == 3
    # a row of another shape has other units: its field is not paired unit by unit
    pool1 = next(check for check in result.layers if check.name == "pool1")
    assert pool1.receptive_field.kind == "skipped"


def test_a_report_of_another_network_is_refused() -> None:
    """Rows that do not follow the network are a PlanMismatch, not a verification."""
    lenet = load_network(EXAMPLES / "lenet5.yaml").network
    other = analyze(network(SYNTHETIC["flat_input"]))
    with pytest.raises(PlanMismatch, match="expected a layer row of type conv, found row "
                                           "'linear1' \\(linear\\)"):
        verify(lenet, other)


def test_memory_guard_refuses_before_running() -> None:
    """Above the limit verify raises MemoryLimitExceeded with the estimate, flag-free."""
    net = load_network(EXAMPLES / "vgg16.yaml").network
    report = analyze(net, batch=64)
    with pytest.raises(MemoryLimitExceeded) as caught:
        verify(net, report)
    error = caught.value
    assert error.limit == 2 * 1024**3 and not error.probe
    assert error.needed > error.limit
    assert str(error) == (
        "verify's arrays would need about 3.13 GiB at once, more than the 2.00 GiB allowed; "
        "use a smaller batch (now 64) or a smaller input (now 3×224×224)")


def test_memory_guard_for_the_probe() -> None:
    """A long 1-D input whose probe alone is above the limit is refused as the probe's need.

    1×20000 through three K3 P1 convs. One slab: the input line 80,000 B kept, the
    running conv's input and output 80,000 B each, its padded line twice 2·20,002·4 B:
    400,016 B. Kept for the run: supports and reach, 40 B per unit of 3 rows (2,400,000 B),
    the checks' 256 B per unit (5,120,000 B), covered flags and other sets 6 B per input
    position (120,000 B), 8 KiB per row (24,576 B) and 8 KiB per row and dim checked
    (24,576 B): 7,689,152 B.
    """
    net = network("input: 1x20000\nlayers:\n"
                  + "  - {type: conv, filters: 1, kernel: 3, padding: 1}\n" * 3)
    with pytest.raises(MemoryLimitExceeded) as caught:
        verify(net, analyze(net), max_memory=3_000_000)
    assert caught.value.probe and caught.value.needed == 400_016 + 7_689_152
    assert str(caught.value) == (
        "the receptive-field probe needs about 8 MiB for one input position, more than the "
        "3 MiB allowed; use a smaller input (now 1×20000)")


def test_memory_estimate_by_hand() -> None:
    """1×8×8 at batch 2, conv 4 filters K3 P1, relu.

    Value pass, at the conv: input 512 B + output 2,048 B + padded input twice
    (2·1·10·10·4 = 800 B each) + the weights' copy 160 B + the parameters 160 B = 4,480 B;
    at the relu: input kept 512 B + conv output 2,048 B + relu output 2,048 B = 4,608 B;
    plus 8 KiB per row for what is kept in Python: 20,992 B.
    Probe, per slab, along either dim: the slab's line 32 B + the conv's output line 32 B
    + its padded line twice 2·10·4 B = 144 B. Kept: 40 B per unit of the conv's row in
    2 dims (640 B), 256 B per unit for the checks (2,048 B), 6 B per input position per
    dim (80 B), 8 KiB per row (16,384 B) and per row and dim checked (16,384 B): 35,536 B.
    """
    net = network("input: 1x8x8\nlayers:\n  - {type: conv, filters: 4, kernel: 3, "
                  "padding: 1}\n  - relu\n")
    report = analyze(net, batch=2)
    estimate = estimate_memory(build_plan(net, report), report)
    assert (estimate.value_bytes, estimate.parameter_bytes) == (20_992, 160)
    assert (estimate.slab_bytes, estimate.slabs) == (144, 8)
    assert estimate.probe_fixed_bytes == 35_536
    assert estimate.slabs_per_chunk(35_536 + 5 * 144) == 5
    assert estimate.peak(35_536 + 5 * 144) == 36_256


def test_the_probe_runs_in_chunks_when_memory_is_tight() -> None:
    """A limit that fits a few slabs at a time gives the same answer as one chunk."""
    net = network("input: 1x3000\nlayers:\n"
                  + "  - {type: conv, filters: 2, kernel: 3, padding: 1}\n  - relu\n" * 3)
    report = analyze(net)
    whole = verify(net, report)
    estimate = estimate_memory(build_plan(net, report), report)
    limit = max(estimate.value_bytes, estimate.probe_fixed_bytes + 3 * estimate.slab_bytes)
    assert estimate.slabs_per_chunk(limit) < estimate.slabs
    chunked = verify(net, report, max_memory=limit)
    assert chunked.ok and chunked.memory_limit == limit
    assert chunked.layers == whole.layers


def test_seed_changes_values_not_counts() -> None:
    """The same seed gives the same arrays; another seed gives the same checks."""
    assert np.array_equal(uniform((5,), stream_key(3, "x"), -1, 1),
                          uniform((5,), stream_key(3, "x"), -1, 1))
    assert not np.array_equal(uniform((5,), stream_key(3, "x"), -1, 1),
                              uniform((5,), stream_key(4, "x"), -1, 1))
    net = load_network(EXAMPLES / "lenet5.yaml").network
    report = analyze(net)
    assert verify(net, report, seed=1).layers == verify(net, report, seed=2).layers


def test_uniform_arrays_fill_their_range() -> None:
    """Hashed uniform values lie in [low, high) with the mean and spread of a uniform."""
    values = uniform((100_000,), stream_key(0, "spread"), -3.0, 5.0)
    assert values.dtype == np.float32
    assert values.min() >= -3.0 and values.max() < 5.0
    assert abs(values.mean() - 1.0) < 0.05
    assert abs(values.std() - 8 / 12**0.5) < 0.05


def test_a_kernel_that_refuses_stops_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel error fails that row with the message, and verify stops there."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ValueError("kernel 9 is larger than the padded input")

    monkeypatch.setattr(pool_ops, "avg_pool_arrays", refuse)
    _, result = verified(load_network(EXAMPLES / "lenet5.yaml").network)
    assert not result.ok and not result.complete
    assert [check.name for check in result.layers] == ["conv1", "tanh1", "pool1"]
    assert result.layers[-1].error == "kernel 9 is larger than the padded input"
    assert [(m.layer, m.check) for m in result.mismatches] == [("pool1", "kernel")]


def test_a_nan_in_an_output_fails_the_finite_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """An output with a NaN fails that row's finite check."""
    real_activated = elementwise_ops._activated

    def with_nan(x: np.ndarray, function: int, option: float = 0.0) -> np.ndarray:
        y = real_activated(x, function, option)
        y.reshape(-1)[0] = np.nan
        return y

    monkeypatch.setattr(elementwise_ops, "_activated", with_nan)
    _, result = verified(network("input: 1x8\nlayers:\n  - tanh\n"))
    assert [(m.layer, m.check) for m in result.mismatches] == [("tanh1", "finite")]


def test_the_fit_reads_a_period_off_shared_fields() -> None:
    """Units 2m and 2m + 1 seeing [4m − 3, 4m + 2] (a 2× transposed conv on a stride-4
    field): period 2, shift 4, so stride 2, size 6, padding 3."""
    units, width = 20, 64
    supports = Supports.empty(units)
    reached = np.zeros((width, units), bool)
    for unit in range(units):
        left = 4 * (unit // 2) - 3
        reached[max(left, 0):min(left + 6, width), unit] = True
    supports.add(reached, 0)
    fit = measure(supports, width)
    assert (fit.period, fit.stride, fit.size, fit.padding) == (2, Fraction(2), 6, 3)


def test_expected_reach_drops_taps_in_the_padding() -> None:
    """K3 D2 P1 over 6 positions: unit 0 reads −1 (padding), 1 and 3, so it reaches 1 to 3;
    unit 3 reads 2, 4 and 6 (padding), so 2 to 4."""
    positions = np.arange(6)
    reach = Reach(positions, positions.copy()).through(WindowMap(3, 1, 2, 1), 4)
    assert reach.first.tolist() == [1, 0, 1, 2]
    assert reach.last.tolist() == [3, 4, 5, 4]


def test_a_dim_whose_units_read_only_padding_hides_the_others() -> None:
    """On 1×7×1, K2 D3 S3 with padding 2 along W reads W positions −2 and 1: nothing.

    No output unit then sees any input, whatever it reaches along H; the probe sees
    nothing along either dim and verify expects exactly that.
    """
    report, result = verified(network(
        "input: 1x7x1\nlayers:\n  - {type: conv, filters: 1, kernel: 2, dilation: 3, "
        "stride: 3, padding: [1, 2]}\n"))
    assert_all_agree(report, result)
    axes = result.layers[0].receptive_field.measured
    assert axes is not None
    assert [(a.units, a.unclipped_units, a.through_padding) for a in axes] == [(2, 0, 2),
                                                                            (1, 0, 1)]


def test_a_max_pool_window_wholly_in_padding_is_not_finite() -> None:
    """K2 D2 P1 on a length-1 input: the one window reads −1 and 1, both padding.

    The calculator accepts it (PyTorch does too, padding ≤ K/2) and PyTorch returns −∞;
    so does the kernel, and verify reports the row as not finite. The probe sees that no
    position reaches the unit, as the calculator's windows say.
    """
    _, result = verified(network(
        "input: 2x1\nlayers:\n  - {type: maxpool, kernel: 2, dilation: 2, padding: 1}\n"))
    assert [(m.layer, m.check) for m in result.mismatches] == [("maxpool1", "finite")]
    assert result.layers[0].receptive_field.ok


def test_ceil_mode_window_overhanging_a_short_input() -> None:
    """K3 S2, ceil_mode, on a length-2 input: PyTorch, the calculator and the kernels give
    one partial window (ceil((2 − 3)/2) + 1 = 1)."""
    report, result = verified(network(
        "input: 1x2\nlayers:\n  - type: parallel\n    branches:\n"
        "      - [{type: maxpool, kernel: 3, stride: 2, ceil_mode: true}]\n"
        "      - [{type: avgpool, kernel: 3, stride: 2, ceil_mode: true}]\n"))
    assert report.output_shape == (2, 1)
    assert result.ok


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="known disagreement: the calculator resizes with exact "
                   "fractions, the kernel (like PyTorch) in float32")
def test_linear_resize_from_7_to_23_agrees() -> None:
    """Resizing 7 → 23 linearly, output 11 sits exactly on input 3: (11 + ½)·7/23 − ½ = 3.

    The calculator's map reads input 3 alone; in float32 the position comes out a hair
    below 3, so the kernel (and torch.nn.functional.interpolate: 2.4e-7) also reads input 2.
    """
    _, result = verified(network(
        "input: 1x7\nlayers:\n  - {type: upsample, size: 23, mode: linear}\n"))
    assert result.ok


def test_depthwise_and_channel_layers_by_hand() -> None:
    """On 4×13×11: the depthwise 3×3 stride-2 conv to 8 filters has 8·(1·9) + 8 = 80
    parameters and 8·7·6·9 = 3,024 MACs, which the arrays count; shuffle and slice have
    none and keep the conv's 3×3 field."""
    report, result = verified(network(SYNTHETIC["channels_2d"]))
    assert_all_agree(report, result)
    conv, shuffle, first_slice = result.layers[:3]
    assert (conv.params.measured.trainable, conv.macs.measured) == (80, 3_024)
    assert (shuffle.params.measured.trainable, shuffle.macs.measured) == (0, 0)
    assert first_slice.shape.measured == (1, 4, 7, 6)
    rows = {row.name: row for row in report.layers}
    assert rows["channel_shuffle1"].receptive_field == rows["conv1"].receptive_field
    assert rows["channel_shuffle1"].receptive_field.size == (3, 3)
# ------------------------------------------------------ mul broadcasting, after and aux


def test_squeeze_excite_field_is_local_and_its_context_global() -> None:
    """Behind the SE gate the probe, holding the gate fixed, measures the stem's and the
    conv's local field (7 along each dim), and every global-context row depends on every
    input position through the gate, as the calculator says."""
    net = network(SYNTHETIC["se_aux_after"])
    report, result = verified(net)
    assert_all_agree(report, result)
    checks = {check.name: check for check in result.layers}
    mul = checks["block.se.mul"].receptive_field
    assert mul.expected is not None and mul.expected.size == (7, 7)
    rows = {row.name: row for row in report.layers}
    assert rows["block.se.mul"].global_context and rows["block.relu"].global_context
    assert not rows["block.se.conv1"].global_context and not rows["stem"].global_context
    assert rows["aux_head.linear1"].aux and checks["aux_head.linear1"].macs.measured == 6


def test_a_wrong_global_context_is_caught_both_ways() -> None:
    """A row claimed to have global context that has none, and one denied it that has it,
    each fail their receptive-field check with what the probe's scale holds."""
    net = network(SYNTHETIC["se_aux_after"])
    report = analyze(net)
    report = _with_row(report, "stem", global_context=True)
    report = _with_row(report, "block.relu", global_context=False)
    result = verify(net, report)
    found = {(m.layer, m.check): (m.expected, m.measured) for m in result.mismatches}
    assert found == {
        ("stem", "receptive_field"): (
            "global context: every output also depends on every input position through a "
            "broadcast scale",
            "0 of 13 positions along H reach every output through a broadcast scale, 0 of 11 "
            "positions along W reach every output through a broadcast scale"),
        ("block.relu", "receptive_field"): (
            "no global context",
            "13 of 13 positions along H reach every output through a broadcast scale, 11 of "
            "11 positions along W reach every output through a broadcast scale"),
    }


def test_a_branch_broadcast_along_one_dim_gives_context_along_it_alone() -> None:
    """The rows gate (pooled along H only) gives every output every position along H and
    none along W through the scale: still global context, and the field along W is the
    union with the gate's (which reads 3 of 6 columns per unit)."""
    net = network(SYNTHETIC["se_aux_after"])
    report, result = verified(net)
    assert_all_agree(report, result)
    rows = {row.name: row for row in report.layers}
    field = rows["rows.mul"].receptive_field
    assert field is not None and rows["rows.mul"].global_context
    assert field.size[0] == 7 and field.size[1] > 7


def test_an_aux_head_is_run_and_checked_but_the_main_path_goes_on() -> None:
    """verify runs the aux head's kernels (its MACs are measured) and the next row gets the
    head's input: a wrong MAC count in the head fails there."""
    net = network(SYNTHETIC["se_aux_after"])
    report = analyze(net)
    conv = next(row for row in report.layers if row.name == "aux_head.conv1")
    assert conv.macs == 2 * 6 * 9 * 5 * 4
    result = verify(net, _with_row(report, "aux_head.conv1", macs=conv.macs + 1))
    assert [(m.layer, m.check) for m in result.mismatches] == [("aux_head.conv1", "macs")]
    rows_conv = next(check for check in result.layers if check.name == "rows.conv1")
    assert rows_conv.shape is not None and rows_conv.shape.measured == (1, 6, 7, 6)


def test_mul_kernel_broadcasts_as_numpy_and_refuses_what_convcalc_refuses() -> None:
    """The mul op equals numpy's broadcasting product on SE shapes, and refuses unequal
    ranks and sizes that are neither the largest nor 1."""
    from convcalc.reference.ops.merge import mul

    x = uniform((2, 4, 3, 5), stream_key(1, "x"), -1, 1)
    gate = uniform((2, 4, 1, 1), stream_key(1, "g"), -1, 1)
    rows = uniform((2, 1, 3, 1), stream_key(1, "r"), -1, 1)
    np.testing.assert_array_equal(mul(x, gate, rows), x * gate * rows)
    with pytest.raises(ValueError, match="equal rank"):
        mul(x, gate[0])
    with pytest.raises(ValueError, match="largest or 1"):
        mul(x, uniform((2, 2, 1, 1), stream_key(1, "h"), -1, 1))


def test_memory_estimate_keeps_the_input_alive_through_an_aux_head() -> None:
    """An aux head's output is dropped while its input goes on: the value pass's peak is
    the estimate's, never less than the head's input, output and the input held."""
    net = network(SYNTHETIC["se_aux_after"])
    report = analyze(net)
    plan = build_plan(net, report)
    estimate = estimate_memory(plan, report)
    assert estimate.value_bytes >= 4 * (3 * 13 * 11 + 6 * 7 * 6 + 2 * 5 * 4)


def test_shufflenet_v2_verifies_at_a_reduced_input() -> None:
    """zoo:shufflenet_v2_x0_5 at 3×64×64 agrees on arrays row by row: its slices, channel
    shuffles and depthwise convs, and its 1,366,792 parameters."""
    from convcalc import zoo

    net = zoo.source("shufflenet_v2_x0_5").network.model_copy(update={"input": (3, 64, 64)})
    report, result = verified(net)
    assert_all_agree(report, result)
    assert sum(check.params.measured.trainable for check in result.layers if check.params) \
        == 1_366_792
