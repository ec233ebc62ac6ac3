"""Each ONNX operator and attribute the importer reads, in hand-built graphs.

Shapes are checked against onnx's reference evaluator (an independent implementation of
the operators), paddings against torch run with the padding the importer chose, and
counts against values worked by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx_graphs import (
    analysed,
    dag,
    init,
    layers,
    model_bytes,
    node,
    reference_shape,
    weight,
)

onnx = pytest.importorskip("onnx")

from convcalc.errors import SpecError


def _conv_model(size: tuple[int, int], kernel: int, stride: int, dilation: int = 1,
                **attrs: object) -> bytes:
    return model_bytes(
        [node("Conv", ["x", "w"], kernel_shape=[kernel, kernel], strides=[stride, stride],
              dilations=[dilation, dilation], **attrs)],
        [1, 2, *size], None, [weight("w", 4, 2, kernel, kernel)])


@pytest.mark.parametrize("auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize(("size", "kernel", "stride", "dilation"),
                         [((7, 8), 3, 2, 1), ((10, 9), 4, 3, 1), ((9, 9), 3, 1, 2)])
def test_conv_auto_pad_shapes_match_the_reference(auto_pad: str, size: tuple[int, int],
                                                   kernel: int, stride: int,
                                                   dilation: int) -> None:
    """Every auto_pad mode gives the output shape onnx's reference evaluator computes."""
    attrs = {"auto_pad": auto_pad}
    if auto_pad == "NOTSET":
        attrs["pads"] = [1, 0, 2, 1]  # type: ignore[assignment]  # ints, not a str
    data = _conv_model(size, kernel, stride, dilation, **attrs)
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 2, *size])


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_conv_same_padding_sides_match_torch(auto_pad: str) -> None:
    """The per-side padding chosen for SAME_* gives, in torch, the reference's values."""
    torch = pytest.importorskip("torch")
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(0)
    kernel_values = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    data = model_bytes([node("Conv", ["x", "w"], kernel_shape=[4, 4], strides=[2, 2],
                             auto_pad=auto_pad)], [1, 1, 7, 7], None,
                       [init("w", kernel_values)])
    (conv,) = layers(data)
    (before_h, after_h), (before_w, after_w) = conv["padding"]
    x = rng.standard_normal((1, 1, 7, 7)).astype(np.float32)
    expected = ReferenceEvaluator(onnx.load_model_from_string(data)).run(None, {"x": x})[0]
    padded = torch.nn.functional.pad(torch.from_numpy(x), (before_w, after_w, before_h, after_h))
    got = torch.nn.functional.conv2d(padded, torch.from_numpy(kernel_values), stride=2)
    assert np.allclose(got.numpy(), expected, atol=1e-5)
    # 7 wide, stride 2: 4 outputs, total padding (4 − 1)·2 + 4 − 7 = 3
    assert (before_h, after_h) == ((1, 2) if auto_pad == "SAME_UPPER" else (2, 1))


def test_conv_attributes_become_the_layer() -> None:
    """Asymmetric pads, dilations, group and a missing bias are read as written."""
    data = model_bytes([node("Conv", ["x", "w"], pads=[0, 1, 2, 3], dilations=[2, 1],
                             strides=[1, 2], group=2)], [1, 4, 16, 16], None,
                       [weight("w", 6, 2, 3, 3)])
    assert layers(data) == [{"type": "conv", "filters": 6, "kernel": 3, "stride": [1, 2],
                             "padding": [[0, 2], [1, 3]], "dilation": [2, 1], "groups": 2,
                             "bias": False}]
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 4, 16, 16])


def test_conv_depthwise_and_bias() -> None:
    """group equal to the channels is depthwise; a bias input counts one per filter."""
    data = model_bytes([node("Conv", ["x", "w", "b"], pads=[1, 1, 1, 1], group=8)],
                       [1, 8, 10, 10], None, [weight("w", 8, 1, 3, 3), weight("b", 8)])
    assert layers(data) == [{"type": "conv", "filters": 8, "kernel": 3, "padding": 1,
                             "groups": "depthwise"}]
    assert analysed(data).totals.params == 8 * 9 + 8


def test_conv_weight_that_does_not_fit_is_refused() -> None:
    """A weight reading other channels than the input has names the node."""
    data = model_bytes([node("Conv", ["x", "w"], name="c1")], [1, 3, 8, 8], None,
                       [weight("w", 4, 2, 3, 3)])
    with pytest.raises(SpecError, match=r"^m\.onnx: node 'c1' \(Conv\): weight 4×2×3×3 "
                                        r"with group=1 reads 2 channels, the input has 3$"):
        dag(data)


@pytest.mark.parametrize("attrs", [
    {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
    {"auto_pad": "SAME_UPPER"},
    {"strides": [3, 3], "dilations": [2, 2]},
])
def test_conv_transpose_shapes_match_the_reference(attrs: dict[str, object]) -> None:
    """ConvTranspose's output_padding, output_shape, auto_pad and dilations give the
    reference's output shape."""
    data = model_bytes([node("ConvTranspose", ["x", "w"], **attrs)], [1, 4, 5, 5], None,
                       [weight("w", 4, 3, 3, 3)])
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 4, 5, 5])


def test_conv_transpose_output_shape_matches_torch() -> None:
    """output_shape 9×9 from 5×5 at stride 2 is padding 1 each side: torch agrees."""
    torch = pytest.importorskip("torch")
    data = model_bytes([node("ConvTranspose", ["x", "w"], strides=[2, 2],
                             output_shape=[9, 10])], [1, 4, 5, 5], None,
                       [weight("w", 4, 3, 3, 3)])
    with pytest.raises(SpecError, match=r"pads \[1, 1\] before and \[1, 0\] after differ"):
        dag(data)  # 10 wide needs a crop of 1 on one side only
    data = model_bytes([node("ConvTranspose", ["x", "w"], strides=[2, 2],
                             output_shape=[9, 9])], [1, 4, 5, 5], None,
                       [weight("w", 4, 3, 3, 3)])
    (layer,) = layers(data)
    out = torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=layer["padding"])(
        torch.zeros(1, 4, 5, 5))
    assert tuple(out.shape[1:]) == tuple(analysed(data).output_shape) == (3, 9, 9)


def test_conv_transpose_counts_by_input_positions() -> None:
    """A 32→1 3×3 transposed conv on a 1×1 input: 288 MACs (the issue's example)."""
    data = model_bytes([node("ConvTranspose", ["x", "w"])], [1, 32, 1, 1], None,
                       [weight("w", 32, 1, 3, 3)])
    report = analysed(data)
    assert tuple(report.output_shape) == (1, 3, 3)
    assert report.totals.macs == 288


def test_conv_transpose_asymmetric_pads_are_refused() -> None:
    """Pads that differ before and after cannot be convcalc's symmetric crop."""
    data = model_bytes([node("ConvTranspose", ["x", "w"], name="up", pads=[0, 0, 1, 1],
                             strides=[2, 2])], [1, 4, 5, 5], None, [weight("w", 4, 3, 3, 3)])
    with pytest.raises(SpecError, match=r"node 'up' \(ConvTranspose\): pads \[0, 0\] before "
                                        r"and \[1, 1\] after differ"):
        dag(data)


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
    {"kernel_shape": [2, 2], "strides": [2, 2], "dilations": [2, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"},
    {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_LOWER"},
])
def test_max_pool_shapes_match_the_reference(attrs: dict[str, object]) -> None:
    """MaxPool's pads, ceil_mode, dilations and auto_pad give the reference's shape."""
    for size in (9, 10) if "auto_pad" not in attrs else (10,):  # see the test below
        data = model_bytes([node("MaxPool", ["x"], **attrs)], [1, 2, size, size])
        assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 2, size, size])


def test_max_pool_same_on_an_odd_size_by_hand() -> None:
    """SAME_LOWER on 9 at stride 2: ceil(9/2) = 5 outputs (the specification's rule), total
    padding (5 − 1)·2 + 3 − 9 = 2, one each side. (onnx's reference evaluator gives 4 here,
    against its own specification, so this case is worked by hand.)"""
    data = model_bytes([node("MaxPool", ["x"], kernel_shape=[3, 3], strides=[2, 2],
                             auto_pad="SAME_LOWER")], [1, 2, 9, 9])
    assert layers(data) == [{"type": "maxpool", "kernel": 3, "stride": 2, "padding": 1}]
    assert tuple(analysed(data).output_shape) == (2, 5, 5)


def test_max_pool_stride_defaults_to_one() -> None:
    """ONNX's MaxPool stride defaults to 1, not to the kernel as convcalc's."""
    data = model_bytes([node("MaxPool", ["x"], kernel_shape=[3, 3])], [1, 2, 10, 10])
    assert layers(data) == [{"type": "maxpool", "kernel": 3, "stride": 1}]
    assert tuple(analysed(data).output_shape) == (2, 8, 8)


@pytest.mark.parametrize("include", [0, 1])
def test_average_pool_count_include_pad(include: int) -> None:
    """count_include_pad is written as the file says (ONNX's default leaves pads out)."""
    data = model_bytes([node("AveragePool", ["x"], kernel_shape=[3, 3], strides=[2, 2],
                             pads=[1, 1, 1, 1], count_include_pad=include, ceil_mode=1)],
                       [1, 2, 10, 10])
    assert layers(data) == [{"type": "avgpool", "kernel": 3, "stride": 2, "padding": 1,
                             "ceil_mode": True, "count_include_pad": bool(include)}]
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 2, 10, 10])


def test_average_pool_dilations_are_refused() -> None:
    """convcalc's avgpool has no dilation: an opset-19 dilated AveragePool is refused."""
    data = model_bytes([node("AveragePool", ["x"], name="ap", kernel_shape=[2, 2],
                             dilations=[2, 2])], [1, 2, 10, 10], opset=19)
    with pytest.raises(SpecError, match=r"node 'ap' \(AveragePool\): dilations=\[2, 2\]; "
                                        r"convcalc's AveragePool has no dilation"):
        dag(data)


@pytest.mark.parametrize(("op", "kind"), [("GlobalAveragePool", "adaptive_avgpool"),
                                          ("GlobalMaxPool", "adaptive_maxpool")])
def test_global_pools_keep_one_position(op: str, kind: str) -> None:
    """Global pools keep N×C×1×1, as ONNX does."""
    data = model_bytes([node(op, ["x"])], [1, 5, 7, 7])
    assert layers(data) == [{"type": kind, "output": 1}]
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 5, 7, 7])


def test_gemm_trans_b_and_bias() -> None:
    """Gemm with transB=1 and a bias is linear with units = B's rows: 10·4 + 10 params."""
    data = model_bytes([node("Gemm", ["x", "w", "b"], transB=1)], [1, 4], None,
                       [weight("w", 10, 4), weight("b", 10)])
    assert layers(data) == [{"type": "linear", "units": 10}]
    assert analysed(data).totals.params == 50


def test_gemm_without_trans_b_and_bias() -> None:
    """Gemm with transB=0 reads B as K×N; no bias input means bias: false."""
    data = model_bytes([node("Gemm", ["x", "w"])], [1, 4], None, [weight("w", 4, 7)])
    assert layers(data) == [{"type": "linear", "units": 7, "bias": False}]


def test_gemm_alpha_is_refused() -> None:
    """alpha other than 1 scales the product: refused, naming the attribute."""
    data = model_bytes([node("Gemm", ["x", "w"], name="fc", alpha=2.0)], [1, 4], None,
                       [weight("w", 4, 7)])
    with pytest.raises(SpecError, match=r"node 'fc' \(Gemm\): alpha=2.0"):
        dag(data)


def test_matmul_and_add_fold_into_a_linear() -> None:
    """MatMul by an initializer then Add of a per-unit constant is one linear with bias."""
    data = model_bytes([node("MatMul", ["x", "w"], ["h"]), node("Add", ["h", "b"])],
                       [1, 6], None, [weight("w", 6, 3), weight("b", 3)])
    assert layers(data) == [{"type": "linear", "units": 3}]
    assert analysed(data).totals.params == 21


def test_add_and_mul_of_computed_tensors_are_merges() -> None:
    """Add and Mul of two computed tensors are add and mul merges (SE broadcast)."""
    data = model_bytes([
        node("Relu", ["x"], ["a"], name="r"),
        node("GlobalAveragePool", ["a"], ["g"], name="gap"),
        node("Sigmoid", ["g"], ["s"], name="gate"),
        node("Mul", ["a", "s"], ["m"], name="scale"),
        node("Add", ["m", "x"], name="sum"),
    ], [1, 4, 6, 6])
    walked = dag(data)
    assert [(n.name, n.inputs, n.merge) for n in walked.nodes if n.merge] == [
        ("scale", ("r", "gate"), "mul"), ("sum", ("scale", "input"), "add")]
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 4, 6, 6])


def test_mul_by_per_channel_constant_is_layer_scale() -> None:
    """Mul by a C×1×1 initializer is layer_scale, starting from the file's value."""
    data = model_bytes([node("Mul", ["x", "g"])], [1, 3, 4, 4], None,
                       [init("g", np.full((3, 1, 1), 1e-6))])
    assert layers(data) == [{"type": "layer_scale", "init": pytest.approx(1e-6)}]
    assert analysed(data).totals.params == 3


def test_mul_by_scalar_is_refused() -> None:
    """A Mul by one constant value is no convcalc layer: refused with the shape."""
    data = model_bytes([node("Mul", ["x", "k"], name="k2")], [1, 3, 4, 4], None,
                       [init("k", 2.0)])
    with pytest.raises(SpecError, match=r"node 'k2' \(Mul\): Mul by a constant of shape "
                                        r"a scalar: convcalc reads only a per-channel"):
        dag(data)


def test_concat_split_and_slice_on_channels() -> None:
    """Split and Slice on the channels are slices; Concat is a concat merge."""
    data = model_bytes([
        node("Split", ["x", "sizes"], ["a", "b"], axis=1),
        node("Relu", ["b"], ["rb"], name="r"),
        node("Slice", ["a", "starts", "ends", "axes"], ["s"], name="sl"),
        node("Concat", ["s", "rb"], axis=1, name="cat"),
    ], [1, 6, 4, 4], None, [init("sizes", [2, 4], np.int64), init("starts", [1], np.int64),
                            init("ends", [100], np.int64), init("axes", [1], np.int64)],
        opset=13)
    assert layers(data) == [{"type": "slice", "channels": [0, 2]},
                            {"type": "slice", "channels": [2, 6]}, {"type": "relu"},
                            {"type": "slice", "channels": [1, 2]}, {"merge": "concat"}]
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 6, 4, 4])


@pytest.mark.parametrize("opset", [11, 13, 18])
def test_split_signatures_by_opset(opset: int) -> None:
    """Split's sizes: an attribute before 13, an input from 13, num_outputs from 18."""
    if opset < 13:
        split = node("Split", ["x"], ["a", "b"], axis=1, split=[1, 3])
        inits = []
    elif opset < 18:
        split = node("Split", ["x", "sizes"], ["a", "b"], axis=1)
        inits = [init("sizes", [1, 3], np.int64)]
    else:
        split = node("Split", ["x"], ["a", "b"], axis=1, num_outputs=2)
        inits = []
    data = model_bytes([split, node("Concat", ["b", "a"], axis=1)], [1, 4, 2, 2], None,
                       inits, opset=opset)
    expected = [[0, 1], [1, 4]] if opset < 18 else [[0, 2], [2, 4]]
    assert [l_["channels"] for l_ in layers(data)[:2]] == expected
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 4, 2, 2])


def test_slice_attributes_before_opset_10() -> None:
    """Slice below opset 10 takes starts, ends and axes as attributes."""
    data = model_bytes([node("Slice", ["x"], starts=[2], ends=[5], axes=[1])],
                       [1, 6, 3, 3], opset=9)
    assert layers(data) == [{"type": "slice", "channels": [2, 5]}]


def test_slice_on_a_spatial_axis_is_refused() -> None:
    """Slicing positions is no convcalc layer: refused naming the axis."""
    data = model_bytes([node("Slice", ["x", "starts", "ends", "axes"], name="crop")],
                       [1, 6, 8, 8], None, [init("starts", [1], np.int64),
                                            init("ends", [5], np.int64),
                                            init("axes", [2], np.int64)])
    with pytest.raises(SpecError, match=r"node 'crop' \(Slice\): slices axis 2 \(1:5:1\)"):
        dag(data)


@pytest.mark.parametrize(("op", "attrs", "expected"), [
    ("Relu", {}, {"type": "relu"}),
    ("Sigmoid", {}, {"type": "sigmoid"}),
    ("Tanh", {}, {"type": "tanh"}),
    ("HardSwish", {}, {"type": "hardswish"}),
    ("Mish", {}, {"type": "mish"}),
    ("Gelu", {}, {"type": "gelu"}),
    ("LeakyRelu", {"alpha": 0.2}, {"type": "leaky_relu", "negative_slope": 0.2}),
    ("LeakyRelu", {}, {"type": "leaky_relu"}),
    ("Elu", {"alpha": 0.5}, {"type": "elu", "alpha": 0.5}),
    ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}, {"type": "hardsigmoid"}),
    ("Softmax", {"axis": 1}, {"type": "softmax"}),
    ("Dropout", {}, {"type": "dropout"}),
])
def test_activations(op: str, attrs: dict[str, object], expected: dict[str, object]) -> None:
    """Each activation becomes its convcalc type, its attributes read."""
    data = model_bytes([node(op, ["x"], **attrs)], [1, 3, 4, 4], opset=20)
    assert layers(data) == [expected]


def test_hard_sigmoid_with_onnx_defaults_is_refused() -> None:
    """ONNX's default HardSigmoid (alpha 0.2) is not PyTorch's: refused with both values."""
    data = model_bytes([node("HardSigmoid", ["x"], name="hs")], [1, 3, 4, 4])
    with pytest.raises(SpecError, match=r"alpha=0.2, beta=0.5; convcalc's hardsigmoid is"):
        dag(data)


def test_prelu_one_slope_and_per_channel() -> None:
    """PRelu's slope: one value is 1 parameter, one per channel is C."""
    one = model_bytes([node("PRelu", ["x", "s"])], [1, 3, 4, 4], None, [init("s", [0.25])])
    per = model_bytes([node("PRelu", ["x", "s"])], [1, 3, 4, 4], None,
                      [init("s", np.full((3, 1, 1), 0.1))])
    assert layers(one) == [{"type": "prelu"}]
    assert layers(per) == [{"type": "prelu", "per_channel": True, "init": pytest.approx(0.1)}]
    assert (analysed(one).totals.params, analysed(per).totals.params) == (1, 3)


@pytest.mark.parametrize(("opset", "low", "high", "expected"), [
    (6, 0.0, 6.0, "relu6"), (11, 0.0, 6.0, "relu6"), (13, 0.0, None, "relu")])
def test_clip_as_relu6(opset: int, low: float, high: float | None, expected: str) -> None:
    """Clip 0..6 is relu6 (attributes below opset 11, inputs from 11); 0.. is relu."""
    if opset < 11:
        clip = node("Clip", ["x"], min=low, max=high)
        inits = []
    else:
        names = ["x", "lo"] + (["hi"] if high is not None else [])
        clip = node("Clip", names)
        inits = [init("lo", low)] + ([init("hi", high)] if high is not None else [])
    data = model_bytes([clip], [1, 3, 4, 4], None, inits, opset=opset)
    assert layers(data) == [{"type": expected}]


def test_clip_other_bounds_are_refused() -> None:
    """Clip to -1..1 is no convcalc activation."""
    data = model_bytes([node("Clip", ["x", "lo", "hi"], name="cl")], [1, 3, 4, 4], None,
                       [init("lo", -1.0), init("hi", 1.0)])
    with pytest.raises(SpecError, match=r"node 'cl' \(Clip\): min=-1, max=1"):
        dag(data)


def test_softmax_over_spatial_axis_is_refused() -> None:
    """A softmax over the last spatial axis is not convcalc's (over the channels)."""
    data = model_bytes([node("Softmax", ["x"], name="sm")], [1, 3, 4, 4], opset=13)
    with pytest.raises(SpecError, match=r"node 'sm' \(Softmax\): axis=-1 \(opset 13\)"):
        dag(data)


def _torch_graph(module: object, opset: int, shape: tuple[int, ...]) -> bytes:
    torch = pytest.importorskip("torch")
    import io
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, torch.randn(*shape), buffer, dynamo=False,
                          opset_version=opset, input_names=["x"],
                          training=torch.onnx.TrainingMode.PRESERVE)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "expected"), [
    ("GELU", "gelu"), ("SiLU", "silu"), ("Mish", "mish"), ("Hardswish", "hardswish")])
def test_torch_multi_node_activations_fuse(name: str, expected: str) -> None:
    """torch's opset-13 spellings of GELU (erf), SiLU, Mish and Hardswish are one row."""
    torch = pytest.importorskip("torch")
    data = _torch_graph(getattr(torch.nn, name)(), 13, (1, 3, 4, 4))
    assert layers(data) == [{"type": expected}]


def test_sigmoid_gating_another_tensor_is_not_silu() -> None:
    """Sigmoid(g)·x with g ≠ x is a mul merge, not SiLU."""
    data = model_bytes([node("Sigmoid", ["x"], ["s"]), node("Relu", ["x"], ["r"]),
                        node("Mul", ["r", "s"])], [1, 3, 4, 4])
    assert layers(data) == [{"type": "sigmoid"}, {"type": "relu"}, {"merge": "mul"}]


def test_batch_norm_preserved_by_torch() -> None:
    """BatchNormalization: 2·C trainable and 2·C non-trainable, eps read."""
    torch = pytest.importorskip("torch")
    data = _torch_graph(torch.nn.BatchNorm2d(5, eps=1e-3).eval(), 13, (1, 5, 4, 4))
    assert layers(data) == [{"type": "batchnorm", "eps": pytest.approx(1e-3)}]
    report = analysed(data)
    assert (report.totals.params, report.totals.non_trainable_params) == (10, 10)


def test_instance_layer_and_group_norm() -> None:
    """InstanceNormalization, LayerNormalization on a flat tensor and GroupNormalization."""
    inorm = model_bytes([node("InstanceNormalization", ["x", "s", "b"], epsilon=1e-3)],
                        [1, 4, 5, 5], None, [weight("s", 4), weight("b", 4)])
    lnorm = model_bytes([node("LayerNormalization", ["x", "s"])], [1, 6], None,
                        [weight("s", 6)])
    gnorm = model_bytes([node("GroupNormalization", ["x", "s", "b"], num_groups=2)],
                        [1, 4, 5, 5], None, [weight("s", 4), weight("b", 4)], opset=21)
    assert layers(inorm) == [{"type": "instancenorm", "affine": True,
                              "eps": pytest.approx(1e-3)}]
    assert layers(lnorm) == [{"type": "layernorm", "bias": False}]
    assert layers(gnorm) == [{"type": "groupnorm", "groups": 2}]
    assert analysed(gnorm).totals.params == 8


def test_layer_norm_over_channels_and_positions_is_refused() -> None:
    """LayerNormalization from axis 1 of N×C×H×W normalises C·H·W together: refused."""
    data = model_bytes([node("LayerNormalization", ["x", "s"], name="ln", axis=1)],
                       [1, 4, 5, 5], None, [weight("s", 4, 5, 5)])
    with pytest.raises(SpecError, match=r"node 'ln' \(LayerNormalization\): axis=1 on"):
        dag(data)


def test_flatten_and_reshape_to_flat() -> None:
    """Flatten and a Reshape to N×(C·H·W) (torch's symbolic-batch spelling) are flatten."""
    torch = pytest.importorskip("torch")

    class Flat(torch.nn.Module):  # type: ignore[misc]  # torch's Module is untyped here
        def forward(self, x: object) -> object:
            return x.reshape(x.shape[0], -1)  # type: ignore[attr-defined]  # a tensor

    import io
    import warnings
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Flat(), torch.randn(2, 3, 4, 4), buffer, dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "N"}}, opset_version=13,
                          do_constant_folding=False)
    op_types = {n.op_type for n in onnx.load_model_from_string(buffer.getvalue()).graph.node}
    assert {"Shape", "Gather", "Reshape"} <= op_types
    assert layers(buffer.getvalue()) == [{"type": "flatten"}]
    flatten = model_bytes([node("Flatten", ["x"])], [1, 3, 4, 4])
    assert layers(flatten) == [{"type": "flatten"}]
    assert tuple(analysed(flatten).output_shape) == (48,)


def test_reshape_that_is_not_a_flatten_is_refused() -> None:
    """A Reshape of 3×4×4 to 12×4 is not a flatten: refused with both shapes."""
    data = model_bytes([node("Reshape", ["x", "s"], name="rs")], [1, 3, 4, 4], None,
                       [init("s", [1, 12, 4], np.int64)])
    with pytest.raises(SpecError, match=r"node 'rs' \(Reshape\): reshapes 3×4×4 per sample "
                                        r"to 12×4"):
        dag(data)


@pytest.mark.parametrize("opset", [2, 11, 13, 18])
def test_pad_signatures_by_opset(opset: int) -> None:
    """Pad's pads: an attribute before 11, an input from 11, with axes from 18."""
    inits = []
    if opset < 11:
        pad = node("Pad", ["x"], pads=[0, 0, 1, 2, 0, 0, 3, 4])
    elif opset < 18:
        pad = node("Pad", ["x", "p"])
        inits = [init("p", [0, 0, 1, 2, 0, 0, 3, 4], np.int64)]
    else:
        pad = node("Pad", ["x", "p", "", "axes"])
        inits = [init("p", [1, 2, 3, 4], np.int64), init("axes", [2, 3], np.int64)]
    data = model_bytes([pad], [1, 2, 5, 5], None, inits, opset=opset)
    assert layers(data) == [{"type": "pad", "padding": [[1, 3], [2, 4]]}]
    assert tuple(analysed(data).output_shape) == (2, 9, 11)


def test_torch_f_pad_subgraph_is_folded() -> None:
    """torch's F.pad writes its pads as a constant subgraph; it is evaluated."""
    torch = pytest.importorskip("torch")

    class Padded(torch.nn.Module):  # type: ignore[misc]  # torch's Module is untyped here
        def forward(self, x: object) -> object:
            return torch.nn.functional.pad(x, (1, 2, 3, 4))

    import io
    import warnings
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Padded(), torch.randn(1, 2, 5, 5), buffer, dynamo=False,
                          input_names=["x"], opset_version=13, do_constant_folding=False)
    assert layers(buffer.getvalue()) == [{"type": "pad", "padding": [[3, 4], [1, 2]]}]


def test_pad_reflect_is_refused() -> None:
    """Only zero padding is convcalc's pad."""
    data = model_bytes([node("Pad", ["x", "p"], name="rp", mode="reflect")], [1, 2, 5, 5],
                       None, [init("p", [0, 0, 1, 1, 0, 0, 1, 1], np.int64)])
    with pytest.raises(SpecError, match=r"node 'rp' \(Pad\): mode='reflect'"):
        dag(data)


@pytest.mark.parametrize(("opset", "mode", "expected"), [
    (9, "nearest", {"type": "upsample", "scale": 2}),
    (10, "linear", {"type": "upsample", "scale": 2, "mode": "linear"}),
    (13, "nearest", {"type": "upsample", "scale": 2}),
    (18, "linear", {"type": "upsample", "scale": 2, "mode": "linear"}),
])
def test_resize_and_upsample_scales(opset: int, mode: str, expected: dict[str, object]) \
        -> None:
    """Upsample (opset 9) and Resize (10, 13, 18) by scales; shapes as the reference's."""
    scales = init("sc", [1.0, 1.0, 2.0, 2.0])
    if opset < 10:
        resize = node("Upsample", ["x", "sc"], mode=mode)
    elif opset < 11:
        resize = node("Resize", ["x", "sc"], mode=mode)
    else:
        resize = node("Resize", ["x", "", "sc"], mode=mode)
    data = model_bytes([resize], [1, 2, 3, 3], None, [scales], opset=opset)
    assert layers(data) == [expected]
    assert tuple(analysed(data).output_shape) == (2, 6, 6)
    if opset >= 11:
        assert reference_shape(data, [1, 2, 3, 3]) == (2, 6, 6)


def test_resize_by_sizes() -> None:
    """Resize by sizes gives convcalc's upsample size."""
    data = model_bytes([node("Resize", ["x", "", "", "sz"])], [1, 2, 3, 3], None,
                       [init("sz", [1, 2, 7, 8], np.int64)], opset=13)
    assert layers(data) == [{"type": "upsample", "size": [7, 8]}]
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 2, 3, 3])


def test_resize_align_corners_linear_is_refused() -> None:
    """Linear Resize with align_corners is not convcalc's (PyTorch's align_corners=False)."""
    data = model_bytes([node("Resize", ["x", "", "sc"], name="rz", mode="linear",
                             coordinate_transformation_mode="align_corners")],
                       [1, 2, 3, 3], None, [init("sc", [1.0, 1.0, 2.0, 2.0])], opset=13)
    with pytest.raises(SpecError, match=r"node 'rz' \(Resize\): "
                                        r"coordinate_transformation_mode='align_corners'"):
        dag(data)


def test_identity_and_deduplicated_weights_are_followed() -> None:
    """Identity of a computed tensor is no row; Identity of a weight reaches the Conv."""
    data = model_bytes([node("Identity", ["w0"], ["w"], name="dedup"),
                        node("Identity", ["x"], ["x1"], name="pass"),
                        node("Conv", ["x1", "w"])], [1, 2, 5, 5], None,
                       [weight("w0", 3, 2, 1, 1)])
    assert layers(data) == [{"type": "conv", "filters": 3, "kernel": 1, "bias": False}]


def test_convnext_channels_last_block() -> None:
    """Transpose to NHWC, LayerNorm, MatMul+Add, Gelu, Mul by a per-channel constant and
    the Transpose back import as layernorm, 1×1 conv and layer_scale."""
    data = model_bytes([
        node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1], name="to_last"),
        node("LayerNormalization", ["t", "s", "b"], ["n"], epsilon=1e-6, name="norm"),
        node("MatMul", ["n", "w1"], ["h"], name="pw1"),
        node("Add", ["h", "b1"], ["hb"], name="pw1_bias"),
        node("Gelu", ["hb"], ["g"], name="act"),
        node("MatMul", ["g", "w2"], ["p"], name="pw2"),
        node("Mul", ["p", "gamma"], ["q"], name="scale"),
        node("Transpose", ["q"], ["y"], perm=[0, 3, 1, 2], name="to_first"),
    ], [1, 8, 5, 5], None,
        [weight("s", 8), weight("b", 8), weight("w1", 8, 32), weight("b1", 32),
         weight("w2", 32, 8), init("gamma", np.full(8, 1e-6))], opset=20)
    assert layers(data) == [
        {"type": "layernorm", "eps": pytest.approx(1e-6)},
        {"type": "conv", "filters": 32, "kernel": 1},
        {"type": "gelu"},
        {"type": "conv", "filters": 8, "kernel": 1, "bias": False},
        {"type": "layer_scale", "init": pytest.approx(1e-6)}]
    report = analysed(data)
    assert tuple(report.output_shape) == (8, 5, 5)
    assert report.totals.params == 16 + (8 * 32 + 32) + 32 * 8 + 8


def test_channels_last_conv_is_refused() -> None:
    """A Conv on a tensor left channels last is refused, naming the layout."""
    data = model_bytes([node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
                        node("MaxPool", ["t"], name="mp", kernel_shape=[2, 2])],
                       [1, 8, 6, 6])
    with pytest.raises(SpecError, match=r"node 'mp' \(MaxPool\): MaxPool on a channels-last"):
        dag(data)


def test_value_info_disagreement_names_the_node() -> None:
    """A value_info shape that convcalc's rules contradict is an error naming the node."""
    from onnx import TensorProto, helper
    data = model_bytes([node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2],
                             strides=[2, 2]), node("Relu", ["p"])], [1, 2, 8, 8], None,
                       value_info=[helper.make_tensor_value_info("p", TensorProto.FLOAT,
                                                                 [1, 2, 3, 4])])
    with pytest.raises(SpecError, match=r"^m\.onnx: node 'pool' \(MaxPool\): the file says "
                                        r"output 'p' is 1×2×3×4, convcalc's rules give "
                                        r"1×2×4×4$"):
        dag(data)


def test_value_info_that_agrees_passes() -> None:
    """value_info with a symbolic batch and the right dims is accepted."""
    from onnx import TensorProto, helper
    data = model_bytes([node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                        node("Relu", ["p"])], ["N", 2, 8, 8], ["N", 2, 4, 4],
                       value_info=[helper.make_tensor_value_info("p", TensorProto.FLOAT,
                                                                 ["N", 2, 4, 4])])
    assert dag(data).batch is None
    assert tuple(analysed(data).output_shape) == (2, 4, 4)


def test_dead_nodes_are_dropped() -> None:
    """Nodes the output does not depend on are not rows, and are not refused either."""
    data = model_bytes([node("Relu", ["x"], ["unused"], name="dead"),
                        node("Frobnicate", ["unused"], ["more"], name="deader"),
                        node("Sigmoid", ["x"], name="live")], [1, 2, 3, 3])
    assert [n.name for n in dag(data).nodes] == ["live"]


def test_gemm_flops_as_convcalc_counts_them() -> None:
    """A linear of 4→10 with bias: 40 MACs (one per weight)."""
    data = model_bytes([node("Gemm", ["x", "w", "b"], transB=1)], [1, 4], None,
                       [weight("w", 10, 4), weight("b", 10)])
    assert analysed(data).totals.macs == 40
    assert math.prod((10, 4)) == 40


@pytest.mark.parametrize("affine", [True, False])
def test_torch_group_norm_below_opset_18(affine: bool) -> None:
    """torch's opset-17 GroupNorm (Reshape, InstanceNormalization, Reshape, Mul, Add) is one
    groupnorm: 2·C parameters with affine, none without."""
    torch = pytest.importorskip("torch")
    module = torch.nn.GroupNorm(2, 8, affine=affine).eval()
    data = _torch_graph(module, 17, (1, 8, 4, 4))
    expected = {"type": "groupnorm", "groups": 2} | ({} if affine else {"affine": False})
    assert layers(data) == [expected]
    assert analysed(data).totals.params == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("affine", [True, False])
def test_torch_instance_norm_affine(affine: bool) -> None:
    """InstanceNorm2d's affine parameters are counted only when the module has them (torch
    writes fixed ones and zeros as Constant nodes otherwise)."""
    torch = pytest.importorskip("torch")
    module = torch.nn.InstanceNorm2d(6, affine=affine).eval()
    data = _torch_graph(module, 17, (1, 6, 4, 4))
    assert layers(data) == [{"type": "instancenorm", "affine": affine}]
    assert analysed(data).totals.params == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("opset", [13, 17])
def test_torch_layer_norm_decomposed_or_not(opset: int) -> None:
    """nn.LayerNorm on the last axis is layernorm at opset 17 and decomposed below it."""
    torch = pytest.importorskip("torch")
    module = torch.nn.LayerNorm(10, eps=1e-6).eval()
    data = _torch_graph(module, opset, (1, 10))
    assert layers(data) == [{"type": "layernorm", "eps": pytest.approx(1e-6)}]
    assert analysed(data).totals.params == 20


def test_torch_channel_shuffle() -> None:
    """ShuffleNet's view–transpose–view is channel_shuffle."""
    torch = pytest.importorskip("torch")

    class Shuffle(torch.nn.Module):  # type: ignore[misc]  # torch's Module is untyped here
        def forward(self, x: object) -> object:
            n, c, h, w = x.shape  # type: ignore[attr-defined]  # a tensor
            y = x.view(n, 3, c // 3, h, w)  # type: ignore[attr-defined]  # a tensor
            return torch.transpose(y, 1, 2).contiguous().view(n, -1, h, w)

    data = _torch_graph(Shuffle(), 13, (1, 12, 4, 4))
    assert layers(data) == [{"type": "channel_shuffle", "groups": 3}]


@pytest.mark.parametrize(("keepdims", "expected", "shape"), [
    (1, {"type": "adaptive_avgpool", "output": 1}, (4, 1, 1)),
    (0, {"type": "global_avgpool"}, (4,))])
def test_reduce_mean_over_positions_is_global_pooling(keepdims: int,
                                                      expected: dict[str, object],
                                                      shape: tuple[int, ...]) -> None:
    """ReduceMean over every spatial axis is global average pooling (x.mean([2, 3]))."""
    data = model_bytes([node("ReduceMean", ["x"], axes=[2, 3], keepdims=keepdims)],
                       [1, 4, 5, 5], opset=13)
    assert layers(data) == [expected]
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 4, 5, 5]) == shape


def test_reduce_mean_over_channels_is_refused() -> None:
    """A mean over the channels is not a pooling convcalc has."""
    data = model_bytes([node("ReduceMean", ["x"], name="rm", axes=[1])], [1, 4, 5, 5],
                       opset=13)
    with pytest.raises(SpecError, match=r"node 'rm' \(ReduceMean\): axes=\[1\]"):
        dag(data)


def test_channels_last_input() -> None:
    """An N×H×W×C input (a TensorFlow export) moved channels first is read as C×H×W."""
    data = model_bytes([node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
                        node("Conv", ["t", "w"], kernel_shape=[3, 3])], [1, 32, 24, 3],
                       None, [weight("w", 8, 3, 3, 3)])
    walked = dag(data)
    assert walked.input_shape == (3, 32, 24)
    assert tuple(analysed(data).output_shape) == (8, 30, 22)
    symbolic = model_bytes([node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
                            node("Conv", ["t", "w"], kernel_shape=[3, 3])],
                           ["N", "H", "W", 3], None, [weight("w", 8, 3, 3, 3)])
    assert dag(symbolic, input_shape=(3, 32, 24)).input_shape == (3, 32, 24)


def test_squeeze_of_pooled_positions_and_cast() -> None:
    """Squeeze of N×C×1×1 to N×C is a flatten; a Cast of a computed tensor is no row."""
    data = model_bytes([node("GlobalAveragePool", ["x"], ["g"]),
                        node("Cast", ["g"], ["c"], to=onnx.TensorProto.FLOAT),
                        node("Squeeze", ["c", "axes"])], [1, 6, 4, 4], None,
                       [init("axes", [2, 3], np.int64)], opset=13)
    assert layers(data) == [{"type": "adaptive_avgpool", "output": 1}, {"type": "flatten"}]
    assert tuple(analysed(data).output_shape) == reference_shape(data, [1, 6, 4, 4]) == (6,)


def test_squeeze_of_a_real_axis_is_refused() -> None:
    """Squeezing a spatial axis of size 1 while another stays is no convcalc layer."""
    data = model_bytes([node("Squeeze", ["x"], name="sq", axes=[2])], [1, 6, 1, 4], opset=11)
    with pytest.raises(SpecError, match=r"node 'sq' \(Squeeze\): squeezes axes \[2\]"):
        dag(data)


def test_value_info_of_the_graph_output_is_checked() -> None:
    """The graph output's stated shape is checked like any value_info."""
    data = model_bytes([node("MaxPool", ["x"], name="pool", kernel_shape=[2, 2],
                             strides=[2, 2])], ["N", 2, 8, 8], ["N", 2, 5, 5])
    with pytest.raises(SpecError, match=r"node 'pool' \(MaxPool\): the file says output 'y' "
                                        r"is \?×2×5×5, convcalc's rules give N×2×4×4"):
        dag(data)


@pytest.mark.parametrize("opset", [9, 11, 13, 17])
def test_torch_softmax_over_channels(opset: int) -> None:
    """nn.Softmax(dim=1) on N×C×H×W is softmax at every opset (below 13 torch moves the
    channels last around a Softmax, whose axis would flatten otherwise)."""
    torch = pytest.importorskip("torch")
    assert layers(_torch_graph(torch.nn.Softmax(dim=1), opset, (1, 3, 4, 5))) == [
        {"type": "softmax"}]


_INTERPOLATIONS = [
    ({"scale_factor": 2, "mode": "nearest"}, {"type": "upsample", "scale": 2}, (2, 8, 8)),
    ({"scale_factor": 2, "mode": "bilinear"},
     {"type": "upsample", "scale": 2, "mode": "linear"}, (2, 8, 8)),
    ({"size": (7, 9), "mode": "nearest"}, {"type": "upsample", "size": [7, 9]}, (2, 7, 9)),
]


@pytest.mark.parametrize(("opset", "options", "expected", "shape"), [
    (opset, *case) for opset in (9, 10, 11, 13, 17) for case in _INTERPOLATIONS
    if not (opset == 10 and "size" in case[0])])  # torch exports no fixed size at 10
def test_torch_interpolate_by_opset(opset: int, options: dict[str, object],
                                    expected: dict[str, object],
                                    shape: tuple[int, ...]) -> None:
    """F.interpolate as torch exports it at each opset (Upsample at 9, Resize after)."""
    torch = pytest.importorskip("torch")

    class Interpolate(torch.nn.Module):  # type: ignore[misc]  # torch's Module is untyped
        def forward(self, x: object) -> object:
            return torch.nn.functional.interpolate(x, **options)

    data = _torch_graph(Interpolate(), opset, (1, 2, 4, 4))
    assert layers(data) == [expected]
    assert tuple(analysed(data).output_shape) == shape


def test_one_and_three_dimensional_windows() -> None:
    """Conv1d with SAME_UPPER and a 3-D MaxPool give the reference's shapes."""
    conv1d = model_bytes([node("Conv", ["x", "w"], strides=[2], auto_pad="SAME_UPPER")],
                         [1, 2, 11], None, [weight("w", 3, 2, 4)])
    pool3d = model_bytes([node("MaxPool", ["x"], kernel_shape=[2, 3, 3], strides=[2, 2, 2],
                               pads=[0, 1, 1, 1, 1, 1])], [1, 2, 6, 9, 9])
    assert layers(conv1d) == [{"type": "conv", "filters": 3, "kernel": 4, "stride": 2,
                               "padding": [[1, 2]], "bias": False}]
    assert tuple(analysed(conv1d).output_shape) == reference_shape(conv1d, [1, 2, 11])
    assert tuple(analysed(pool3d).output_shape) == reference_shape(pool3d, [1, 2, 6, 9, 9])


@pytest.mark.parametrize("opset", [10, 13])
def test_dropout_ratio_by_opset(opset: int) -> None:
    """Dropout's ratio: an attribute before opset 12, an input from 12."""
    if opset < 12:
        data = model_bytes([node("Dropout", ["x"], ratio=0.25)], [1, 3, 4, 4], opset=opset)
    else:
        data = model_bytes([node("Dropout", ["x", "r"])], [1, 3, 4, 4], None,
                           [init("r", 0.25)], opset=opset)
    assert layers(data) == [{"type": "dropout", "p": 0.25}]


def test_upsample_scales_attribute_at_opset_7() -> None:
    """Upsample at opset 7 takes its scales as an attribute."""
    data = model_bytes([node("Upsample", ["x"], scales=[1.0, 1.0, 3.0, 2.0])], [1, 2, 3, 3],
                       opset=7)
    assert layers(data) == [{"type": "upsample", "scale": [3, 2]}]
    assert tuple(analysed(data).output_shape) == (2, 9, 6)


def test_gemm_trans_a_is_refused() -> None:
    """transA=1 would transpose the batch into the features: refused."""
    data = model_bytes([node("Gemm", ["x", "w"], name="fc", transA=1)], [1, 4], None,
                       [weight("w", 4, 7)])
    with pytest.raises(SpecError, match=r"node 'fc' \(Gemm\): transA=1"):
        dag(data)


def test_group_norm_per_group_scale_is_refused() -> None:
    """Opset 18's GroupNormalization with one scale per group is not convcalc's groupnorm
    (one per channel), whose count would differ."""
    data = model_bytes([node("GroupNormalization", ["x", "s", "b"], name="gn", num_groups=2)],
                       [1, 4, 5, 5], None, [weight("s", 2), weight("b", 2)], opset=18)
    with pytest.raises(SpecError, match=r"node 'gn' \(GroupNormalization\): scale 2 is one "
                                        r"per group \(opsets 18 to 20\)"):
        dag(data)


@pytest.mark.parametrize("arrangement", ["torch", "half_first", "half_last", "inverse_root"])
def test_erf_gelu_arrangements(arrangement: str) -> None:
    """x·0.5·(1 + erf(x/√2)) fuses to gelu whichever way the products are grouped."""
    root = [init("root", math.sqrt(2)), init("one", 1.0), init("half", 0.5),
            init("inv", 1 / math.sqrt(2))]
    scaled = (node("Mul", ["x", "inv"], ["d"], name="d") if arrangement == "inverse_root"
              else node("Div", ["x", "root"], ["d"], name="d"))
    head = [scaled, node("Erf", ["d"], ["e"], name="e"), node("Add", ["e", "one"], ["a"],
                                                              name="a")]
    if arrangement == "half_first":
        tail = [node("Mul", ["x", "half"], ["h"], name="h"), node("Mul", ["h", "a"], name="m")]
    elif arrangement == "half_last":
        tail = [node("Mul", ["a", "half"], ["h"], name="h"), node("Mul", ["x", "h"], name="m")]
    else:
        tail = [node("Mul", ["x", "a"], ["h"], name="h"), node("Mul", ["h", "half"], name="m")]
    data = model_bytes([*head, *tail], [1, 3, 4, 4], None, root)
    assert layers(data) == [{"type": "gelu"}]


def test_erf_gelu_with_a_shared_part_is_not_fused() -> None:
    """When another node reads a part of the pattern, nothing is fused (and the Div by a
    constant is refused)."""
    data = model_bytes([node("Div", ["x", "root"], ["d"], name="d"),
                        node("Erf", ["d"], ["e"], name="e"),
                        node("Add", ["e", "one"], ["a"], name="a"),
                        node("Mul", ["x", "a"], ["h"], name="h"),
                        node("Mul", ["h", "half"], ["g"], name="m"),
                        node("Add", ["g", "d"], name="leak")], [1, 3, 4, 4], None,
                       [init("root", math.sqrt(2)), init("one", 1.0), init("half", 0.5)])
    with pytest.raises(SpecError, match=r"unsupported operators: Div \(node 'd', "
                                        r"feeds 'e'\), Erf"):
        dag(data)


def test_grouped_conv_transpose() -> None:
    """ConvTranspose with group=2: filters = weight's second dim · group; torch's
    ConvTranspose2d(4, 6, 2, stride=2, groups=2) agrees on shape and parameters."""
    torch = pytest.importorskip("torch")
    data = model_bytes([node("ConvTranspose", ["x", "w"], group=2, strides=[2, 2])],
                       [1, 4, 3, 3], None, [weight("w", 4, 3, 2, 2)])
    assert layers(data) == [{"type": "conv_transpose", "filters": 6, "kernel": 2,
                             "stride": 2, "groups": 2, "bias": False}]
    module = torch.nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2, bias=False)
    report = analysed(data)
    assert tuple(report.output_shape) == tuple(module(torch.zeros(1, 4, 3, 3)).shape[1:])
    assert report.totals.params == sum(p.numel() for p in module.parameters()) == 48


def test_a_graph_that_is_not_series_parallel_imports_as_a_graph() -> None:
    """The N-shaped graph a → c, a → d ← b, out = c + d (a and b convs of x, c a conv of
    a, d = a + b) has no nesting of residual and parallel: it imports as a ``graph``
    container. Three 4→4 3×3 convs (pad 1) on 4×8×8: params 3·(4·4·9 + 4) = 444, MACs
    3·(4·4·9·64) = 27,648; the output reads x through two convs, a 5×5 field."""
    from convcalc.analysis import analyze
    from convcalc.loader import network_from_data
    from convcalc.onnx_import import import_onnx

    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    data = model_bytes(
        [node("Conv", ["x", "wa", "ba"], ["a"], name="a", **conv),
         node("Conv", ["x", "wb", "bb"], ["b"], name="b", **conv),
         node("Conv", ["a", "wc", "bc"], ["c"], name="c", **conv),
         node("Add", ["a", "b"], ["d"], name="d"),
         node("Add", ["c", "d"], ["y"], name="out")],
        [1, 4, 8, 8], None,
        [weight(f"w{n}", 4, 4, 3, 3) for n in "abc"] + [weight(f"b{n}", 4) for n in "abc"])
    network = import_onnx(data, name="n.onnx").network
    assert [layer["type"] for layer in network["layers"]] == ["graph"]
    report = analyze(network_from_data(network, "n.onnx").network)
    assert (report.totals.params, report.totals.macs) == (444, 27_648)
    assert tuple(report.output_shape) == reference_shape(data, [1, 4, 8, 8]) == (4, 8, 8)
    fields = {row.name: row.receptive_field for row in report.layers}
    assert {name: tuple(field.size) for name, field in fields.items() if field} == {
        "graph1.a": (3, 3), "graph1.b": (3, 3), "graph1.d": (3, 3), "graph1.c": (5, 5),
        "graph1.out": (5, 5), "graph1": (5, 5)}
