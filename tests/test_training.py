"""The training step's counts, worked by hand per layer type: backward MACs and FLOPs,
what autograd keeps, and the memory totals (docs/training.md)."""

from __future__ import annotations

from typing import Any

import pytest

from convcalc import LayerError, TrainingSpec, analyze
from convcalc.explain import explain
from convcalc.loader import network_from_data
from convcalc.results import DType, LayerRow, Report
from convcalc.training import Optimizer


def trained(layers: list[Any], shape: list[int], batch: int = 1,
            optimizer: Optimizer = Optimizer.sgd, dtype: DType = DType.float32) -> Report:
    """Return the report of ``layers`` on ``shape`` with a training step counted."""
    network = network_from_data({"input": shape, "layers": layers}, "<test>").network
    return analyze(network, batch=batch, dtype=dtype,
                   training=TrainingSpec(optimizer=optimizer))


def row(report: Report, name: str) -> LayerRow:
    (found,) = [r for r in report.layers if r.name == name]
    assert found.training is not None
    return found


def numbers(report: Report, name: str) -> tuple[int, int, int]:
    """Return a row's (backward MACs, backward FLOPs, saved bytes)."""
    training = row(report, name).training
    assert training is not None
    return training.backward_macs, training.backward_flops, training.saved_bytes


def test_without_the_flag_both_are_none() -> None:
    """Without ``training`` no row and no total carries training numbers."""
    network = network_from_data({"input": [3, 8, 8], "layers": [
        {"type": "conv", "filters": 4, "kernel": 3}]}, "<test>").network
    report = analyze(network)
    assert report.totals.training is None
    assert all(r.training is None for r in report.layers)


def test_first_conv_has_no_input_gradient() -> None:
    """ResNet's stem conv on 3×224×224: dW = 64·112·112·(3·7·7) MACs and no dX; its bias
    gradient adds one per output; it keeps the 3·224·224·4-byte input."""
    report = trained([{"type": "conv", "filters": 64, "kernel": 7, "stride": 2,
                       "padding": 3}], [3, 224, 224])
    dw = 64 * 112 * 112 * 3 * 49
    assert numbers(report, "conv1") == (dw, 2 * dw + 64 * 112 * 112, 3 * 224 * 224 * 4)


def test_second_conv_has_both_gradients_and_shares_the_relus_output() -> None:
    """conv → relu → conv: the second conv's dX and dW each equal its forward MACs; the
    ReLU keeps its output, which the second conv keeps as its input, counted once at the
    ReLU."""
    report = trained([{"type": "conv", "filters": 4, "kernel": 3, "padding": 1, "bias": False},
                      "relu",
                      {"type": "conv", "filters": 2, "kernel": 3, "padding": 1,
                       "bias": False}], [1, 5, 5], batch=2)
    forward = 2 * (2 * 5 * 5 * 4 * 9)  # batch 2
    assert numbers(report, "conv2") == (2 * forward, 4 * forward, 0)
    assert numbers(report, "relu1") == (0, 2 * 4 * 25, 2 * 4 * 25 * 4)
    assert numbers(report, "conv1")[2] == 2 * 25 * 4
    assert report.totals.training.saved_bytes == 2 * 25 * 4 + 2 * 4 * 25 * 4


def test_strided_dilated_grouped_conv_gradients_equal_the_forward() -> None:
    """A stride-2, dilation-2, 2-group conv after a weighted layer: dX = dW =
    filters·∏out·(C/groups)·∏K, its forward MACs."""
    report = trained([{"type": "conv", "filters": 4, "kernel": 1, "bias": False},
                      {"type": "conv", "filters": 6, "kernel": 3, "stride": 2, "dilation": 2,
                       "groups": 2, "bias": False}], [2, 9, 9])
    out = (9 - 4 - 1) // 2 + 1  # 3
    forward = 6 * out * out * (4 // 2) * 9
    assert row(report, "conv2").macs == forward
    assert numbers(report, "conv2")[0] == 2 * forward


def test_transposed_conv_counts_by_input_position() -> None:
    """A transposed conv after a conv: dX = dW = C·∏in·(filters/groups)·∏K."""
    report = trained([{"type": "conv", "filters": 2, "kernel": 1, "bias": False},
                      {"type": "conv_transpose", "filters": 4, "kernel": 3, "stride": 2,
                       "bias": False}], [1, 4, 4])
    assert numbers(report, "conv_transpose1")[0] == 2 * (2 * 16 * 4 * 9)


def test_asymmetric_padding_keeps_the_padded_copy() -> None:
    """A stride-1 ``same`` conv with an even kernel pads 1 before and 2 after: PyTorch pads
    1 on both sides in the conv and copies the input padded by the remaining 1."""
    report = trained([{"type": "conv", "filters": 1, "kernel": 4, "padding": "same"}],
                     [3, 8, 8])
    (saved,) = row(report, "conv1").training.saved
    assert (saved.what, saved.shape, saved.nbytes) == ("padded input", (3, 9, 9), 3 * 81 * 4)


def test_linear_layers() -> None:
    """linear 10→5, relu, linear 5→3: the first has dW = 50 MACs alone, the second dX = dW
    = 15; the relu's output is kept once, at the relu."""
    report = trained([{"type": "linear", "units": 5}, "relu", {"type": "linear", "units": 3}],
                     [10])
    assert numbers(report, "linear1") == (50, 100 + 5, 40)
    assert numbers(report, "relu1") == (0, 5, 20)
    assert numbers(report, "linear2") == (30, 60 + 3, 0)


def test_layers_before_the_first_weighted_layer_cost_nothing() -> None:
    """A ReLU and a max pool on the network's input need no gradient: nothing is computed
    or kept for them; the conv after them keeps the pool's output."""
    report = trained(["relu", {"type": "maxpool", "kernel": 2},
                      {"type": "conv", "filters": 2, "kernel": 1}], [1, 4, 4])
    assert numbers(report, "relu1") == (0, 0, 0)
    assert numbers(report, "maxpool1") == (0, 0, 0)
    assert numbers(report, "conv1")[2] == 4 * 4


def test_batchnorm_keeps_its_input_and_statistics() -> None:
    """batchnorm first on 4×3×3, batch 2: its input (2·36·4 bytes) and a float32 mean and
    inverse std per channel (4·4 each); dγ 2 and dβ 1 FLOPs per element, no dX."""
    report = trained(["batchnorm"], [4, 3, 3], batch=2)
    assert numbers(report, "batchnorm1") == (0, 3 * 72, 288 + 16 + 16)


def test_batchnorm_after_a_conv_adds_the_input_gradient() -> None:
    """After a conv the batchnorm's dX adds 4 FLOPs per element: 7 in all."""
    report = trained([{"type": "conv", "filters": 4, "kernel": 1}, "batchnorm"], [1, 3, 3])
    assert numbers(report, "batchnorm1")[1] == 7 * 36


def test_max_pool_keeps_its_input_and_int64_indices() -> None:
    """conv → maxpool 2: the pool keeps the conv's output (4·4·4·4 bytes) and one int64 per
    output (4·2·2·8); one add per output for the gradient."""
    report = trained([{"type": "conv", "filters": 4, "kernel": 1},
                      {"type": "maxpool", "kernel": 2}], [1, 4, 4])
    assert numbers(report, "maxpool1") == (0, 16, 256 + 128)


@pytest.mark.parametrize(("pool", "kept"), [
    ({"type": "global_avgpool"}, 0),
    ({"type": "adaptive_avgpool", "output": 1}, 0),
    ({"type": "adaptive_avgpool", "output": 2}, 2 * 16 * 4),
    ({"type": "global_maxpool"}, 2 * 16 * 4 + 2 * 8),
    ({"type": "avgpool", "kernel": 2}, 2 * 16 * 4),
])
def test_pools_keep_what_pytorch_keeps(pool: dict[str, Any], kept: int) -> None:
    """Average pooling to size 1 is a mean and keeps nothing; to a larger size, and plain
    average pooling, the input; global max pooling the input and an int64 index a channel."""
    report = trained([{"type": "conv", "filters": 2, "kernel": 1}, pool], [1, 4, 4])
    name = [r.name for r in report.layers][-1]
    assert numbers(report, name)[2] == kept


@pytest.mark.parametrize(("activation", "kept"), [
    ("relu", "output"), ("sigmoid", "output"), ("tanh", "output"), ("softmax", "output"),
    ("relu6", "input"), ("gelu", "input"), ("silu", "input"), ("hardswish", "input"),
])
def test_activations_keep_their_output_or_input(activation: str, kept: str) -> None:
    """Each activation keeps the tensor PyTorch computes its derivative from."""
    report = trained([{"type": "conv", "filters": 2, "kernel": 1}, activation], [1, 2, 2])
    (saved,) = row(report, f"{activation}1").training.saved
    assert saved.what == kept
    # the input is the conv's output, kept by nobody before: either way it is counted here
    assert saved.counted_at == f"{activation}1"


def test_dropout_keeps_a_float_mask_and_p0_is_a_view() -> None:
    """dropout p=0.5 keeps a float mask of its input's shape; p=0 returns its input, so the
    linear after it keeps the conv's output's own tensor."""
    report = trained([{"type": "linear", "units": 4}, {"type": "dropout", "p": 0.5},
                      {"type": "linear", "units": 2}], [3], batch=2)
    assert numbers(report, "dropout1") == (0, 8, 2 * 4 * 4)
    report = trained([{"type": "linear", "units": 4}, "relu", {"type": "dropout", "p": 0.0},
                      {"type": "linear", "units": 2}], [3])
    assert numbers(report, "dropout1") == (0, 0, 0)
    assert row(report, "linear2").training.saved[0].counted_at == "relu1"


def test_stochastic_depth_keeps_one_value_a_sample_or_one_a_batch() -> None:
    """Stochastic depth keeps its noise: one float a sample (row) or one for the batch."""
    for mode, kept in (("row", 3 * 4), ("batch", 4)):
        report = trained([{"type": "conv", "filters": 2, "kernel": 1},
                          {"type": "stochastic_depth", "p": 0.2, "mode": mode}], [1, 2, 2],
                         batch=3)
        assert numbers(report, "stochastic_depth1")[2] == kept


def test_flatten_is_a_view_so_the_tensor_is_counted_once() -> None:
    """relu → flatten → linear: the linear keeps the flattened ReLU output, the very
    tensor the ReLU keeps: counted once, at the ReLU."""
    report = trained([{"type": "conv", "filters": 2, "kernel": 1}, "relu", "flatten",
                      {"type": "linear", "units": 3}], [1, 2, 2])
    assert numbers(report, "linear1")[2] == 0
    assert row(report, "linear1").training.saved[0].counted_at == "relu1"


def test_groupnorm_copies_a_strided_slice() -> None:
    """A slice of some channels is a strided view at batch 2; groupnorm copies it first and
    keeps the copy (2·1·4 floats), the conv's output staying unkept."""
    report = trained([{"type": "conv", "filters": 2, "kernel": 1},
                      {"type": "slice", "channels": [1, 2]},
                      {"type": "groupnorm", "groups": 1}], [1, 4], batch=2)
    assert numbers(report, "groupnorm1")[2] == 2 * 4 * 4 + 2 * 4 + 2 * 4


def test_mul_keeps_both_branches_when_both_need_a_gradient() -> None:
    """A squeeze-and-excitation block: x times a sigmoid gate; the mul keeps x (the conv's
    output) and the gate's output, which the sigmoid already keeps."""
    report = trained([{"type": "conv", "filters": 2, "kernel": 1},
                      {"type": "parallel", "merge": "mul", "branches": [
                          [], [{"type": "adaptive_avgpool", "output": 1},
                               {"type": "conv", "filters": 2, "kernel": 1}, "sigmoid"]]}],
                     [1, 4, 4])
    mul = row(report, "parallel1.mul")
    assert [(t.what, t.counted_at) for t in mul.training.saved] == [
        ("branch 0", "parallel1.mul"), ("branch 1", "parallel1.sigmoid1")]
    assert mul.training.saved_bytes == 2 * 16 * 4
    # dX for each branch: 16·2 multiplies, and the gate's sum over 16 positions
    assert mul.training.backward_flops == 32 + 32 + (32 - 2)


def test_graph_and_repeat_are_walked() -> None:
    """A repeated residual block and a graph node: every turn's conv has its own numbers,
    and a container row carries its subtree's sums."""
    block = {"type": "residual", "repeat": 2, "layers": [
        {"type": "conv", "filters": 2, "kernel": 1, "bias": False}]}
    graph = {"type": "graph", "nodes": [
        {"type": "conv", "name": "a", "filters": 2, "kernel": 1, "bias": False},
        {"type": "conv", "name": "b", "filters": 2, "kernel": 1, "bias": False,
         "from": ["input"]},
        {"type": "add", "name": "sum", "from": ["a", "b"]}]}
    report = trained([{"type": "conv", "filters": 2, "kernel": 1, "bias": False}, block,
                      graph], [1, 3, 3])
    forward = 2 * 9 * 2  # each 2→2 1×1 conv on 3×3: filters·∏out·C
    assert numbers(report, "residual1.0.conv1")[0] == 2 * forward
    assert numbers(report, "residual1.1.conv1")[0] == 2 * forward
    assert numbers(report, "residual1")[0] == 4 * forward
    assert numbers(report, "graph1.a")[0] == 2 * forward
    assert numbers(report, "graph1")[0] == 4 * forward


@pytest.mark.parametrize(("optimizer", "copies"), [
    (Optimizer.sgd, 0), (Optimizer.momentum, 1), (Optimizer.adam, 2), (Optimizer.adamw, 2)])
def test_optimizer_state_and_peak(optimizer: Optimizer, copies: int) -> None:
    """conv 1→4 3×3 with batchnorm: 40 + 8 parameters, 8 running statistics and an int64
    count; the peak is their sum with the gradients, the state, the saved bytes and the
    largest transient."""
    report = trained([{"type": "conv", "filters": 4, "kernel": 3, "padding": 1},
                      "batchnorm"], [1, 4, 4], optimizer=optimizer)
    totals = report.totals.training
    assert totals is not None
    assert (totals.param_bytes, totals.grad_bytes, totals.buffer_bytes) == (192, 192, 40)
    assert totals.optimizer_bytes == copies * 192
    assert totals.master_bytes == 0
    # the batchnorm's output gradient and input gradient, 4·16 floats each
    assert (totals.transient_bytes, totals.transient_layer) == (512, "batchnorm1")
    saved = 64 + 256 + 16 + 16
    assert totals.saved_bytes == saved
    assert totals.peak_bytes == 192 + 40 + 192 + copies * 192 + saved + 512


def test_mixed_precision_keeps_float32_master_weights_and_state() -> None:
    """float16: parameters and gradients 2 bytes each, the Adam state and a master copy of
    the weights 4 bytes each; activations 2 bytes, the batchnorm's statistics float32."""
    report = trained([{"type": "conv", "filters": 4, "kernel": 3, "padding": 1},
                      "batchnorm"], [1, 4, 4], optimizer=Optimizer.adam, dtype=DType.float16)
    totals = report.totals.training
    assert totals is not None
    assert (totals.param_bytes, totals.grad_bytes, totals.optimizer_bytes,
            totals.master_bytes) == (96, 96, 2 * 48 * 4, 48 * 4)
    assert totals.saved_bytes == 32 + 128 + 16 + 16


def test_integer_training_is_refused() -> None:
    """int8 is no element type to train in."""
    with pytest.raises(LayerError, match="floating-point dtype"):
        trained([{"type": "conv", "filters": 1, "kernel": 1}], [1, 2, 2], dtype=DType.int8)


def test_explain_shows_the_backward_formulas() -> None:
    """--explain's lines for the stem conv: no dX, dW worked out, the input kept."""
    report = trained([{"type": "conv", "filters": 64, "kernel": 7, "stride": 2,
                       "padding": 3}], [3, 224, 224], batch=2)
    (explanation,) = explain(report)
    assert "dX: none (the input needs no gradient)" in explanation.lines
    assert "dW MACs = 2·64·112·112·(3·7·7) = 236,027,904 (batch 2)" in explanation.lines
    assert ("saved: input 3×224×224 float32, 2 samples = 1,204,224 bytes"
            in explanation.lines)


@pytest.mark.parametrize(("layer", "flops", "kept"), [
    # conv 1→2 1×1 on 1×2×2 gives 2×2×2 = 8 elements, 32 bytes
    ("layernorm", 7 * 8, 32 + 4 * 4 + 4 * 4),  # a mean and inverse std per position
    ("instancenorm", 4 * 8, 32 + 2 * 4 + 2 * 4),  # per channel, no affine
    ({"type": "instancenorm", "affine": True, "track_running_stats": True}, 7 * 8,
     32 + 2 * 4 + 2 * 4 + 2 * 4 + 2 * 2 * 4),  # and the γ and running-statistics copies
    ({"type": "groupnorm", "groups": 1}, 7 * 8, 32 + 4 + 4),  # one group
    ("prelu", 2 * 8, 32),
    ("layer_scale", 2 * 8, 32),
    ({"type": "upsample", "scale": 2}, 2 * 4 * 4, 0),  # one add per output element
    ({"type": "pad", "padding": 1}, 0, 0),
    ({"type": "channel_shuffle", "groups": 2}, 0, 0),
    ("leaky_relu", 8, 32),
    ("softmax", 3 * 8, 32),
])
def test_more_layer_types_by_hand(layer: Any, flops: int, kept: int) -> None:
    """After a conv, each type's backward FLOPs and kept bytes, worked by hand."""
    report = trained([{"type": "conv", "filters": 2, "kernel": 1, "bias": False}, layer],
                     [1, 2, 2])
    last = [r for r in report.layers if not r.container][-1]
    assert numbers(report, last.name)[1:] == (flops, kept)


def test_add_and_concat_keep_nothing() -> None:
    """A residual add and a concat hand their gradient on: nothing computed or kept."""
    for merge in ("add", "concat"):
        report = trained([{"type": "conv", "filters": 2, "kernel": 1},
                          {"type": "parallel", "merge": merge, "branches": [
                              [], [{"type": "conv", "filters": 2, "kernel": 1}]]}],
                         [1, 2, 2])
        assert numbers(report, f"parallel1.{merge}") == (0, 0, 0)
