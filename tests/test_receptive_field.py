"""Hand-worked receptive fields: the lecture's rule, Araujo et al.'s published values, merges.

Receptive fields follow Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional
Neural Networks" (Distill, 2019): size r, effective stride S and effective padding P, with
r += (K − 1)·D·S, P += p_before·S, S ×= s through each sliding window.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from convcalc import LayerError, ReceptiveField, Report, analyze, load_network
from convcalc.geometry import ResampleMap, TransposedWindowMap, WindowMap
from convcalc.receptive_field import AxisField, StrideMismatch, merge_fields
from convcalc.spec import Network

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(input_shape: list[int], layers: list[Any]) -> Report:
    """Return the report of a network given as plain data."""
    return analyze(Network.model_validate({"input": input_shape, "layers": layers}))


def field(report: Report, name: str) -> ReceptiveField | None:
    """Return the receptive field of the row called ``name``."""
    (row,) = [r for r in report.layers if r.name == name]
    return row.receptive_field


def rf(size: int, stride: int | float, padding: int, rank: int = 2) -> ReceptiveField:
    """Return the same receptive field along each of ``rank`` dims."""
    return ReceptiveField(size=(size,) * rank, stride=(stride,) * rank,
                          padding=(padding,) * rank)


# ------------------------------------------------------------------ the lecture


@pytest.mark.parametrize(("kernel", "layers"), [(3, 1), (3, 2), (3, 5), (5, 3), (7, 4)])
def test_lecture_stacked_convs(kernel: int, layers: int) -> None:
    """L stacked K×K stride-1 convs see 1 + L·(K − 1) inputs, as the lecture says."""
    pad = (kernel - 1) // 2
    report = run([3, 64, 64], [{"type": "conv", "filters": 8, "kernel": kernel,
                                "padding": pad}] * layers)
    assert report.layers[-1].receptive_field == rf(1 + layers * (kernel - 1), 1,
                                                   layers * pad)


def test_lecture_exercise_field() -> None:
    """The lecture's exercise conv (5×5, pad 2) sees 5×5 inputs, starting 2 before the image."""
    report = run([3, 32, 32], [{"type": "conv", "filters": 10, "kernel": 5, "padding": 2}])
    assert report.layers[0].receptive_field == rf(5, 1, 2)


def test_downsampling_grows_the_field_faster() -> None:
    """After a stride-2 layer each 3×3 conv adds (3 − 1)·2 = 4, not 2."""
    report = run([1, 32], [
        {"type": "conv", "filters": 1, "kernel": 3, "name": "a"},  # r 3, S 1
        {"type": "maxpool", "kernel": 2, "name": "pool"},  # r 3 + 1 = 4, S 2
        {"type": "conv", "filters": 1, "kernel": 3, "name": "b"},  # r 4 + 2·2 = 8
    ])
    assert field(report, "pool") == rf(4, 2, 0, rank=1)
    assert field(report, "b") == rf(8, 2, 0, rank=1)


def test_dilation_multiplies_the_growth() -> None:
    """A 3-tap conv at dilation 4 adds (3 − 1)·4 = 8: r = 1 + 8 = 9, P = 4 with padding 4."""
    report = run([1, 32], [{"type": "conv", "filters": 1, "kernel": 3, "dilation": 4,
                            "padding": 4}])
    assert report.layers[0].receptive_field == rf(9, 1, 4, rank=1)


def test_asymmetric_kernel_field_per_dim() -> None:
    """A 3×7 conv with stride [1, 2] and padding [1, 3] has a field per dim."""
    report = run([1, 16, 16], [{"type": "conv", "filters": 1, "kernel": [3, 7],
                                "stride": [1, 2], "padding": [1, 3]}])
    assert report.layers[0].receptive_field == ReceptiveField(
        size=(3, 7), stride=(1, 2), padding=(1, 3))


def test_padding_uses_the_before_side() -> None:
    """Effective padding counts the padding before the input only: [[2, 0]] gives P = 2."""
    report = run([1, 8], [{"type": "conv", "filters": 1, "kernel": 3,
                           "padding": [[2, 0]]}])
    assert report.layers[0].receptive_field == rf(3, 1, 2, rank=1)


def test_same_padding_field() -> None:
    """padding: same on 224, K7, S2 pads (2, 3): the field starts 2 before the image."""
    report = run([3, 224, 224], [{"type": "conv", "filters": 8, "kernel": 7, "stride": 2,
                                  "padding": "same"}])
    assert report.layers[0].receptive_field == rf(7, 2, 2)


def test_pad_layer_shifts_the_field() -> None:
    """An explicit pad of 2 then a valid 3×3 conv: the same field as a conv with padding 2."""
    report = run([1, 8], [{"type": "pad", "padding": 2, "name": "pad"},
                          {"type": "conv", "filters": 1, "kernel": 3, "name": "conv"}])
    assert field(report, "pad") == rf(1, 1, 2, rank=1)
    assert field(report, "conv") == rf(3, 1, 2, rank=1)


def test_elementwise_layers_keep_the_field() -> None:
    """batchnorm, activations and dropout leave the field as it was."""
    report = run([2, 16], [{"type": "conv", "filters": 2, "kernel": 5, "stride": 2}, "batchnorm",
                           "relu", {"type": "dropout", "p": 0.1}, "gelu"])
    assert {r.receptive_field for r in report.layers} == {rf(5, 2, 0, rank=1)}


# ------------------------------------------------------------------ published networks


def test_vgg16_pool5_matches_araujo() -> None:
    """VGG-16's pool5 has r = 212, S = 32, P = 90, the values Araujo et al. publish."""
    report = analyze(load_network(EXAMPLES / "vgg16.yaml").network)
    (pool5,) = [r for r in report.layers if r.name == "features.30"]
    assert pool5.type == "maxpool"
    assert pool5.output_shape == (512, 7, 7)
    # r: 5 → 6 (pool) → 14 → 16 → 40 → 44 → 92 → 100 → 196 → 212, S doubling at each pool;
    # P: 2 + 2·2 + 3·4 + 3·8 + 3·16 = 90
    assert pool5.receptive_field == rf(212, 32, 90)


def test_vgg16_first_stage() -> None:
    """VGG-16's first stage: two 3×3 convs see 5×5, the 2×2 pool makes it 6×6 at stride 2."""
    report = analyze(load_network(EXAMPLES / "vgg16.yaml").network)
    assert field(report, "features.0") == rf(3, 1, 1)
    assert field(report, "features.2") == rf(5, 1, 2)
    assert field(report, "features.4") == rf(6, 2, 2)


def test_vgg16_classifier_is_global() -> None:
    """After VGG-16's flatten the field is global (None), and the adaptive pool to 7×7 is not."""
    report = analyze(load_network(EXAMPLES / "vgg16.yaml").network)
    assert field(report, "avgpool") == rf(212, 32, 90)  # 7 → 7: each output reads one input
    assert field(report, "flatten") is None
    assert field(report, "classifier.0") is None
    assert field(report, "classifier") is None


def test_resnet18_stem_and_first_blocks() -> None:
    """ResNet-18: conv1 r7 S2 P3, maxpool r11 S4 P5, layer1.0 r27, layer2.0 r67 S8 P33."""
    report = analyze(load_network(EXAMPLES / "resnet18.yaml").network)
    assert field(report, "conv1") == rf(7, 2, 3)
    # maxpool K3 S2 P1: r 7 + 2·2 = 11, P 3 + 1·2 = 5, S 4
    assert field(report, "maxpool") == rf(11, 4, 5)
    # two 3×3 convs at S 4: r 11 + 8 + 8 = 27, P 5 + 4 + 4 = 13
    assert field(report, "layer1.0.conv1") == rf(19, 4, 9)
    assert field(report, "layer1.0.conv2") == rf(27, 4, 13)
    # the identity shortcut (r 11, P 5) lies inside the main path's field
    assert field(report, "layer1.0.add") == rf(27, 4, 13)
    assert field(report, "layer1") == rf(43, 4, 21)
    # layer2.0: 3×3 stride 2 at S 4 adds 8, 3×3 at S 8 adds 16: 43 + 24 = 67
    assert field(report, "layer2.0.conv1") == rf(51, 8, 25)
    assert field(report, "layer2.0.downsample.0") == rf(43, 8, 21)  # 1×1 stride 2
    assert field(report, "layer2.0") == rf(67, 8, 33)


def test_resnet18_last_stage() -> None:
    """ResNet-18's layer4 ends at r = 435, S = 32, P = 217, worked block by block."""
    report = analyze(load_network(EXAMPLES / "resnet18.yaml").network)
    # each stride-1 block adds 4·S to r and 2·S to P, each downsampling block 6·S and 3·S:
    # layer2 67, 99; layer3 147, 211; layer4 211 + 96 = 307, 307 + 128 = 435
    assert field(report, "layer4.0") == rf(307, 32, 153)
    assert field(report, "layer4") == rf(435, 32, 217)
    # the adaptive pool to 1×1 reads all 7 positions: r 435 + 6·32 = 627, S 7·32 = 224
    assert field(report, "avgpool") == rf(627, 224, 217)
    assert field(report, "fc") is None


def test_mobilenet_v1_size_and_stride() -> None:
    """MobileNetV1 (torch padding) ends at r = 315, S = 32, as Araujo et al. publish."""
    report = analyze(load_network(EXAMPLES / "mobilenet_v1.yaml").network)
    # symmetric padding 1 everywhere gives P = 157; TF's same padding gives Araujo's 126
    assert field(report, "features") == rf(315, 32, 157)


def test_mobilenet_v1_same_padding_matches_araujo() -> None:
    """MobileNetV1 with TF's same padding has r = 315, S = 32, P = 126, Araujo et al.'s values."""
    strides = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
    layers: list[Any] = [{"type": "conv", "filters": 32, "kernel": 3, "stride": 2,
                          "padding": "same"}]
    channels = 32
    for stride, filters in zip(strides, [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512,
                                         1024, 1024], strict=True):
        layers.append({"type": "conv", "filters": channels, "kernel": 3, "stride": stride,
                       "padding": "same", "groups": channels})
        layers.append({"type": "conv", "filters": filters, "kernel": 1})
        channels = filters
    report = run([3, 224, 224], layers)
    # a stride-2 same pad on an even size is (0, 1), so those five layers add nothing to P:
    # 157 − (1 + 2 + 4 + 8 + 16) = 126
    assert report.layers[-1].output_shape == (1024, 7, 7)
    assert report.layers[-1].receptive_field == rf(315, 32, 126)


# ------------------------------------------------------------------ upsampling, transposed


def test_nearest_upsample_after_a_conv() -> None:
    """Nearest ×2 after a 3×3 conv: both copies see the conv's 3 inputs, stride 1/2."""
    report = run([1, 8], [{"type": "conv", "filters": 1, "kernel": 3, "padding": 1},
                          {"type": "upsample", "scale": 2, "name": "up"}])
    assert field(report, "up") == rf(3, 0.5, 1, rank=1)


def test_linear_upsample_after_a_conv() -> None:
    """Linear ×2 after a 3×3 conv reads two neighbouring conv units: size 4, stride 1/2, P 2."""
    report = run([1, 8], [{"type": "conv", "filters": 1, "kernel": 3, "padding": 1},
                          {"type": "upsample", "scale": 2, "mode": "linear", "name": "up"}])
    # output 0 reads conv units −1 and 0: inputs −2..1; output 1 reads units 0, 1: −1..2
    assert field(report, "up") == rf(4, 0.5, 2, rank=1)


def test_conv_after_upsample_grows_by_half_steps() -> None:
    """A 3×3 conv after nearest ×2 reads 3 upsampled units = 2 distinct inputs: r 2, S 1/2."""
    report = run([1, 8], [{"type": "upsample", "scale": 2},
                          {"type": "conv", "filters": 1, "kernel": 3, "padding": 1,
                           "name": "conv"}])
    # unit 0 reads up-units −1, 0, 1 = inputs −1, 0, 0; unit 1 reads inputs 0, 0, 1
    assert field(report, "conv") == rf(2, 0.5, 1, rank=1)


def test_upsample_then_pool_back_to_stride_one() -> None:
    """Nearest ×2 then a 2×2 stride-2 pool gives back stride 1 and a field of 1."""
    report = run([1, 8], [{"type": "upsample", "scale": 2},
                          {"type": "maxpool", "kernel": 2, "name": "pool"}])
    assert field(report, "pool") == rf(1, 1, 0, rank=1)


def test_transposed_conv_field() -> None:
    """A K3 S2 P1 transposed conv: even outputs read 1 input, odd ones 2; stride 1/2, P 0."""
    report = run([1, 8], [{"type": "conv_transpose", "filters": 1, "kernel": 3, "stride": 2,
                           "padding": 1, "name": "up"},
                          {"type": "conv", "filters": 1, "kernel": 3, "padding": 1,
                           "name": "conv"}])
    assert field(report, "up") == rf(2, 0.5, 0, rank=1)
    # conv unit 0 reads up-units −1..1 = inputs −1..1 (3); unit 1 reads 0..2 = inputs 0..1
    assert field(report, "conv") == rf(3, 0.5, 1, rank=1)


def test_unet_up_conv_field() -> None:
    """A 2×2 stride-2 transposed conv after a stride-2 pool: each output sees the pool's 2."""
    report = run([1, 16], [{"type": "maxpool", "kernel": 2},
                           {"type": "conv_transpose", "filters": 1, "kernel": 2, "stride": 2,
                            "name": "up"}])
    assert field(report, "up") == rf(2, 1, 0, rank=1)


def test_axis_field_through_upsample_is_periodic() -> None:
    """The walk keeps one period of units: nearest ×2 of a stride-1 field has period 2."""
    conv = AxisField.identity().through(WindowMap(3, 1, 1, 1))
    assert conv == AxisField(1, 1, (-1,), (1,))
    up = conv.through(ResampleMap(8, 16, linear=False))
    assert up == AxisField(period=2, shift=1, lefts=(-1, -1), rights=(1, 1))
    assert up.stride == Fraction(1, 2)
    assert (up.size, up.padding) == (3, 1)
    assert up.edges(5) == (1, 3)  # unit 5 = unit 1 shifted by 2 periods


# ------------------------------------------------------------------ merges


def test_residual_merge_takes_the_widest_edges() -> None:
    """At a merge P is the largest padding and the right edge the largest: r 5, P 2."""
    report = run([1, 8], [{"type": "residual", "name": "block",
                           "layers": [{"type": "conv", "filters": 1, "kernel": 3,
                                       "padding": [[0, 2]], "name": "right"}],
                           "shortcut": [{"type": "conv", "filters": 1, "kernel": 3,
                                         "padding": [[2, 0]], "name": "left"}]}])
    assert field(report, "block.right") == rf(3, 1, 0, rank=1)  # inputs 0..2
    assert field(report, "block.left") == rf(3, 1, 2, rank=1)  # inputs −2..0
    # the union is −2..2: size 5, P = max(0, 2) = 2
    assert field(report, "block.add") == rf(5, 1, 2, rank=1)
    assert field(report, "block") == rf(5, 1, 2, rank=1)


def test_identity_shortcut_keeps_the_input_unit() -> None:
    """A residual with an identity shortcut around a padded 3×3 conv: r 3, P 1."""
    report = run([1, 8], [{"type": "residual", "name": "block",
                           "layers": [{"type": "conv", "filters": 1, "kernel": 3,
                                       "padding": 1}]}])
    assert field(report, "block") == rf(3, 1, 1, rank=1)


def test_parallel_concat_merge() -> None:
    """Inception-style branches 1×1, 3×3, 5×5 (same sizes) merge to the 5×5's field."""
    report = run([4, 16, 16], [{"type": "parallel", "name": "mixed", "branches": [
        [{"type": "conv", "filters": 2, "kernel": 1}],
        [{"type": "conv", "filters": 2, "kernel": 3, "padding": 1}],
        [{"type": "conv", "filters": 2, "kernel": 5, "padding": 2}],
        [],
    ]}])
    assert field(report, "mixed.concat") == rf(5, 1, 2)


def test_stride_mismatch_at_a_merge_is_an_error() -> None:
    """Branches of equal shape but different effective strides cannot merge: a clear error."""
    with pytest.raises(LayerError) as raised:
        run([1, 8], [{"type": "residual", "name": "block",
                      # 8 → 4 at stride 2, and 8 → 4 at stride 1 (a valid 5-tap conv)
                      "layers": [{"type": "conv", "filters": 1, "kernel": 1, "stride": 2}],
                      "shortcut": [{"type": "conv", "filters": 1, "kernel": 5}]}])
    error = raised.value
    assert error.message == (
        "the branches reach the merge with different effective strides (1, 2), so their "
        "units do not line up; make every branch downsample alike"
    )
    assert error.layer == "block"
    assert error.location == ("layers", 0)
    assert str(error) == f"layers[0]: layer 'block': {error.message}"


def test_merge_fields_raises_on_stride_mismatch() -> None:
    """merge_fields raises StrideMismatch with the sorted strides."""
    one = AxisField.identity()
    two = one.through(WindowMap(1, 2, 1, 0))
    with pytest.raises(StrideMismatch) as raised:
        merge_fields([two, one])
    assert raised.value.args[0] == [Fraction(1), Fraction(2)]


def test_merge_fields_of_different_periods() -> None:
    """Merging a period-2 field with a period-1 field of equal stride spans both periods."""
    pooled = AxisField.identity().through(WindowMap(2, 2, 1, 0))  # stride 2, period 1
    back = pooled.through(TransposedWindowMap(2, 2, 1, 0))  # stride 1, period 2
    assert back == AxisField(2, 2, (0, 0), (1, 1))
    merged = merge_fields([back, AxisField.identity()])
    assert merged == AxisField(2, 2, (0, 0), (1, 1))


# ------------------------------------------------------------------ global layers


@pytest.mark.parametrize("layer", ["flatten", "global_avgpool", "global_maxpool"])
def test_global_layers_end_the_field(layer: str) -> None:
    """After flatten or global pooling the field is None, and stays None after a linear."""
    report = run([3, 8, 8], [{"type": "conv", "filters": 4, "kernel": 3}, layer,
                             {"type": "linear", "units": 2}])
    assert report.layers[0].receptive_field == rf(3, 1, 0)
    assert report.layers[1].receptive_field is None
    assert report.layers[2].receptive_field is None


def test_flat_input_has_no_field() -> None:
    """A network on a flat [C] input has no receptive field anywhere."""
    report = run([16], [{"type": "linear", "units": 4}, "relu"])
    assert [r.receptive_field for r in report.layers] == [None, None]


def test_merge_with_a_global_branch_is_global() -> None:
    """A merge where one branch went global is global."""
    report = run([4, 8, 8], [{"type": "global_avgpool"}, {"type": "parallel", "name": "p",
                                                        "merge": "add",
                                                        "branches": [[], ["relu"]]}])
    assert field(report, "p") is None


def test_too_long_a_period_is_untracked() -> None:
    """An upsampling whose period passes MAX_PERIOD stops the field with a warning."""
    report = run([1, 4097], [{"type": "upsample", "size": 4098, "name": "up"}, "relu"])
    assert field(report, "up") is None
    assert report.layers[1].receptive_field is None
    assert [w.message for w in report.warnings] == [
        "the receptive field's period grew too long to track (many upsamplings); it is not "
        "reported from here on"
    ]
