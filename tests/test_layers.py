"""Hand-worked tests of every layer type: output shape, params, MACs, FLOPs and errors.

Each layer is applied alone to one input shape (batch not included). FLOPs follow the rule
in each class's docstring: 2 per MAC plus one add per bias use for weighted layers.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from convcalc.errors import LayerError
from convcalc.geometry import ResampleMap, ShiftMap, TransposedWindowMap, WindowMap
from convcalc.layers import REGISTRY, Cost, Step
from convcalc.layers.containers import merge_shapes
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
        "position along L is never read",
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
        "positions along L are never read",
    )


def test_warning_counts_rows_past_a_wide_gap() -> None:
    """W=11, K3, S5 reads 0–2 and 5–7; the 3 rows 8–10 exceed the 2-row gaps, so all 3 count."""
    step = Conv(type="conv", filters=1, kernel=3, stride=5).apply((1, 11))
    assert step.output_shape == (1, 2)
    assert step.warnings == (
        "(L − K + 2P)/S = (11 − 3 + 2·0)/5 = 1.6 is not a whole number, so the last 3 input "
        "positions along L are never read",
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
        ("hardsigmoid", 1),
        ("mish", 1),
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
        "residual", "parallel", "aux", "layernorm", "groupnorm", "instancenorm",
        "hardsigmoid", "mish", "elu", "prelu", "layer_scale", "stochastic_depth",
        "channel_shuffle", "slice", "graph", "unknown",
    }


# ------------------------------------------------------------------ elu, prelu, layer scale,
# stochastic depth


@pytest.mark.parametrize("shape", [(8, 5, 5), (8, 25), (2, 4, 5, 5), (200,)])
def test_elu_costs_one_flop_per_element(shape: tuple[int, ...]) -> None:
    """elu keeps the shape, has no params and costs one FLOP per element: 200 here."""
    step = Elu(type="elu", alpha=0.5).apply(shape)
    assert step.output_shape == shape
    assert step.cost == Cost(flops=200)
    assert step.index_maps == ()


def test_elu_refuses_an_infinite_alpha() -> None:
    """elu's alpha must be finite (∞·(eˣ − 1) is not a number at 0)."""
    with pytest.raises(ValidationError, match="should be a finite number"):
        Elu(type="elu", alpha=float("inf"))


@pytest.mark.parametrize(
    ("shape", "per_channel", "params", "flops"),
    [
        ((64, 56, 56), False, 1, 200_704),  # 64·56·56 elements, one shared slope
        ((64, 56, 56), True, 64, 200_704),  # one slope per channel
        ((3, 10), True, 3, 30),  # 1-D: C = 3
        ((4, 2, 3, 5), True, 4, 120),  # 3-D: C = 4, 4·2·3·5 = 120 elements
        ((100,), True, 100, 100),  # flat: one slope per feature, as nn.PReLU(100) on (N, 100)
        ((100,), False, 1, 100),
    ],
)
def test_prelu_counts_its_slopes(shape: tuple[int, ...], per_channel: bool, params: int,
                                 flops: int) -> None:
    """prelu has 1 slope, or C with per_channel, and one FLOP per element."""
    step = Prelu(type="prelu", per_channel=per_channel).apply(shape)
    assert step.output_shape == shape
    assert step.cost == Cost(params=params, flops=flops)
    assert step.index_maps == ()


def test_prelu_defaults_are_pytorchs() -> None:
    """A bare prelu is nn.PReLU(): one slope starting at 0.25."""
    layer = Prelu(type="prelu")
    assert (layer.per_channel, layer.init) == (False, 0.25)


@pytest.mark.parametrize(
    ("shape", "params", "flops"),
    [
        ((96, 56, 56), 96, 301_056),  # ConvNeXt-T's first stage: 96·56·56 multiplies
        ((3, 7), 3, 21),
        ((2, 3, 4, 5), 2, 120),
        ((5,), 5, 5),
    ],
)
def test_layer_scale_has_a_factor_per_channel(shape: tuple[int, ...], params: int,
                                              flops: int) -> None:
    """layer_scale has C params, numel FLOPs (one multiply each) and no MACs."""
    step = LayerScale(type="layer_scale").apply(shape)
    assert step.output_shape == shape
    assert step.cost == Cost(params=params, flops=flops)
    assert step.index_maps == ()
    assert LayerScale(type="layer_scale").init == 1e-6


@pytest.mark.parametrize("p", [0.0, 0.1, 1.0, 1])
def test_stochastic_depth_is_free_for_every_p(p: float) -> None:
    """stochastic_depth keeps the shape and costs nothing, p = 0 and p = 1 included."""
    step = StochasticDepth(type="stochastic_depth", p=p).apply((96, 56, 56))
    assert step.output_shape == (96, 56, 56)
    assert step.cost == Cost()
    assert step.index_maps == ()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "p\n  Field required"),
        ({"p": -0.1}, "greater than or equal to 0"),
        ({"p": 1.01}, "less than or equal to 1"),
        ({"p": 0.1, "mode": "column"}, "Input should be 'row' or 'batch'"),
    ],
)
def test_stochastic_depth_needs_a_probability_and_a_mode(options: dict[str, object],
                                                         message: str) -> None:
    """stochastic_depth needs p from 0 to 1, and mode row or batch."""
    with pytest.raises(ValidationError, match=message):
        StochasticDepth.model_validate({"type": "stochastic_depth", **options})


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


# ------------------------------------------------------------------ normalisation
# FLOPs per group of n elements sharing a mean and variance: mean n, variance 3·n,
# eps and square root 2, normalise n; γ·x + β is 2 per element more.


def test_layernorm_convnext_stem() -> None:
    """layernorm after ConvNeXt-T's stem, 96×56×56: 2·96 params, no running statistics,
    FLOPs 5·301,056 + 2·3,136 + 2·301,056, the field passed on."""
    step = LayerNorm(type="layernorm", eps=1e-6).apply((96, 56, 56))
    assert step.output_shape == (96, 56, 56)
    # numel 96·56·56 = 301,056 over 56·56 = 3,136 positions
    assert step.cost == Cost(params=192, flops=1_505_280 + 6_272 + 602_112, bias_params=96)
    assert step.index_maps == ()


def test_layernorm_flat_is_nn_layernorm() -> None:
    """layernorm on a flat [768] input is one group of 768: 5·768 + 2 + 2·768 = 5,378 FLOPs."""
    step = LayerNorm(type="layernorm").apply((768,))
    assert step.cost == Cost(params=1536, flops=5378, bias_params=768)


def test_layernorm_without_affine_or_bias() -> None:
    """affine: false gives no parameters and 5·40 + 2·10 = 220 FLOPs on 4×10; bias: false
    keeps γ alone, 4 params and 40 FLOPs more."""
    assert LayerNorm(type="layernorm", affine=False).apply((4, 10)).cost == Cost(flops=220)
    assert LayerNorm(type="layernorm", bias=False).apply((4, 10)).cost == Cost(params=4,
                                                                                flops=260)
    # bias counts only with affine, as PyTorch's elementwise_affine=False
    assert LayerNorm(type="layernorm", affine=False, bias=True).apply((4, 10)).cost.params == 0


def test_layernorm_explains_its_flops() -> None:
    """layernorm's worked FLOPs on 96×8×8 write 5·numel + 2·positions + 2·numel = 43,136."""
    worked = LayerNorm(type="layernorm").explain((96, 8, 8))
    assert worked.lines == ["params = 2·96 = 192 (γ and β per channel)",
                            "mean and variance over the 96 channels at each of 64 positions"]
    assert worked.flops is not None
    assert (worked.flops.text, worked.flops.value) == ("5·96·8·8 + 2·8·8 + 2·96·8·8", 43_136)


def test_groupnorm_2d_1d_3d() -> None:
    """groupnorm: 32 groups of 64×8×8 cost 5·4,096 + 2·32 + 2·4,096 with 2·64 params; 1-D
    without affine 5·60 + 2·3; 3-D 5·96 + 2·2 + 2·96."""
    step = GroupNorm(type="groupnorm", groups=32).apply((64, 8, 8))
    assert step.output_shape == (64, 8, 8)
    assert step.cost == Cost(params=128, flops=20_480 + 64 + 8_192, bias_params=64)
    assert step.index_maps == ()
    assert GroupNorm(type="groupnorm", groups=3, affine=False).apply((6, 10)).cost == Cost(
        flops=306)
    assert GroupNorm(type="groupnorm", groups=2).apply((4, 2, 3, 4)).cost.flops == 676


def test_groupnorm_on_a_flat_input() -> None:
    """groupnorm on [8] with 4 groups: groups of 2 features, 5·8 + 2·4 + 2·8 = 64 FLOPs."""
    assert GroupNorm(type="groupnorm", groups=4).apply((8,)).cost == Cost(params=16, flops=64,
                                                                          bias_params=8)


def test_groupnorm_groups_must_divide_the_channels() -> None:
    """groups that do not divide C are an error naming both, on the groups field."""
    with pytest.raises(LayerError) as raised:
        GroupNorm(type="groupnorm", groups=3).apply((8, 4, 4))
    assert raised.value.message == (
        "groups=3 does not divide the 8 input channels: groupnorm splits C=8 into groups of "
        "C/groups channels; use a divisor of 8")
    assert raised.value.field_name == "groups"
    with pytest.raises(LayerError, match="groups=16 does not divide the 8 input channels"):
        GroupNorm(type="groupnorm", groups=16).apply((8, 4, 4))


def test_groupnorm_needs_groups() -> None:
    """groupnorm without groups does not validate."""
    with pytest.raises(ValidationError, match="groups"):
        GroupNorm.model_validate({"type": "groupnorm"})


def test_instancenorm_defaults() -> None:
    """instancenorm by default (no affine, no running statistics) on 3×4×5×6: no params,
    5·360 + 2·3 = 1,806 FLOPs."""
    step = InstanceNorm(type="instancenorm").apply((3, 4, 5, 6))
    assert step.cost == Cost(flops=1806)
    assert step.index_maps == ()


def test_instancenorm_affine_and_running_statistics() -> None:
    """affine gives 2·C params (5·128 + 2·8 + 2·128 = 912 FLOPs on 8×4×4); running
    statistics give 2·C non-trainable and batchnorm's inference form, 2 FLOPs an element."""
    assert InstanceNorm(type="instancenorm", affine=True).apply((8, 4, 4)).cost == Cost(
        params=16, flops=912, bias_params=8)
    both = InstanceNorm(type="instancenorm", affine=True, track_running_stats=True)
    assert both.apply((16, 32)).cost == Cost(params=32, non_trainable_params=32, flops=1024,
                                             bias_params=16)
    stats_only = InstanceNorm(type="instancenorm", track_running_stats=True)
    assert stats_only.apply((16, 32)).cost == Cost(non_trainable_params=32, flops=1024)
    worked = stats_only.explain((16, 32))
    assert (worked.params, worked.non_trainable_params) == (0, 32)


def test_instancenorm_needs_a_spatial_input() -> None:
    """instancenorm of a flat input is refused: each channel would be one element."""
    with pytest.raises(LayerError, match="instancenorm needs an input with a spatial "
                                         "dimension"):
        InstanceNorm(type="instancenorm").apply((8,))


@pytest.mark.parametrize("layer_type", ["layernorm", "groupnorm", "instancenorm"])
@pytest.mark.parametrize("eps", [0, -1e-5, float("nan"), float("inf"), "1e999"])
def test_norm_eps_must_be_finite_and_positive(layer_type: str, eps: Any) -> None:
    """eps of 0, below 0 or not finite is refused, as batchnorm's is."""
    with pytest.raises(ValidationError, match="eps"):
        REGISTRY[layer_type].model_validate({"type": layer_type, "groups": 1, "eps": eps}
                                            if layer_type == "groupnorm" else
                                            {"type": layer_type, "eps": eps})


def test_norm_groups_of_one_element_warn() -> None:
    """A group of one element normalises to 0 (β alone): layernorm over 1 channel and
    groupnorm with one element a group warn; instancenorm over one position, which
    PyTorch refuses, is an error unless it keeps running statistics."""
    assert LayerNorm(type="layernorm").apply((1, 4, 4)).warnings == (
        "layernorm over 1 channel normalises each element to 0: every output is the shift β "
        "alone (0 without affine)",)
    assert LayerNorm(type="layernorm").apply((2, 1, 1)).warnings == ()
    assert GroupNorm(type="groupnorm", groups=4).apply((4, 1)).warnings == (
        "groupnorm with one element a group normalises each element to 0: every output is "
        "the shift β alone (0 without affine); PyTorch's GroupNorm refuses it at batch 1",)
    assert GroupNorm(type="groupnorm", groups=4).apply((4, 2)).warnings == ()
    with pytest.raises(LayerError) as raised:
        InstanceNorm(type="instancenorm").apply((3, 1, 1))
    assert raised.value.message.startswith(
        "instancenorm over the one position of 3×1×1 normalises every channel to 0, and "
        "PyTorch refuses it")
    assert InstanceNorm(type="instancenorm", track_running_stats=True).apply(
        (3, 1, 1)).cost.flops == 6
# ------------------------------------------------------------------ channel_shuffle, slice,
# groups: depthwise


def test_channel_shuffle_moves_channels_at_no_cost() -> None:
    """channel_shuffle groups 2 on 116×28×28 (ShuffleNetV2 x1.0's stage 2) keeps the shape,
    has no parameters, MACs or FLOPs, and leaves the receptive field as it is."""
    from convcalc.layers.channels import ChannelShuffle

    step = ChannelShuffle(type="channel_shuffle", groups=2).apply((116, 28, 28))
    assert step == Step((116, 28, 28), Cost(), ())


@pytest.mark.parametrize("shape", [(6, 5), (6, 4, 3), (6, 2, 3, 4)])
def test_channel_shuffle_in_every_rank(shape: tuple[int, ...]) -> None:
    """channel_shuffle works in 1-D, 2-D and 3-D: 6 channels in 3 groups of 2."""
    from convcalc.layers.channels import ChannelShuffle

    layer = ChannelShuffle(type="channel_shuffle", groups=3)
    assert layer.apply(shape).output_shape == shape
    assert layer.explain(shape).lines[0] == (
        "6 channels as groups × C/groups = 3 × 2, transposed: out channel i = in channel "
        "(i mod 3)·2 + ⌊i/3⌋")


def test_channel_shuffle_groups_must_divide_the_channels() -> None:
    """groups 4 on 6 channels is an error naming both numbers and the field."""
    from convcalc.layers.channels import ChannelShuffle

    with pytest.raises(LayerError) as raised:
        ChannelShuffle(type="channel_shuffle", groups=4).apply((6, 8, 8))
    assert raised.value.message == ("groups=4 does not divide the 6 input channels; "
                                    "channel_shuffle splits the channels into groups of "
                                    "equal size")
    assert raised.value.field_name == "groups"


def test_channel_shuffle_refuses_a_flat_input() -> None:
    """A flat [C] input has no positions to shuffle channels at: refused, as torch does."""
    from convcalc.layers.channels import ChannelShuffle

    with pytest.raises(LayerError, match=r"channel_shuffle needs an input with a spatial "
                                         r"dimension .* got the flat shape 6"):
        ChannelShuffle(type="channel_shuffle", groups=2).apply((6,))


def test_slice_keeps_its_channels() -> None:
    """slice [58, 116] of 116×28×28 (ShuffleNetV2's second chunk) is 58×28×28, at no cost,
    the field unchanged."""
    from convcalc.layers.channels import Slice

    layer = Slice(type="slice", channels=[58, 116])
    assert layer.apply((116, 28, 28)) == Step((58, 28, 28), Cost(), ())
    worked = layer.explain((116, 28, 28))
    assert worked.lines[0] == "channels 58 to 116 of 116 (stop exclusive): C = 116 − 58 = 58"
    assert worked.output_shape == (58, 28, 28)


@pytest.mark.parametrize(("shape", "out"), [((10,), (3,)), ((10, 7), (3, 7)),
                                            ((10, 2, 3, 4), (3, 2, 3, 4))])
def test_slice_in_every_rank_and_flat(shape: tuple[int, ...], out: tuple[int, ...]) -> None:
    """slice [2, 5] keeps 3 channels in 1-D and 3-D, and 3 features of a flat input."""
    from convcalc.layers.channels import Slice

    assert Slice(type="slice", channels=[2, 5]).apply(shape).output_shape == out


@pytest.mark.parametrize(("channels", "message"), [
    ([3, 3], "channels [3, 3] keep nothing: start must be below stop (stop is exclusive, so "
             "[0, 2] keeps channels 0 and 1)"),
    ([5, 2], "channels [5, 2] keep nothing: start must be below stop (stop is exclusive, so "
             "[0, 2] keeps channels 0 and 1)"),
    ([4, 9], "channels [4, 9] reach past the input's 8 channels: stop may be at most 8"),
])
def test_slice_bounds(channels: list[int], message: str) -> None:
    """start ≥ stop and stop past C are errors naming the values and the field."""
    from convcalc.layers.channels import Slice

    with pytest.raises(LayerError) as raised:
        Slice(type="slice", channels=channels).apply((8, 4, 4))
    assert raised.value.message == message
    assert raised.value.field_name == "channels"


def test_slice_takes_exactly_start_and_stop() -> None:
    """channels must be two non-negative ints: [3] and [1, 2, 3] are refused as such."""
    from convcalc.layers.channels import Slice

    for written in ([3], [1, 2, 3]):
        with pytest.raises(ValidationError, match=r"should be \[start, stop\], two ints"):
            Slice.model_validate({"type": "slice", "channels": written})
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Slice.model_validate({"type": "slice", "channels": [-1, 2]})


def test_conv_groups_depthwise_is_the_input_channels() -> None:
    """groups: depthwise on 32×112×112 is groups 32: MobileNet's 288 weights, 3,612,672 MACs,
    the same as writing groups: 32; explain and the export give the number."""
    written = Conv(type="conv", filters=32, kernel=3, padding=1, groups="depthwise",
                   bias=False)
    numbered = Conv(type="conv", filters=32, kernel=3, padding=1, groups=32, bias=False)
    assert written.apply((32, 112, 112)) == numbered.apply((32, 112, 112))
    assert written.apply((32, 112, 112)).cost.params == 288
    assert written.apply((32, 112, 112)).cost.macs == 3_612_672
    assert ("groups = depthwise = C = 32: each filter reads C/groups = 32/32 = 1 channel"
            in written.explain((32, 112, 112)).lines)
    assert "groups=32" in written.to_pytorch((32, 112, 112)).module.text
    # a multiplier of 2 (filters = 2·C) is still depthwise: 64·(1·3·3) weights
    assert Conv(type="conv", filters=64, kernel=3, groups="depthwise").apply(
        (32, 9, 9)).cost.params == 64 * 9 + 64


def test_conv_transpose_groups_depthwise() -> None:
    """groups: depthwise on a 4-channel input to 8 filters: 4·(2·3·3) + 8 = 80 params, each
    input channel feeding 2 outputs."""
    layer = ConvTranspose(type="conv_transpose", filters=8, kernel=3, padding=1,
                          groups="depthwise")
    step = layer.apply((4, 12, 10))
    assert step.cost.params == 80
    assert step.cost.macs == 4 * 12 * 10 * 18  # 8,640
    assert ("groups = depthwise = C = 4: each input channel feeds filters/groups = 8/4 = 2 "
            "outputs" in layer.explain((4, 12, 10)).lines)
    assert "groups=4" in layer.to_pytorch((4, 12, 10)).module.text


def test_depthwise_filters_must_be_a_multiple_of_the_channels() -> None:
    """groups: depthwise with filters not a multiple of the input channels is an error."""
    with pytest.raises(LayerError) as raised:
        Conv(type="conv", filters=9, kernel=1, groups="depthwise").apply((6, 4))
    assert raised.value.message == (
        "groups=depthwise (6, the input channels) does not divide the 9 filters; groups must "
        "divide both the input channels and the filters")
    assert raised.value.field_name == "groups"


def test_groups_takes_an_int_or_depthwise() -> None:
    """A word other than depthwise is refused saying what groups takes."""
    with pytest.raises(ValidationError, match="should be an int of at least 1, or depthwise"):
        Conv.model_validate({"type": "conv", "filters": 4, "kernel": 1, "groups": "separable"})


# ------------------------------------------------------------------ unknown


@pytest.mark.parametrize(("shape", "output"), [((3, 32, 32), (8, 15, 15)), ((64,), (10,)),
                                              ((4, 9), (4, 3, 3)), ((2, 4, 6, 6), (7,))])
def test_unknown_takes_its_written_shape_and_counts_nothing(
        shape: tuple[int, ...], output: tuple[int, ...]) -> None:
    """unknown gives the output shape written, whatever the input, with no params, MACs or
    FLOPs, and marks its step as not known (the field is untracked past it)."""
    step = REGISTRY["unknown"].model_validate(
        {"type": "unknown", "op": "Frobnicate", "output": list(output)}).apply(shape)
    assert step.output_shape == output
    assert step.cost == Cost()
    assert step.known is False
    assert Step((1,)).known is True


@pytest.mark.parametrize("op", ["", "1x", "F oo", "a" * 201, "Frob\x1b[31m", "é"])
def test_unknown_refuses_a_name_that_is_not_an_operator(op: str) -> None:
    """An op that is not an ASCII operator name (empty, a leading digit, a space, past 200
    characters, a control or non-ASCII character) is refused when the file is read."""
    with pytest.raises(ValueError, match="should be an operator name"):
        REGISTRY["unknown"].model_validate({"type": "unknown", "op": op, "output": [3]})


@pytest.mark.parametrize("op", ["Frobnicate", "com.acme:MyPool", "_x-1.2", "F" * 200])
def test_unknown_takes_operator_names(op: str) -> None:
    """ONNX op types, domain-qualified ones and 200 characters are operator names."""
    layer = REGISTRY["unknown"].model_validate({"type": "unknown", "op": op, "output": [3]})
    assert layer.op == op
