"""Hand-worked tests of every layer type: output shape, params, MACs, FLOPs and errors.

Each layer is applied alone to one input shape (batch not included). FLOPs follow the rule
in each class's docstring: 2 per MAC plus one add per bias use for weighted layers.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from convcalc.errors import LayerError
from convcalc.geometry import ResampleMap, ShiftMap, TransposedWindowMap, WindowMap
from convcalc.layers import REGISTRY, Cost
from convcalc.layers.containers import merge_shapes
from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.dense import Flatten, Linear
from convcalc.layers.elementwise import Activation, BatchNorm, Dropout, LeakyRelu
from convcalc.layers.pool import AdaptivePool, AvgPool, GlobalPool, MaxPool
from convcalc.layers.resample import Pad, Upsample

# ------------------------------------------------------------------ conv


def test_conv_lecture_exercise() -> None:
    """The lecture's exercise: 3×32×32, ten 5×5 filters, stride 1, pad 2 → 10×32×32, 760 params."""
    step = Conv(type="conv", filters=10, kernel=5, padding=2).apply((3, 32, 32))
    assert step.output_shape == (10, 32, 32)  # (32 − 5 + 2·2)/1 + 1 = 32
    # each filter 3·5·5 = 75 weights plus a bias: 10·75 + 10 = 760
    assert step.cost.params == 760
    assert step.cost.bias_params == 10
    assert step.cost.non_trainable_params == 0
    # one 75-term dot product per output element: 10·32·32·75 = 768,000
    assert step.cost.macs == 768_000
    # 2 FLOPs per MAC plus one bias add per output: 1,536,000 + 10,240
    assert step.cost.flops == 1_546_240
    assert step.index_maps == (WindowMap(5, 1, 1, 2), WindowMap(5, 1, 1, 2))
    assert step.warnings == ()


def test_conv_lecture_activation_map_without_padding() -> None:
    """The lecture's six 3×5×5 filters on 3×32×32 give 6×28×28 and 6·75 + 6 = 456 params."""
    step = Conv(type="conv", filters=6, kernel=5).apply((3, 32, 32))
    assert step.output_shape == (6, 28, 28)
    assert step.cost.params == 456
    assert step.cost.macs == 6 * 28 * 28 * 75  # 352,800


def test_conv_without_bias() -> None:
    """bias: false drops the biases from params and the bias adds from FLOPs."""
    step = Conv(type="conv", filters=10, kernel=5, padding=2, bias=False).apply((3, 32, 32))
    assert step.cost == Cost(params=750, macs=768_000, flops=1_536_000, bias_params=0)


def test_conv_stride_two() -> None:
    """ResNet's stem: 7×7 stride 2 pad 3 on 3×224×224 → 64×112×112, 9,408 weights."""
    step = Conv(type="conv", filters=64, kernel=7, stride=2, padding=3,
                bias=False).apply((3, 224, 224))
    assert step.output_shape == (64, 112, 112)  # ⌊(224 − 7 + 6)/2⌋ + 1 = 112
    assert step.cost.params == 64 * 3 * 49  # 9,408
    assert step.cost.macs == 64 * 112 * 112 * 147  # 118,013,952
    # the position left over is padding, so nothing is reported
    assert step.warnings == ()


def test_conv_groups() -> None:
    """groups=2 on 4 channels: each of 8 filters spans 4/2 = 2 channels, 8·2·9 + 8 = 152 params."""
    step = Conv(type="conv", filters=8, kernel=3, padding=1, groups=2).apply((4, 8, 8))
    assert step.output_shape == (8, 8, 8)
    assert step.cost.params == 152
    assert step.cost.macs == 8 * 64 * 18  # 9,216: 18 taps per output
    assert step.cost.flops == 2 * 9216 + 512  # 18,944


def test_conv_depthwise() -> None:
    """MobileNet's depthwise 3×3 (groups = channels = 32) on 32×112×112: 288 weights."""
    step = Conv(type="conv", filters=32, kernel=3, padding=1, groups=32,
                bias=False).apply((32, 112, 112))
    assert step.output_shape == (32, 112, 112)
    assert step.cost.params == 32 * 9
    assert step.cost.macs == 32 * 112 * 112 * 9  # 3,612,672
    assert step.cost.flops == 7_225_344


def test_conv_groups_must_divide_the_input_channels() -> None:
    """groups that does not divide the input channels is an error naming both numbers."""
    with pytest.raises(LayerError) as raised:
        Conv(type="conv", filters=4, kernel=1, groups=2).apply((3, 8, 8))
    assert raised.value.message == (
        "groups=2 does not divide the 3 input channels; "
        "groups must divide both the input channels and the filters"
    )
    assert raised.value.field_name == "groups"


def test_conv_groups_must_divide_the_filters() -> None:
    """groups that does not divide the filters is an error naming the filters."""
    with pytest.raises(LayerError) as raised:
        Conv(type="conv", filters=6, kernel=1, groups=4).apply((8, 8, 8))
    assert raised.value.message == (
        "groups=4 does not divide the 6 filters; "
        "groups must divide both the input channels and the filters"
    )


def test_conv_dilation() -> None:
    """A 3×3 kernel at dilation 2 spans 5: 9×9 → 5×5, still 9 weights a filter."""
    step = Conv(type="conv", filters=1, kernel=3, dilation=2).apply((1, 9, 9))
    assert step.output_shape == (1, 5, 5)  # 9 − 5 + 1
    assert step.cost.params == 10
    assert step.cost.macs == 25 * 9
    assert step.cost.flops == 2 * 225 + 25


def test_conv_asymmetric_kernel() -> None:
    """A 3×5 kernel with padding [1, 2] keeps 10×10; 4 filters of 2·15 weights + 4 = 124 params."""
    step = Conv(type="conv", filters=4, kernel=(3, 5), padding=(1, 2)).apply((2, 10, 10))
    assert step.output_shape == (4, 10, 10)
    assert step.cost.params == 124
    assert step.cost.macs == 400 * 30  # 12,000
    assert step.cost.flops == 24_400
    assert step.index_maps == (WindowMap(3, 1, 1, 1), WindowMap(5, 1, 1, 2))


def test_conv_1d() -> None:
    """A 1-D conv on [4, 100], K5 S2: ⌊95/2⌋ + 1 = 48 positions, 8·20 + 8 = 168 params."""
    step = Conv(type="conv", filters=8, kernel=5, stride=2).apply((4, 100))
    assert step.output_shape == (8, 48)
    assert step.cost.params == 168
    assert step.cost.macs == 8 * 48 * 20  # 7,680
    assert step.cost.flops == 2 * 7680 + 384  # 15,744
    assert step.warnings == (
        "(L − K + 2P)/S = (100 − 5 + 2·0)/2 = 47.5 is not a whole number, so the last input "
        "row along L is never read",
    )


def test_conv_3d() -> None:
    """A 3-D 3×3×3 conv with padding 1 on [2, 8, 16, 16]: 4·54 + 4 = 220 params."""
    step = Conv(type="conv", filters=4, kernel=3, padding=1).apply((2, 8, 16, 16))
    assert step.output_shape == (4, 8, 16, 16)
    assert step.cost.params == 220
    assert step.cost.macs == 4 * 2048 * 54  # 442,368
    assert step.cost.flops == 2 * 442_368 + 8192  # 892,928
    assert len(step.index_maps or ()) == 3


def test_conv_same_padding() -> None:
    """padding: same gives ⌈W/S⌉ with TensorFlow's split: 224, K7, S2 → 112, pads (2, 3)."""
    conv = Conv(type="conv", filters=64, kernel=7, stride=2, padding="same")
    assert conv.window((3, 224, 224)).pads == ((2, 3), (2, 3))
    step = conv.apply((3, 224, 224))
    assert step.output_shape == (64, 112, 112)
    assert step.cost.params == 64 * 147 + 64  # 9,472
    assert step.index_maps == (WindowMap(7, 2, 1, 2), WindowMap(7, 2, 1, 2))


def test_conv_same_padding_stride_one_keeps_the_size() -> None:
    """padding: same at stride 1 keeps every size, even kernels padding after: 6 → 6."""
    step = Conv(type="conv", filters=1, kernel=2, padding="same").apply((1, 6, 7))
    assert step.output_shape == (1, 6, 7)


def test_conv_valid_padding() -> None:
    """padding: valid is no padding: 32 − 5 + 1 = 28."""
    step = Conv(type="conv", filters=1, kernel=5, padding="valid").apply((3, 32, 32))
    assert step.output_shape == (1, 28, 28)


def test_conv_per_side_padding() -> None:
    """Per-side padding [[0, 1], [2, 3]] on 5×5, K3: H 5 + 1 − 2 = 4, W 5 + 5 − 2 = 8."""
    conv = Conv(type="conv", filters=2, kernel=3, padding=((0, 1), (2, 3)))
    step = conv.apply((1, 5, 5))
    assert step.output_shape == (2, 4, 8)
    assert step.index_maps == (WindowMap(3, 1, 1, 0), WindowMap(3, 1, 1, 2))


def test_conv_kernel_larger_than_input() -> None:
    """A kernel larger than the padded input is an error with the sum written out."""
    with pytest.raises(LayerError) as raised:
        Conv(type="conv", filters=1, kernel=5).apply((1, 4, 4))
    assert raised.value.message == (
        "kernel 5 is larger than the padded input along H: 4 + padding 0+0 = 4; "
        "use a smaller kernel or more padding"
    )
    assert raised.value.field_name == "kernel"


def test_conv_dilated_kernel_larger_than_input() -> None:
    """The error names the dilated extent when dilation makes the kernel too large."""
    with pytest.raises(LayerError) as raised:
        Conv(type="conv", filters=1, kernel=3, dilation=2).apply((1, 4))
    assert raised.value.message == (
        "kernel 3 (dilated to 5) is larger than the padded input along L: 4 + padding 0+0 = "
        "4; use a smaller kernel or more padding"
    )


def test_conv_wrong_number_of_kernel_values() -> None:
    """A kernel list of the wrong length for the input's rank is an error."""
    with pytest.raises(LayerError) as raised:
        Conv(type="conv", filters=1, kernel=(3, 3, 3)).apply((1, 8, 8))
    assert raised.value.message == (
        "kernel has 3 values [3, 3, 3] but the input has 2 spatial dimensions: "
        "give one int or 2 ints"
    )
    assert raised.value.field_name == "kernel"


def test_conv_on_a_flat_input() -> None:
    """A conv after flatten is an error that says it must come before flatten."""
    with pytest.raises(LayerError) as raised:
        Conv(type="conv", filters=1, kernel=1).apply((10,))
    assert raised.value.message == (
        "conv needs an input with a spatial dimension (C×L, C×H×W or C×D×H×W), got the flat "
        "shape 10; it must come before flatten, linear or global pooling"
    )


# ------------------------------------------------------------------ conv_transpose


def test_conv_transpose_counts_macs_by_input_positions() -> None:
    """A K3 S2 P1 transposed conv with output_padding 1: 16×4×4 → 8×8×8, MACs 256·72."""
    step = ConvTranspose(type="conv_transpose", filters=8, kernel=3, stride=2, padding=1,
                         output_padding=1).apply((16, 4, 4))
    assert step.output_shape == (8, 8, 8)  # 3·2 − 2 + 2 + 1 + 1 = 8
    # weight [C_in, filters, 3, 3]: 16·8·9 = 1,152, plus 8 biases
    assert step.cost.params == 1160
    # each of the 16·4·4 = 256 inputs scatters 8·9 = 72 products
    assert step.cost.macs == 18_432
    # 2 per MAC plus one bias add per output element (8·8·8 = 512)
    assert step.cost.flops == 37_376
    assert step.index_maps == (TransposedWindowMap(3, 2, 1, 1),) * 2


def test_conv_transpose_unet_up() -> None:
    """U-Net's 2×2 stride-2 up-conv: 32×16×16 → 16×32×32, 32·16·4 + 16 = 2,064 params."""
    step = ConvTranspose(type="conv_transpose", filters=16, kernel=2, stride=2).apply(
        (32, 16, 16))
    assert step.output_shape == (16, 32, 32)
    assert step.cost.params == 2064
    assert step.cost.macs == 32 * 256 * 16 * 4  # 524,288


def test_conv_transpose_groups() -> None:
    """Grouped transposed conv: weight [C_in, filters/groups, K]: 4·(6/2)·3 = 36 weights."""
    step = ConvTranspose(type="conv_transpose", filters=6, kernel=3, groups=2,
                         bias=False).apply((4, 5))
    assert step.output_shape == (6, 7)  # 4 + 2 + 1
    assert step.cost.params == 36
    assert step.cost.macs == 4 * 5 * 3 * 3  # 20 inputs × 9 products
    assert step.cost.flops == 360


def test_conv_transpose_output_padding_below_stride_or_dilation() -> None:
    """output_padding may be below the stride or the dilation (PyTorch's rule): D=3 allows 2."""
    step = ConvTranspose(type="conv_transpose", filters=1, kernel=2, stride=1, dilation=3,
                         output_padding=2).apply((1, 4))
    assert step.output_shape == (1, 9)  # 3 + 3 + 2 + 1


def test_conv_transpose_output_padding_too_large() -> None:
    """output_padding not below the stride or the dilation is an error."""
    with pytest.raises(LayerError) as raised:
        ConvTranspose(type="conv_transpose", filters=1, kernel=3, stride=2,
                      output_padding=2).apply((1, 4, 4))
    assert raised.value.message == (
        "output_padding 2 along H must be smaller than the stride (2) or the dilation (1)"
    )
    assert raised.value.field_name == "output_padding"


def test_conv_transpose_padding_crops_everything() -> None:
    """Padding that crops the whole output is an error with the formula worked out."""
    with pytest.raises(LayerError) as raised:
        ConvTranspose(type="conv_transpose", filters=1, kernel=1, padding=1).apply((1, 1))
    assert raised.value.message == (
        "padding 1 crops the whole output along L: (1 − 1)·1 − 2·1 + 1·(1 − 1) + 0 + 1 = -1; "
        "use less padding"
    )
    assert raised.value.field_name == "padding"


# ------------------------------------------------------------------ pooling


def test_maxpool_stride_defaults_to_kernel() -> None:
    """maxpool without a stride uses the kernel: 2×2 on 3×8×8 → 3×4×4, 3 comparisons each."""
    step = MaxPool(type="maxpool", kernel=2).apply((3, 8, 8))
    assert step.output_shape == (3, 4, 4)
    assert step.cost == Cost(flops=48 * 3)  # ∏K − 1 = 3 comparisons per output
    assert step.index_maps == (WindowMap(2, 2, 1, 0),) * 2


def test_maxpool_resnet() -> None:
    """ResNet's 3×3 stride-2 pad-1 maxpool: 64×112×112 → 64×56×56, 8 comparisons each."""
    step = MaxPool(type="maxpool", kernel=3, stride=2, padding=1).apply((64, 112, 112))
    assert step.output_shape == (64, 56, 56)  # ⌊(112 + 2 − 3)/2⌋ + 1 = 56
    assert step.cost.flops == 64 * 56 * 56 * 8  # 1,605,632
    assert step.cost.params == 0
    assert step.warnings == ()


def test_maxpool_ceil_mode() -> None:
    """ceil_mode keeps the partial last window; PyTorch drops one starting in the padding."""
    assert MaxPool(type="maxpool", kernel=2, ceil_mode=True).output_shape((1, 5)) == (1, 3)
    assert MaxPool(type="maxpool", kernel=2).output_shape((1, 5)) == (1, 2)
    # W=5, K2, S2, P1: ceil((5 + 2 − 2)/2) + 1 = 4, but window 4 would start in the padding
    dropped = MaxPool(type="maxpool", kernel=2, stride=2, padding=1, ceil_mode=True)
    assert dropped.output_shape((1, 5)) == (1, 3)


def test_maxpool_ceil_mode_does_not_warn() -> None:
    """With ceil_mode the last rows are read by the partial window: no warning."""
    step = MaxPool(type="maxpool", kernel=2, ceil_mode=True).apply((1, 5))
    assert step.warnings == ()


def test_maxpool_floor_mode_warns_about_the_last_row() -> None:
    """A 2×2 pool on an odd size never reads the last row, and says so."""
    step = MaxPool(type="maxpool", kernel=2).apply((1, 7, 8))
    assert step.output_shape == (1, 3, 4)
    assert step.warnings == (
        "(H − K + 2P)/S = (7 − 2 + 2·0)/2 = 2.5 is not a whole number, so the last input row "
        "along H is never read",
    )


def test_warning_counts_every_unread_last_row() -> None:
    """The warning counts all trailing unread rows: W=10, K3, S4 reads 0–2 and 4–6, not 7–9."""
    step = MaxPool(type="maxpool", kernel=3, stride=4).apply((1, 10))
    assert step.warnings == (
        "(L − K + 2P)/S = (10 − 3 + 2·0)/4 = 1.75 is not a whole number, so the last 3 input "
        "rows along L are never read",
    )


def test_warning_counts_rows_past_a_wide_gap() -> None:
    """W=11, K3, S5 reads 0–2 and 5–7; the 3 rows 8–10 exceed the 2-row gaps, so all 3 count."""
    step = Conv(type="conv", filters=1, kernel=3, stride=5).apply((1, 11))
    assert step.output_shape == (1, 2)
    assert step.warnings == (
        "(L − K + 2P)/S = (11 − 3 + 2·0)/5 = 1.6 is not a whole number, so the last 3 input "
        "rows along L are never read",
    )


def test_no_warning_for_the_gap_a_wide_stride_leaves() -> None:
    """A 1×1 stride-2 conv on 56 skips every other row; its unread last row is not news."""
    step = Conv(type="conv", filters=1, kernel=1, stride=2).apply((1, 56, 56))
    assert step.output_shape == (1, 28, 28)  # ⌊55/2⌋ + 1
    assert step.warnings == ()


def test_no_warning_when_only_padding_is_left_over() -> None:
    """When the positions no window reaches are padding, no input row is lost: no warning."""
    step = Conv(type="conv", filters=1, kernel=3, stride=2, padding=1).apply((1, 8))
    assert step.output_shape == (1, 4)  # ⌊(8 + 2 − 3)/2⌋ + 1; position 9 is padding
    assert step.warnings == ()


def test_maxpool_dilation() -> None:
    """maxpool with dilation 2 and kernel 2 spans 3: ⌊(7 − 3)/2⌋ + 1 = 3."""
    step = MaxPool(type="maxpool", kernel=2, stride=2, dilation=2).apply((1, 7))
    assert step.output_shape == (1, 3)
    assert step.cost.flops == 3  # one comparison per output


def test_pool_padding_more_than_half_the_kernel() -> None:
    """Pool padding above kernel/2 is an error (a window could lie wholly in padding)."""
    with pytest.raises(LayerError) as raised:
        MaxPool(type="maxpool", kernel=3, padding=2).apply((1, 8, 8))
    assert raised.value.message == (
        "padding 2 along H is more than half the kernel (3): a window could lie entirely in "
        "the padding; use padding ≤ kernel/2"
    )
    assert raised.value.field_name == "padding"
    # padding 1 is exactly half of a 2-kernel: allowed
    assert MaxPool(type="maxpool", kernel=2, padding=1).output_shape((1, 4)) == (1, 3)


def test_pool_padding_limit_ignores_dilation() -> None:
    """The padding limit is PyTorch's, half the kernel as written: K2 D3 allows 1, not 2."""
    # dilation 3 widens a 2-tap window to 4, yet PyTorch refuses padding 2 > ⌊2/2⌋
    assert MaxPool(type="maxpool", kernel=2, dilation=3, padding=1).output_shape((1, 4)) == (
        1, 2)  # ⌊(4 + 2 − 4)/2⌋ + 1
    with pytest.raises(LayerError) as raised:
        MaxPool(type="maxpool", kernel=2, dilation=3, padding=2).apply((1, 4))
    assert raised.value.message == (
        "padding 2 along L is more than half the kernel (2): a window could lie entirely in "
        "the padding; use padding ≤ kernel/2"
    )


def test_pool_padding_limit_per_side() -> None:
    """Per-side pool padding is checked side by side: [[0, 2]] with K3 is refused."""
    with pytest.raises(LayerError, match="padding 2 along L is more than half the kernel"):
        AvgPool(type="avgpool", kernel=3, padding=((0, 2),)).apply((1, 8))


def test_avgpool() -> None:
    """avgpool 2×2 on 3×8×8 → 3×4×4; ∏K − 1 adds and a divide = 4 FLOPs per output."""
    step = AvgPool(type="avgpool", kernel=2).apply((3, 8, 8))
    assert step.output_shape == (3, 4, 4)
    assert step.cost == Cost(flops=48 * 4)


def test_avgpool_stride_and_padding() -> None:
    """avgpool K3 S2 P1 on 1×7×7 → ⌊(7 + 2 − 3)/2⌋ + 1 = 4 a side, 9 FLOPs each."""
    step = AvgPool(type="avgpool", kernel=3, stride=2, padding=1).apply((1, 7, 7))
    assert step.output_shape == (1, 4, 4)
    assert step.cost.flops == 16 * 9


def test_avgpool_same_padding() -> None:
    """avgpool with padding: same gives ⌈W/S⌉ (the half-kernel limit does not apply)."""
    assert AvgPool(type="avgpool", kernel=3, stride=2,
                   padding="same").output_shape((1, 7, 8)) == (1, 4, 4)


def test_adaptive_avgpool() -> None:
    """adaptive_avgpool 5 → 3 reads windows of 2, 3, 2: 7 reads, one FLOP each, per channel."""
    step = AdaptivePool(type="adaptive_avgpool", output=3).apply((2, 5))
    assert step.output_shape == (2, 3)
    assert step.cost == Cost(flops=2 * 7)


def test_adaptive_maxpool() -> None:
    """adaptive_maxpool compares all but the first element of each window: 7 − 3 = 4 a channel."""
    step = AdaptivePool(type="adaptive_maxpool", output=3).apply((2, 5))
    assert step.output_shape == (2, 3)
    assert step.cost == Cost(flops=2 * 4)


def test_adaptive_pool_2d() -> None:
    """adaptive pooling 2-D to (7, 7) on VGG's 512×7×7 reads each input once: 25,088 FLOPs."""
    avg = AdaptivePool(type="adaptive_avgpool", output=(7, 7)).apply((512, 7, 7))
    assert avg.output_shape == (512, 7, 7)
    assert avg.cost.flops == 512 * 49
    # 5 → 3 per dim: 7·7 = 49 reads per channel; max saves one per window (9)
    assert AdaptivePool(type="adaptive_maxpool", output=3).apply((1, 5, 5)).cost.flops == 40


def test_adaptive_pool_output_rank() -> None:
    """An adaptive pool's output list must match the input's spatial rank."""
    with pytest.raises(LayerError) as raised:
        AdaptivePool(type="adaptive_avgpool", output=(7, 7)).apply((3, 10))
    assert raised.value.field_name == "output"


def test_global_avgpool() -> None:
    """global_avgpool on 512×7×7 → [512]; 49 FLOPs (48 adds, 1 divide) per channel."""
    step = GlobalPool(type="global_avgpool").apply((512, 7, 7))
    assert step.output_shape == (512,)
    assert step.cost == Cost(flops=512 * 49)
    assert step.index_maps is None  # every position mixed: the field becomes global


def test_global_maxpool() -> None:
    """global_maxpool on 16×4×4×4 → [16]; 63 comparisons per channel."""
    step = GlobalPool(type="global_maxpool").apply((16, 4, 4, 4))
    assert step.output_shape == (16,)
    assert step.cost == Cost(flops=16 * 63)


# ------------------------------------------------------------------ linear, flatten


def test_linear() -> None:
    """VGG's first fc: 25,088 → 4,096: 102,760,448 weights and MACs, 4,096 biases."""
    step = Linear(type="linear", units=4096).apply((25088,))
    assert step.output_shape == (4096,)
    assert step.cost == Cost(params=102_764_544, macs=102_760_448,
                             flops=2 * 102_760_448 + 4096, bias_params=4096)
    assert step.index_maps is None


def test_linear_without_bias() -> None:
    """linear without bias: 10·5 = 50 params, 100 FLOPs."""
    step = Linear(type="linear", units=5, bias=False).apply((10,))
    assert step.cost == Cost(params=50, macs=50, flops=100)


def test_linear_needs_a_flat_input() -> None:
    """linear on a C×H×W input is an error that names flatten and its size."""
    with pytest.raises(LayerError) as raised:
        Linear(type="linear", units=10).apply((512, 7, 7))
    assert raised.value.message == (
        "linear needs a flat input [features], got 512×7×7; add '- flatten' (→ 25088) or a "
        "global pooling layer before it"
    )


def test_flatten() -> None:
    """flatten turns 512×7×7 into [25088] at no cost and mixes all positions."""
    step = Flatten(type="flatten").apply((512, 7, 7))
    assert step.output_shape == (25088,)
    assert step.cost == Cost()
    assert step.index_maps is None


def test_flatten_of_a_flat_input() -> None:
    """flatten of an already flat input keeps it and leaves the field alone."""
    step = Flatten(type="flatten").apply((10,))
    assert step.output_shape == (10,)
    assert step.index_maps == ()


# ------------------------------------------------------------------ elementwise


def test_batchnorm() -> None:
    """batchnorm on 64 channels: 2·64 learnable (γ, β), 2·64 running statistics, 2 FLOPs each."""
    step = BatchNorm(type="batchnorm").apply((64, 112, 112))
    assert step.output_shape == (64, 112, 112)
    assert step.cost == Cost(params=128, non_trainable_params=128, flops=2 * 802_816)
    assert step.index_maps == ()


def test_batchnorm_1d() -> None:
    """batchnorm on a flat [C] input counts 2·C each way and 2 FLOPs per element."""
    assert BatchNorm(type="batchnorm").apply((100,)).cost == Cost(
        params=200, non_trainable_params=200, flops=200)


def test_dropout_is_free() -> None:
    """dropout keeps the shape and costs nothing at inference."""
    step = Dropout(type="dropout", p=0.2).apply((4096,))
    assert step.output_shape == (4096,)
    assert step.cost == Cost()


@pytest.mark.parametrize(
    ("layer_type", "flops_per_element"),
    [
        ("relu", 1),
        ("relu6", 1),
        ("gelu", 1),
        ("silu", 1),
        ("sigmoid", 1),
        ("tanh", 1),
        ("hardswish", 1),
        ("softmax", 3),  # exp, sum, divide
        ("identity", 0),
    ],
)
def test_activation(layer_type: str, flops_per_element: int) -> None:
    """Each activation keeps the shape, has no params and costs its FLOPs per element."""
    step = Activation(type=layer_type).apply((8, 5, 5))
    assert step.output_shape == (8, 5, 5)
    assert step.cost == Cost(flops=200 * flops_per_element)
    assert step.index_maps == ()


def test_leaky_relu() -> None:
    """leaky_relu keeps the shape and costs one FLOP per element."""
    step = LeakyRelu(type="leaky_relu", negative_slope=0.2).apply((3, 4, 4))
    assert step.output_shape == (3, 4, 4)
    assert step.cost == Cost(flops=48)


def test_every_registered_type_is_tested_here() -> None:
    """The registry holds exactly the layer types this file covers, containers included."""
    assert set(REGISTRY) == {
        "conv", "conv_transpose", "maxpool", "avgpool", "adaptive_avgpool",
        "adaptive_maxpool", "global_avgpool", "global_maxpool", "linear", "flatten",
        "batchnorm", "dropout", "relu", "relu6", "leaky_relu", "gelu", "silu", "sigmoid",
        "tanh", "hardswish", "softmax", "identity", "pad", "upsample", "sequential",
        "residual", "parallel", "aux",
    }


# ------------------------------------------------------------------ pad, upsample


def test_pad_one_int() -> None:
    """pad 1 adds one on each side of every spatial dim: 3×5×5 → 3×7×7, no cost."""
    step = Pad(type="pad", padding=1).apply((3, 5, 5))
    assert step.output_shape == (3, 7, 7)
    assert step.cost == Cost()
    assert step.index_maps == (ShiftMap(1), ShiftMap(1))


def test_pad_per_side() -> None:
    """pad [[0, 1], [2, 3]] on 3×5×5 → 3×6×10, shifting W by 2."""
    step = Pad(type="pad", padding=((0, 1), (2, 3))).apply((3, 5, 5))
    assert step.output_shape == (3, 6, 10)
    assert step.index_maps == (ShiftMap(0), ShiftMap(2))


def test_pad_per_dim_1d() -> None:
    """pad [2] on a 1-D [4, 10] input adds 2 on each side: [4, 14]."""
    assert Pad(type="pad", padding=(2,)).output_shape((4, 10)) == (4, 14)


def test_upsample_nearest_scale() -> None:
    """Nearest upsampling by 2 doubles each spatial size and costs no FLOPs."""
    step = Upsample(type="upsample", scale=2).apply((3, 4, 4))
    assert step.output_shape == (3, 8, 8)
    assert step.cost == Cost()
    assert step.index_maps == (ResampleMap(4, 8, False),) * 2


def test_upsample_per_dim_scale() -> None:
    """A per-dim scale [1, 3] scales only W: 3×4×4 → 3×4×12."""
    assert Upsample(type="upsample", scale=(1, 3)).output_shape((3, 4, 4)) == (3, 4, 12)


def test_upsample_linear_2d() -> None:
    """Bilinear ×2: 4 multiplies and 3 adds per output element: 3·64·7 = 1,344 FLOPs."""
    step = Upsample(type="upsample", scale=2, mode="linear").apply((3, 4, 4))
    assert step.output_shape == (3, 8, 8)
    assert step.cost == Cost(flops=1344)
    assert step.index_maps == (ResampleMap(4, 8, True),) * 2


def test_upsample_linear_1d_and_3d() -> None:
    """Linear upsampling costs 2^(r+1) − 1 FLOPs per output: 3 in 1-D, 15 in 3-D."""
    assert Upsample(type="upsample", scale=2, mode="linear").apply((1, 5)).cost.flops == 30
    trilinear = Upsample(type="upsample", scale=2, mode="linear").apply((1, 2, 2, 2))
    assert trilinear.output_shape == (1, 4, 4, 4)
    assert trilinear.cost.flops == 64 * 15


def test_upsample_size() -> None:
    """upsample to size [6, 10] sets the output size directly, whatever the ratio."""
    step = Upsample(type="upsample", size=(6, 10)).apply((3, 4, 4))
    assert step.output_shape == (3, 6, 10)
    assert step.index_maps == (ResampleMap(4, 6, False), ResampleMap(4, 10, False))


@pytest.mark.parametrize("options", [{}, {"scale": 2, "size": 8}])
def test_upsample_needs_exactly_one_of_scale_and_size(options: dict[str, int]) -> None:
    """upsample with neither or both of scale and size is invalid, saying which to give."""
    with pytest.raises(ValidationError, match=(
        r"give exactly one of 'scale' \(an int factor\) or 'size'"
    )):
        Upsample(type="upsample", **options)


# ------------------------------------------------------------------ merges


def test_merge_add() -> None:
    """add keeps the shape and costs (n − 1) adds per element: 3 branches of 64×8×8 → 8,192."""
    shape, cost = merge_shapes("add", [(64, 8, 8)] * 3)
    assert shape == (64, 8, 8)
    assert cost == Cost(flops=2 * 4096)


def test_merge_concat() -> None:
    """concat sums channels (Inception: 64 + 128 + 32 + 32 = 256) and costs nothing."""
    shape, cost = merge_shapes("concat", [(64, 28, 28), (128, 28, 28), (32, 28, 28),
                                          (32, 28, 28)])
    assert shape == (256, 28, 28)
    assert cost == Cost()


def test_merge_add_needs_equal_shapes() -> None:
    """add of different shapes is an error listing every branch's shape."""
    with pytest.raises(LayerError) as raised:
        merge_shapes("add", [(64, 8, 8), (64, 4, 4)])
    assert raised.value.message == "add needs equal shapes, the branches give 64×8×8, 64×4×4"


def test_merge_concat_needs_equal_spatial_sizes() -> None:
    """concat of different spatial sizes is an error listing every branch's shape."""
    with pytest.raises(LayerError) as raised:
        merge_shapes("concat", [(16, 8, 8), (32, 8, 7)])
    assert raised.value.message == (
        "concat joins channels and needs equal spatial sizes, the branches give 16×8×8, 32×8×7"
    )


def test_merge_concat_needs_equal_ranks() -> None:
    """concat of a flat and a spatial shape is an error."""
    with pytest.raises(LayerError, match="concat joins channels"):
        merge_shapes("concat", [(16,), (16, 4)])


def test_pool_window_wholly_in_padding_warns() -> None:
    """A max pool window whose every tap is padding (K2 D2 P1 on length 1 reads −1 and 1)
    is named in a warning, since max pooling gives −∞ there."""
    from convcalc.layers.pool import MaxPool

    step = MaxPool(type="maxpool", kernel=2, dilation=2, padding=1).apply((2, 1))
    assert step.output_shape == (2, 1)
    assert step.warnings == ("output 0 along L reads only padding: max pooling gives −∞ "
                             "there",)
    # K3 S1 P1 on 1×1: the one window reads the input at its centre tap, so no warning
    assert MaxPool(type="maxpool", kernel=3, stride=1, padding=1).apply((2, 1, 1)).warnings == ()
    # K2 D3 P1: on length 3 the window at −1 reads −1 and 2 (input 2), at 0 reads 0 and 3;
    # on length 2 the only window reads −1 and 2, both padding
    assert MaxPool(type="maxpool", kernel=2, dilation=3, padding=1, stride=1).apply(
        (1, 3)).warnings == ()
    assert MaxPool(type="maxpool", kernel=2, dilation=3, padding=1, stride=1).apply(
        (1, 2)).warnings == ("output 0 along L reads only padding: max pooling gives −∞ "
                             "there",)
