"""Hand-worked tests of convcalc.analysis: names, row order, subtotals, totals, batch, warnings."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import ValidationError

from convcalc import MAX_LAYERS, DType, LayerError, Report, analyze
from convcalc.analysis import count_rows
from convcalc.results import LayerWarning, ReceptiveField
from convcalc.spec import Network

LECTURE_CONV = {"type": "conv", "filters": 10, "kernel": 5, "padding": 2}
"""The lecture's exercise: on 3×32×32, 10×32×32 out, 760 params, 768,000 MACs."""


def network(input_shape: list[int], layers: list[Any]) -> Network:
    """Return a network given as plain data."""
    return Network.model_validate({"input": input_shape, "layers": layers})


def run(input_shape: list[int], layers: list[Any], **options: Any) -> Report:
    """Return the report of a network given as plain data."""
    return analyze(network(input_shape, layers), **options)


def names(report: Report) -> list[str]:
    """Return the row names in order."""
    return [row.name for row in report.layers]


# ------------------------------------------------------------------ names


def test_generated_names_count_per_type() -> None:
    """Unnamed layers are called <type><n>, counting each type apart among siblings."""
    report = run([3, 8, 8], [{"type": "conv", "filters": 4, "kernel": 3}, "relu",
                             {"type": "conv", "filters": 4, "kernel": 3}, "relu", "batchnorm"])
    assert names(report) == ["conv1", "relu1", "conv2", "relu2", "batchnorm1"]


def test_generated_names_skip_names_the_user_took() -> None:
    """A generated name skips one a sibling was given: conv2 is taken, so conv1, conv3."""
    report = run([1, 8], [{"type": "relu", "name": "conv2"},
                          {"type": "conv", "filters": 1, "kernel": 1},
                          {"type": "conv", "filters": 1, "kernel": 1}])
    assert names(report) == ["conv2", "conv1", "conv3"]


def test_generated_names_restart_in_each_container() -> None:
    """Counters are per sibling list: a sequential's first relu is relu1 again."""
    report = run([1, 8], ["relu", {"type": "sequential", "layers": ["relu", "relu"]}, "relu"])
    assert names(report) == ["relu1", "sequential1.relu1", "sequential1.relu2", "sequential1",
                             "relu2"]


def test_generated_names_are_unique_across_branches() -> None:
    """A container's bodies share its prefix, so names count on across branches."""
    report = run([1, 8], [{"type": "parallel", "merge": "add",
                           "branches": [["relu", "relu"], ["relu"], []]}])
    assert names(report) == ["parallel1.relu1", "parallel1.relu2", "parallel1.relu3",
                             "parallel1.add", "parallel1"]


def test_full_names_join_containers_with_dots() -> None:
    """A nested layer's full name is its container's full name, a dot, and its own."""
    report = run([1, 8], [{"type": "sequential", "name": "outer", "layers": [
        {"type": "sequential", "name": "inner", "layers": [{"type": "relu", "name": "act"}]},
    ]}])
    assert names(report) == ["outer.inner.act", "outer.inner", "outer"]
    assert [row.depth for row in report.layers] == [2, 1, 0]


def test_duplicate_name_is_an_error() -> None:
    """Two siblings with one name is an error pointing at the second and naming the first."""
    with pytest.raises(LayerError) as raised:
        run([1, 8], ["relu", {"type": "relu", "name": "x"}, {"type": "relu", "name": "x"}])
    error = raised.value
    assert error.message == (
        "the name 'x' is already used by the layer at layers[1]; names must be unique among "
        "siblings"
    )
    assert error.location == ("layers", 2)
    assert error.field_name == "name"


def test_duplicate_name_inside_a_container() -> None:
    """A duplicate inside a sequential points into its layers list."""
    with pytest.raises(LayerError) as raised:
        run([1, 8], [{"type": "sequential", "name": "s", "layers": [
            {"type": "relu", "name": "a"}, {"type": "relu", "name": "a"}]}])
    assert raised.value.location == ("layers", 0, "layers", 1)


def test_duplicate_name_across_residual_bodies_points_at_the_shortcut() -> None:
    """A name used in both a residual's layers and its shortcut is located in the shortcut."""
    with pytest.raises(LayerError) as raised:
        run([1, 8], [{"type": "residual", "layers": [{"type": "relu", "name": "a"}],
                      "shortcut": [{"type": "relu", "name": "a"}]}])
    assert raised.value.location == ("layers", 0, "shortcut", 0)


def test_same_name_in_different_containers_is_fine() -> None:
    """Names need only be unique among siblings: two blocks may each hold a conv1."""
    block = {"type": "sequential", "layers": [{"type": "relu", "name": "conv1"}]}
    report = run([1, 8], [block, block])
    assert names(report) == ["sequential1.conv1", "sequential1", "sequential2.conv1",
                             "sequential2"]


# ------------------------------------------------------------------ rows and subtotals


def test_rows_in_execution_order_with_subtotals_after_children() -> None:
    """A residual's rows: its layers, its shortcut, the merge, then its subtotal row."""
    report = run([4, 8, 8], [
        {"type": "residual", "name": "block",
         "layers": [{"type": "conv", "filters": 4, "kernel": 3, "padding": 1}, "relu"],
         "shortcut": [{"type": "conv", "filters": 4, "kernel": 1}]},
        "relu",
    ])
    assert names(report) == ["block.conv1", "block.relu1", "block.conv2", "block.add", "block",
                             "relu1"]
    assert [row.type for row in report.layers] == ["conv", "relu", "conv", "add", "residual",
                                                   "relu"]
    assert [row.container for row in report.layers] == [False] * 4 + [True, False]
    assert [row.depth for row in report.layers] == [1, 1, 1, 1, 0, 0]


def test_subtotal_row_sums_its_subtree() -> None:
    """A container's row holds its subtree's sums, its input and its output."""
    report = run([4, 8, 8], [
        {"type": "residual", "name": "block",
         "layers": [{"type": "conv", "filters": 4, "kernel": 3, "padding": 1}, "relu"],
         "shortcut": [{"type": "conv", "filters": 4, "kernel": 1}]},
    ])
    conv3, relu, conv1, add, block = report.layers
    # 3×3 conv: 4·4·9 + 4 = 148 params, 256·36 = 9,216 MACs, 2·9,216 + 256 FLOPs
    assert (conv3.params, conv3.macs, conv3.flops) == (148, 9216, 18_688)
    # 1×1 conv: 4·4 + 4 = 20 params, 256·4 = 1,024 MACs, 2,048 + 256 FLOPs
    assert (conv1.params, conv1.macs, conv1.flops) == (20, 1024, 2304)
    assert relu.flops == 256
    assert add.flops == 256  # one add per element of 4×8×8
    assert add.input_shape == (4, 8, 8)
    assert (block.params, block.macs, block.flops) == (168, 10_240, 18_688 + 256 + 2304 + 256)
    assert block.activation_bytes == 4 * 4 * 256  # four 4×8×8 float32 outputs
    assert (block.input_shape, block.output_shape) == ((4, 8, 8), (4, 8, 8))


def test_merge_row_name_avoids_a_child_name() -> None:
    """A merge row is <container>.add, or add_ when a child already has that name."""
    report = run([1, 8], [{"type": "residual", "name": "b",
                           "layers": [{"type": "relu", "name": "add"}]}])
    assert names(report) == ["b.add", "b.add_", "b"]
    assert [row.type for row in report.layers] == ["relu", "add", "residual"]


def test_concat_merge_row() -> None:
    """A parallel's concat row sums the channels: 2 + 3 + the identity's 4 = 9."""
    report = run([4, 8], [{"type": "parallel", "name": "mix", "branches": [
        [{"type": "conv", "filters": 2, "kernel": 1}],
        [{"type": "conv", "filters": 3, "kernel": 3, "padding": 1}],
        [],
    ]}])
    concat = report.layers[-2]
    assert (concat.name, concat.type) == ("mix.concat", "concat")
    assert concat.output_shape == (9, 8)
    assert concat.flops == 0
    assert report.output_shape == (9, 8)


def test_repeat_expands_to_numbered_turns() -> None:
    """repeat: 2 runs the body twice as name.0 and name.1, each with a subtotal row."""
    report = run([1, 8], [{"type": "residual", "name": "block", "repeat": 2,
                           "layers": ["relu"]}])
    assert names(report) == ["block.0.relu1", "block.0.add", "block.0",
                             "block.1.relu1", "block.1.add", "block.1", "block"]
    assert [row.depth for row in report.layers] == [2, 2, 1, 2, 2, 1, 0]
    assert [row.container for row in report.layers] == [False, False, True] * 2 + [True]
    # 1×8: relu 8 FLOPs, add 8 FLOPs per turn
    assert [row.flops for row in report.layers] == [8, 8, 16, 8, 8, 16, 32]


def test_repeat_threads_the_shape() -> None:
    """Each turn of a repeat reads the previous turn's output: 3 stride-2 convs, 64 → 8."""
    report = run([3, 64], [{"type": "sequential", "name": "down", "repeat": 3, "layers": [
        {"type": "conv", "filters": 8, "kernel": 3, "stride": 2, "padding": 1}]}])
    turns = [row for row in report.layers if row.depth == 1]
    assert [(row.input_shape, row.output_shape) for row in turns] == [
        ((3, 64), (8, 32)), ((8, 32), (8, 16)), ((8, 16), (8, 8))]
    # params: 8·3·3 + 8 = 80, then 8·8·3 + 8 = 200 twice
    assert report.totals.params == 80 + 200 + 200


def test_totals_are_sums_of_non_container_rows() -> None:
    """Totals add the leaf and merge rows, never the subtotal rows."""
    report = run([3, 32, 32], [
        LECTURE_CONV, "batchnorm",
        {"type": "residual", "layers": [{"type": "conv", "filters": 10, "kernel": 3,
                                         "padding": 1}]},
        "global_avgpool", {"type": "linear", "units": 5},
    ])
    leaves = [row for row in report.layers if not row.container]
    for field in ("params", "non_trainable_params", "macs", "flops", "activation_bytes"):
        assert getattr(report.totals, field) == sum(getattr(r, field) for r in leaves)
    # 760 + 20 (bn) + 910 (10·10·9 + 10) + 55 (10·5 + 5)
    assert report.totals.params == 1745
    assert report.totals.non_trainable_params == 20
    # 768,000 + 10·1,024·90 = 921,600 + 50
    assert report.totals.macs == 1_689_650
    assert report.totals.param_bytes == (1745 + 20) * 4


def test_report_shapes() -> None:
    """The report carries the input and final output shapes and each row's shapes."""
    report = run([3, 32, 32], [LECTURE_CONV, "global_maxpool"])
    assert report.input_shape == (3, 32, 32)
    assert report.output_shape == (10,)
    assert [(r.input_shape, r.output_shape) for r in report.layers] == [
        ((3, 32, 32), (10, 32, 32)), ((10, 32, 32), (10,))]


# ------------------------------------------------------------------ batch and dtype


def test_lecture_exercise_report() -> None:
    """The lecture's exercise as a network: 760 params, 768,000 MACs, 40,960 output bytes."""
    report = run([3, 32, 32], [LECTURE_CONV])
    (row,) = report.layers
    assert (row.params, row.macs, row.flops) == (760, 768_000, 1_546_240)
    assert row.activation_bytes == 10 * 32 * 32 * 4
    assert report.batch == 1
    assert report.dtype == DType.float32


def test_batch_scales_macs_flops_and_activations_not_params() -> None:
    """With batch 4, MACs, FLOPs and activation bytes are ×4; parameters are not."""
    report = run([3, 32, 32], [LECTURE_CONV, "relu"], batch=4)
    conv, relu = report.layers
    assert (conv.params, conv.macs, conv.flops) == (760, 3_072_000, 6_184_960)
    assert conv.activation_bytes == 4 * 40_960
    assert relu.flops == 4 * 10_240
    assert report.totals.params == 760
    assert report.totals.param_bytes == 760 * 4
    assert report.totals.activation_bytes == 2 * 163_840
    assert report.batch == 4


def test_batch_must_be_positive() -> None:
    """batch 0 is an error."""
    with pytest.raises(LayerError) as raised:
        run([3, 32, 32], [LECTURE_CONV], batch=0)
    assert raised.value.message == "batch must be at least 1, got 0"
    assert raised.value.field_name == "batch"


@pytest.mark.parametrize(("dtype", "size"), [(DType.float32, 4), (DType.float16, 2),
                                             (DType.bfloat16, 2), (DType.float64, 8),
                                             (DType.int8, 1)])
def test_dtype_bytes(dtype: DType, size: int) -> None:
    """Activation and parameter bytes use the dtype's element size; counts do not change."""
    report = run([3, 32, 32], [LECTURE_CONV, "batchnorm"], dtype=dtype)
    assert dtype.bytes == size
    assert report.layers[0].activation_bytes == 10_240 * size
    assert report.totals.param_bytes == (760 + 20 + 20) * size  # bn: 20 learnt + 20 stored
    assert report.totals.params == 780
    assert report.dtype == dtype


# ------------------------------------------------------------------ warnings and strict


PARTIAL_POOL = {"type": "maxpool", "kernel": 2}
"""On a 7-long input a 2-wide pool never reads the last row."""


def test_non_whole_division_warns_with_the_numbers() -> None:
    """A non-whole (W − K + P)/S is a warning naming the layer and the numbers."""
    report = run([1, 7, 8], [PARTIAL_POOL])
    assert report.warnings == (LayerWarning(
        layer="maxpool1",
        message="(H − K + 2P)/S = (7 − 2 + 2·0)/2 = 2.5 is not a whole number, so the last "
                "input row along H is never read",
    ),)
    assert report.output_shape == (1, 3, 4)


def test_warnings_name_nested_layers_by_full_name() -> None:
    """A warning inside a container names the layer by its full name, once for the equal
    H and W."""
    report = run([1, 7, 7], [{"type": "sequential", "name": "stem", "layers": [PARTIAL_POOL]}])
    assert [w.layer for w in report.warnings] == ["stem.maxpool1"]
    assert [w.message.split(" = ")[:2] for w in report.warnings] == [["(H − K + 2P)/S",
                                                                      "(W − K + 2P)/S"]]


def test_repeated_layer_warns_each_time() -> None:
    """A repeated layer that drops rows warns in every turn it drops them."""
    report = run([1, 15], [{"type": "sequential", "name": "s", "repeat": 2,
                            "layers": [PARTIAL_POOL]}])
    # 15 → 7 (drops row 14), 7 → 3 (drops row 6)
    assert [w.layer for w in report.warnings] == ["s.0.maxpool1", "s.1.maxpool1"]


def test_strict_turns_the_first_warning_into_an_error() -> None:
    """strict=True raises the first warning as a LayerError naming the layer."""
    with pytest.raises(LayerError) as raised:
        run([1, 7, 8], ["relu", PARTIAL_POOL], strict=True)
    error = raised.value
    assert error.message == (
        "(H − K + 2P)/S = (7 − 2 + 2·0)/2 = 2.5 is not a whole number, so the last input row "
        "along H is never read (strict: warnings are errors)"
    )
    assert error.layer == "maxpool1"
    assert error.location == ("layers", 1)


def test_strict_without_warnings_is_a_normal_report() -> None:
    """strict=True changes nothing when there is nothing to warn about."""
    assert run([3, 32, 32], [LECTURE_CONV], strict=True).totals.macs == 768_000


# ------------------------------------------------------------------ errors and limits


def test_layer_error_names_the_layer_and_location() -> None:
    """A layer that cannot take its input is reported with its full name and position."""
    with pytest.raises(LayerError) as raised:
        run([3, 8, 8], [{"type": "sequential", "name": "head", "layers": [
            "relu", {"type": "linear", "units": 2}]}])
    error = raised.value
    assert error.layer == "head.linear1"
    assert error.location == ("layers", 0, "layers", 1)
    assert str(error) == (
        "layers[0].layers[1]: layer 'head.linear1': linear needs a flat input [features], "
        "got 3×8×8; add '- flatten' (→ 192) or a global pooling layer before it"
    )


def test_merge_shape_error_names_the_container() -> None:
    """Shapes that cannot merge are reported on the container."""
    with pytest.raises(LayerError) as raised:
        run([4, 8], [{"type": "residual", "name": "block",
                      "layers": [{"type": "conv", "filters": 8, "kernel": 1}]}])
    assert raised.value.layer == "block"
    assert raised.value.message == "add needs equal shapes, the branches give 8×8, 4×8"


def test_count_rows() -> None:
    """count_rows counts leaves, merges, subtotals and, for repeats, one subtotal per turn."""
    layers = network([1, 8], [
        "relu",  # 1
        {"type": "residual", "layers": ["relu", "relu"]},  # 2 + add + subtotal = 4
        {"type": "sequential", "repeat": 3, "layers": ["relu"]},  # 3·(1 + 1) + 1 = 7
    ]).layers
    assert count_rows(layers) == 12
    assert len(run([1, 8], [
        "relu", {"type": "residual", "layers": ["relu", "relu"]},
        {"type": "sequential", "repeat": 3, "layers": ["relu"]},
    ]).layers) == 12


def test_layer_limit() -> None:
    """A repeat past MAX_LAYERS rows is refused at once, before any layer is walked."""
    big = network([1, 8], [{"type": "sequential", "repeat": 1_000_000, "layers": ["relu"]}])
    assert MAX_LAYERS == 100_000
    start = time.perf_counter()
    with pytest.raises(LayerError) as raised:
        analyze(big)
    assert time.perf_counter() - start < 1.0
    # 1,000,000 turns × (relu + turn subtotal) + the outer subtotal
    assert raised.value.message == (
        f"the network expands to 2,000,001 rows (layers, merges and container subtotals, "
        f"repeats included), past the limit of {MAX_LAYERS:,}; lower a 'repeat'"
    )
    assert raised.value.location == ("layers",)


# ------------------------------------------------------------------ ranks


def test_one_dimensional_network() -> None:
    """A 1-D [C, L] input runs through conv, pool, global pool and linear."""
    report = run([4, 100], [
        {"type": "conv", "filters": 8, "kernel": 5, "padding": 2},  # 8×100
        {"type": "maxpool", "kernel": 2},  # 8×50
        {"type": "upsample", "scale": 2},  # 8×100
        "global_avgpool",  # [8]
        {"type": "linear", "units": 3},
    ])
    assert [row.output_shape for row in report.layers] == [(8, 100), (8, 50), (8, 100), (8,),
                                                           (3,)]
    # conv 8·4·5 + 8 = 168, linear 8·3 + 3 = 27
    assert report.totals.params == 195
    assert report.totals.macs == 8 * 100 * 20 + 24  # 16,024
    assert report.layers[1].receptive_field is not None
    assert report.layers[1].receptive_field.size == (6,)


def test_three_dimensional_network() -> None:
    """A 3-D [C, D, H, W] input runs through conv, pool and global pool."""
    report = run([2, 8, 16, 16], [
        {"type": "conv", "filters": 4, "kernel": 3, "padding": 1},  # 4×8×16×16
        {"type": "maxpool", "kernel": 2},  # 4×4×8×8
        {"type": "conv_transpose", "filters": 2, "kernel": 2, "stride": 2},  # 2×8×16×16
        "global_maxpool",
    ])
    assert [row.output_shape for row in report.layers] == [
        (4, 8, 16, 16), (4, 4, 8, 8), (2, 8, 16, 16), (2,)]
    # conv 4·2·27 + 4 = 220; transposed 4·2·8 + 2 = 66
    assert report.totals.params == 286
    # conv 4·2048·54 = 442,368; transposed by inputs 4·256·2·8 = 16,384
    assert report.totals.macs == 458_752
    assert report.layers[0].receptive_field is not None
    assert report.layers[0].receptive_field.size == (3, 3, 3)


def test_flat_input_network() -> None:
    """A flat [C] input works for linear layers and has no receptive field."""
    report = run([16], [{"type": "linear", "units": 8}, "relu", {"type": "linear", "units": 2}])
    assert report.output_shape == (2,)
    assert report.totals.params == 16 * 8 + 8 + 8 * 2 + 2


# ------------------------------------------------------ mul broadcasting, after and aux

SE_GATE = [{"type": "adaptive_avgpool", "output": 1}, {"type": "conv", "filters": 2,
                                                       "kernel": 1},
           "relu", {"type": "conv", "filters": 8, "kernel": 1}, "sigmoid"]
"""A squeeze-and-excitation gate on 8 channels: pooled 8×1×1, squeezed to 2, back to 8."""
SE_NETWORK = [
    {"type": "conv", "name": "stem", "filters": 8, "kernel": 3, "padding": 1},
    {"type": "parallel", "name": "se", "merge": "mul", "branches": [[], SE_GATE]},
    {"type": "conv", "name": "head", "filters": 4, "kernel": 3},
]
"""3×10×10 → stem 8×10×10 (field 3) → x times the gate → a 3×3 conv, 4×8×8."""


def test_squeeze_excite_shapes_flops_and_params_by_hand() -> None:
    """SE: 8×10×10 times 8×1×1 is 8×10×10, (2−1)·800 = 800 FLOPs, no MACs; the gate's
    pool sums 100 positions per channel (800 FLOPs), its convs 8·2+2 and 2·8+8 params."""
    report = run([3, 10, 10], SE_NETWORK)
    rows = {row.name: row for row in report.layers}
    assert names(report) == ["stem", "se.adaptive_avgpool1", "se.conv1", "se.relu1",
                             "se.conv2", "se.sigmoid1", "se.mul", "se", "head"]
    mul = rows["se.mul"]
    assert (mul.type, mul.input_shape, mul.output_shape) == ("mul", (8, 10, 10), (8, 10, 10))
    assert (mul.params, mul.macs, mul.flops) == (0, 0, 800)
    assert rows["se.conv1"].params == 18 and rows["se.conv2"].params == 24
    assert rows["se.conv1"].macs == 16 and rows["se.conv2"].macs == 16
    assert rows["se"].params == 42 and rows["se"].output_shape == (8, 10, 10)
    assert report.totals.params == 3 * 9 * 8 + 8 + 42 + 8 * 9 * 4 + 4


def test_squeeze_excite_local_field_and_global_context() -> None:
    """The gate is broadcast along H and W: the mul's field is the stem's 3×3 alone, and
    it and every later row (the block's row, the next conv) carry global context; the
    gate's own rows and the stem do not."""
    report = run([3, 10, 10], SE_NETWORK)
    rows = {row.name: row for row in report.layers}
    assert rows["se.mul"].receptive_field == ReceptiveField(
        size=(3, 3), stride=(1, 1), padding=(1, 1))
    assert rows["head"].receptive_field is not None
    assert rows["head"].receptive_field.size == (5, 5)
    context = {row.name for row in report.layers if row.global_context}
    assert context == {"se.mul", "se", "head"}
    assert not any(row.aux for row in report.layers)


def test_mul_broadcast_along_one_dim_keeps_the_other_dims_field() -> None:
    """A gate pooled along H only (8×1×10) is broadcast along H, not W: along W the mul's
    field is the union with the gate's (which saw all 10 rows and 3 columns), along H the
    stem's 3."""
    gate = [{"type": "adaptive_avgpool", "output": [1, 10]}, "sigmoid"]
    report = run([3, 10, 10], [SE_NETWORK[0], {"type": "parallel", "merge": "mul",
                                               "branches": [[], gate]}])
    mul = next(row for row in report.layers if row.type == "mul")
    assert mul.receptive_field is not None
    assert mul.receptive_field.size == (3, 3)
    assert mul.global_context


def test_mul_of_equal_shapes_is_local_with_no_global_context() -> None:
    """Two equal branches multiply with no broadcast: the union of their fields (3 and 5),
    and no global context."""
    conv = {"type": "conv", "filters": 2, "kernel": 3, "padding": 1}
    report = run([2, 8], [{"type": "parallel", "merge": "mul",
                           "branches": [[conv], [conv, conv]]}])
    mul = next(row for row in report.layers if row.type == "mul")
    assert mul.receptive_field is not None and mul.receptive_field.size == (5,)
    assert mul.flops == 16 and not mul.global_context


def test_mul_channel_broadcast_changes_no_field() -> None:
    """A 1×8 branch times an 8×8 one is broadcast over channels only: field kept, no
    global context."""
    report = run([4, 8], [{"type": "parallel", "merge": "mul", "branches": [
        [], [{"type": "conv", "filters": 1, "kernel": 3, "padding": 1}]]}])
    mul = next(row for row in report.layers if row.type == "mul")
    assert mul.output_shape == (4, 8)
    assert mul.receptive_field is not None and mul.receptive_field.size == (3,)
    assert not mul.global_context and mul.flops == 32


def test_mul_names_every_branch_shape_when_they_do_not_broadcast() -> None:
    """Shapes that do not broadcast are refused, naming every branch's shape."""
    with pytest.raises(LayerError) as raised:
        run([8, 6, 6], [{"type": "parallel", "name": "se", "merge": "mul", "branches": [
            [], [{"type": "adaptive_avgpool", "output": 1},
                 {"type": "conv", "filters": 4, "kernel": 1}]]}])
    assert raised.value.message == (
        "mul needs shapes that broadcast (equal rank, and in every dimension each branch "
        "the largest size or 1), the branches give 8×6×6, 4×1×1")
    assert raised.value.layer == "se"


def test_mul_refuses_unequal_ranks_and_add_stays_strict() -> None:
    """mul needs equal rank (8×6×6 and 8 do not broadcast); add refuses 8×6×6 + 8×1×1."""
    with pytest.raises(LayerError, match=r"the branches give 8×6×6, 8$"):
        run([8, 6, 6], [{"type": "parallel", "merge": "mul",
                         "branches": [[], ["global_avgpool"]]}])
    with pytest.raises(LayerError, match="add needs equal shapes"):
        run([8, 6, 6], [{"type": "parallel", "merge": "add",
                         "branches": [[], [{"type": "adaptive_avgpool", "output": 1}]]}])


def test_after_layers_are_rows_of_the_block() -> None:
    """after: a block named 0 in layer1 gives layer1.0.add, then layer1.0.relu, then the
    block's row; its subtotal counts the after rows, and names are unique with the bodies'."""
    block = {"type": "residual", "name": "0",
             "layers": [{"type": "conv", "name": "conv1", "filters": 2, "kernel": 3,
                         "padding": 1}, {"type": "relu", "name": "relu1"}],
             "after": [{"type": "relu", "name": "relu"}, "relu"]}
    report = run([2, 5, 5], [{"type": "sequential", "name": "layer1", "layers": [block]}])
    assert names(report) == ["layer1.0.conv1", "layer1.0.relu1", "layer1.0.add",
                             "layer1.0.relu", "layer1.0.relu2", "layer1.0", "layer1"]
    rows = {row.name: row for row in report.layers}
    assert rows["layer1.0.relu"].depth == 2 and rows["layer1.0"].depth == 1
    assert rows["layer1.0"].flops == rows["layer1.0.conv1"].flops + 3 * 50 + 50
    assert count_rows(network([2, 5, 5], [block]).layers) == 5 + 1


def test_after_names_clash_with_the_bodies() -> None:
    """A name in after that a body already uses is refused, as between siblings."""
    block = {"type": "parallel", "merge": "add", "branches": [[{"type": "relu",
                                                                "name": "act"}], []],
             "after": [{"type": "relu", "name": "act"}]}
    with pytest.raises(LayerError, match="the name 'act' is already used"):
        run([2, 5], [block])


def test_after_repeats_with_its_block() -> None:
    """repeat: 2 runs the bodies, the merge and the after layers twice."""
    block = {"type": "parallel", "name": "p", "merge": "add", "branches": [[], []],
             "after": ["relu"], "repeat": 2}
    assert names(run([2, 3], [block])) == ["p.0.add", "p.0.relu1", "p.0", "p.1.add",
                                          "p.1.relu1", "p.1", "p"]


AUX_NETWORK = [
    {"type": "conv", "name": "stem", "filters": 4, "kernel": 3},
    {"type": "aux", "name": "AuxLogits", "layers": [
        "global_avgpool", {"type": "linear", "name": "fc", "units": 3}]},
    {"type": "conv", "name": "body", "filters": 2, "kernel": 3},
]
"""1×6×6 → stem 4×4×4 (40 params, 576 MACs) → an aux head (global pool, 4→3 linear: 15
params, 12 MACs) → body on the stem's output: 2×2×2 (74 params, 288 MACs)."""


def test_aux_head_rows_and_totals_by_hand() -> None:
    """The aux rows carry aux: true, the main path goes on from the stem's output, and
    the totals count the head's parameters but not its MACs, FLOPs or memory."""
    report = run([1, 6, 6], AUX_NETWORK)
    rows = {row.name: row for row in report.layers}
    assert names(report) == ["stem", "AuxLogits.global_avgpool1", "AuxLogits.fc",
                             "AuxLogits", "body"]
    assert [row.aux for row in report.layers] == [False, True, True, True, False]
    assert rows["AuxLogits"].output_shape == (3,) and rows["AuxLogits"].input_shape == (4, 4, 4)
    assert rows["body"].input_shape == (4, 4, 4) and report.output_shape == (2, 2, 2)
    assert rows["AuxLogits"].receptive_field is None
    totals = report.totals
    assert totals.params == 40 + 15 + 74
    assert totals.macs == 576 + 288
    assert totals.flops == rows["stem"].flops + rows["body"].flops
    assert totals.activation_bytes == 4 * (64 + 8)
    assert totals.aux is not None
    assert (totals.aux.params, totals.aux.non_trainable_params, totals.aux.macs) == (15, 0, 12)
    assert totals.aux.flops == 64 + 2 * 12 + 3
    assert totals.aux.activation_bytes == 4 * (4 + 3)
    assert totals.param_bytes == 4 * 129


def test_aux_inside_a_container_keeps_its_numbers_apart() -> None:
    """A sequential holding an aux sums the head's params but not its MACs; the aux row
    sums its own head's MACs; totals.aux is null without a head."""
    report = run([1, 6, 6], [{"type": "sequential", "name": "s", "layers": AUX_NETWORK}])
    rows = {row.name: row for row in report.layers}
    assert rows["s"].params == 129 and rows["s"].macs == 864
    assert rows["s.AuxLogits"].macs == 12 and rows["s.AuxLogits"].aux
    assert not rows["s"].aux
    assert run([1, 6, 6], AUX_NETWORK[:1]).totals.aux is None


def test_aux_inside_aux_is_refused() -> None:
    """An aux head cannot hold another aux head."""
    inner = {"type": "aux", "name": "inner", "layers": ["relu"]}
    with pytest.raises(LayerError) as raised:
        run([1, 4], [{"type": "aux", "name": "outer", "layers": [
            {"type": "sequential", "layers": [inner]}]}])
    assert raised.value.message == ("an aux head cannot stand inside another aux head; "
                                    "move it out to the main path")
    assert raised.value.layer == "outer.sequential1.inner"


def test_aux_takes_no_repeat() -> None:
    """repeat on an aux is refused when the file is read, with what to do instead."""
    with pytest.raises(ValidationError, match="an aux head takes no repeat"):
        network([1, 4], [{"type": "aux", "layers": ["relu"], "repeat": 2}])


def test_aux_row_has_the_global_context_of_its_head() -> None:
    """An aux head on a global-context tensor: its rows have global context, and the main
    path keeps it."""
    report = run([3, 10, 10], [*SE_NETWORK[:2], {"type": "aux", "layers": ["relu"]},
                               SE_NETWORK[2]])
    rows = {row.name: row for row in report.layers}
    assert rows["aux1.relu1"].global_context and rows["aux1"].global_context
    assert rows["head"].global_context


def test_unknown_rows_mark_their_containers_and_make_the_totals_a_lower_bound() -> None:
    """An ``unknown`` row counts 0 and is marked, so is a container holding it, the totals
    say they are a lower bound, and the receptive field is untracked from it on.

    conv 3→8 3×3 on 32×32: 8·27 + 8 = 224 params, 8·30·30·27 = 194,400 MACs; the unknown
    row gives 8×15×15 as written; conv 8→4 3×3: 4·72 + 4 = 292 params, 4·13·13·72 = 48,672
    MACs. Totals 516 params, 243,072 MACs: the unknown rows add nothing.
    """
    report = run([3, 32, 32], [
        {"type": "conv", "filters": 8, "kernel": 3},
        {"type": "unknown", "name": "f1", "op": "Frobnicate", "output": [8, 15, 15]},
        {"type": "residual", "name": "r", "layers": ["relu"]},
        {"type": "conv", "filters": 4, "kernel": 3}])
    by_name = {row.name: row for row in report.layers}
    assert [name for name, row in by_name.items() if row.unknown] == ["f1"]
    assert by_name["f1"].output_shape == (8, 15, 15)
    assert (by_name["f1"].params, by_name["f1"].macs, by_name["f1"].flops) == (0, 0, 0)
    assert by_name["conv1"].receptive_field == ReceptiveField(size=(3, 3), stride=(1, 1),
                                                              padding=(0, 0))
    assert all(by_name[name].receptive_field is None for name in ("f1", "r.relu1", "conv2"))
    assert (report.totals.params, report.totals.macs) == (516, 243_072)
    assert report.totals.lower_bound is True
    inside = run([3, 8, 8], [{"type": "sequential", "name": "s", "layers": [
        "relu", {"type": "unknown", "op": "Frob", "output": [3, 8, 8]}]}, "relu"])
    assert [row.name for row in inside.layers if row.unknown] == ["s.unknown1", "s"]
    assert inside.totals.lower_bound is True


def test_a_network_without_unknown_rows_is_exact() -> None:
    """Without an ``unknown`` row no row is marked and the totals are not a lower bound."""
    report = run([3, 8, 8], [{"type": "residual", "layers": ["relu"]}, "flatten"])
    assert not any(row.unknown for row in report.layers)
    assert report.totals.lower_bound is False
