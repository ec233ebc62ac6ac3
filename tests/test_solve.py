"""The inverse problems: kernel settings for an output size, same padding, input sizes."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES

from convcalc import InputError, load_network, parse_network
from convcalc.layers.window import WindowKind
from convcalc.solve import (
    MAX_COMBINATIONS,
    Requirement,
    WindowSolutions,
    solve_inputs,
    solve_same,
    solve_window,
)


def settings(result: WindowSolutions) -> list[tuple[int, int, int, int]]:
    """Return (kernel, stride, padding, dilation) of each solution, in order."""
    return [(s.kernel, s.stride, s.padding, s.dilation) for s in result.solutions]


def test_56_to_28_with_a_3x3_kernel_is_stride_2_padding_1() -> None:
    """(56 − 3 + 2·1)/2 = 27.5 → 27 + 1 = 28; dilations 2 and 3 need padding 2 and 3."""
    result = solve_window(56, 28, kernel=3)
    assert settings(result) == [(3, 2, 1, 1), (3, 2, 2, 2), (3, 2, 3, 3)]
    first = result.solutions[0]
    assert (first.whole, first.unread_rows) == (False, 0)
    assert first.worked == ("out = (56 − 3 + 2·1)/2 = 27.5 → floor → 27 + 1 = 28; only right "
                            "padding is left unread")


def test_224_to_112_with_a_7x7_kernel_is_stride_2_padding_3() -> None:
    """ResNet's stem: (224 − 7 + 2·3)/2 = 111.5 → 111 + 1 = 112."""
    assert settings(solve_window(224, 112, kernel=7))[0] == (7, 2, 3, 1)


def test_free_kernel_lists_simplest_first() -> None:
    """With every value free, 56 → 28 starts 1×1/2, 2×2/2 (whole), 3×3/2 pad 1, 4×4/2 pad 1."""
    result = solve_window(56, 28)
    assert settings(result)[:4] == [(1, 2, 0, 1), (2, 2, 0, 1), (3, 2, 1, 1), (4, 2, 1, 1)]
    assert [s.whole for s in result.solutions[:4]] == [False, True, False, True]
    assert len(result.solutions) == 35


def test_settings_that_leave_rows_unread_come_last() -> None:
    """32 → 15 with K=3: dilation 2, pad 1 reads every row; stride 2, pad 0 loses the last."""
    result = solve_window(32, 15, kernel=3)
    assert settings(result)[0] == (3, 2, 1, 2)
    last = result.solutions[-1]
    assert ((last.kernel, last.stride, last.padding, last.dilation), last.unread_rows) == (
        (3, 2, 0, 1), 1)


def test_fixed_padding_and_stride() -> None:
    """Padding 0 and stride 2 fixed: 56 → 28 takes kernels 1 and 2 only."""
    assert settings(solve_window(56, 28, padding=0, stride=2, max_dilation=1)) == [
        (1, 2, 0, 1), (2, 2, 0, 1)]


def test_no_solution_is_an_empty_list() -> None:
    """Stride 1, undilated, cannot shrink 56 to 28 with kernels up to 11."""
    assert solve_window(56, 28, stride=1, max_dilation=1).solutions == ()


def test_dilation_can_stand_in_for_stride() -> None:
    """At stride 1, only an 11-tap kernel dilated by 3 (31 wide) with padding 1 gives 28."""
    assert settings(solve_window(56, 28, stride=1)) == [(11, 1, 1, 3)]


def test_transposed_conv_doubles() -> None:
    """32 → 64 by transposed conv: 2×2/2, 3×3/2 pad 1 output_padding 1, 4×4/2 pad 1."""
    result = solve_window(32, 64, WindowKind.conv_transpose, max_dilation=1)
    found = [(s.kernel, s.stride, s.padding, s.output_padding) for s in result.solutions]
    assert found[:4] == [(1, 2, 0, 1), (2, 2, 0, 0), (3, 2, 1, 1), (4, 2, 1, 0)]
    assert result.solutions[2].worked == "out = (32 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1 = 64"


def test_pooling_padding_is_at_most_half_the_kernel() -> None:
    """maxpool 112 → 56 with K=3: stride 2, padding 1 (padding 2 would break the pool rule)."""
    assert settings(solve_window(112, 56, WindowKind.maxpool, kernel=3, max_dilation=1)) == [
        (3, 2, 1, 1)]


def test_ceil_mode_pooling() -> None:
    """ceil_mode: 5 → 3 by a 2-wide pool at stride 2 ((5 − 2)/2 = 1.5 → 2 + 1)."""
    result = solve_window(5, 3, WindowKind.maxpool, kernel=2, stride=2, max_dilation=1,
                          ceil_mode=True)
    assert settings(result) == [(2, 2, 0, 1), (2, 2, 1, 1)]
    assert result.solutions[1].worked.endswith("so PyTorch drops it: out = 3")


def test_every_solution_matches_torch() -> None:
    """torch's Conv1d, ConvTranspose1d and MaxPool1d give the output size of every solution."""
    torch = pytest.importorskip("torch")
    x = torch.zeros(1, 1, 56)
    for found in solve_window(56, 28).solutions:
        conv = torch.nn.Conv1d(1, 1, found.kernel, found.stride, found.padding, found.dilation)
        assert conv(x).shape[-1] == 28, found
    x = torch.zeros(1, 1, 32)
    for found in solve_window(32, 64, WindowKind.conv_transpose).solutions:
        conv = torch.nn.ConvTranspose1d(1, 1, found.kernel, found.stride, found.padding,
                                        found.output_padding, dilation=found.dilation)
        assert conv(x).shape[-1] == 64, found
    x = torch.zeros(1, 1, 5)
    for found in solve_window(5, 3, WindowKind.maxpool, ceil_mode=True).solutions:
        pool = torch.nn.MaxPool1d(found.kernel, found.stride, found.padding, found.dilation,
                                  ceil_mode=True)
        assert pool(x).shape[-1] == 3, found


@pytest.mark.parametrize(("call", "message"), [
    (lambda: solve_window(56, 28, ceil_mode=True),
     "`ceil_mode` applies to maxpool and avgpool, not conv"),
    (lambda: solve_window(56, 28, WindowKind.avgpool, dilation=2), "avgpool has no dilation"),
    (lambda: solve_window(0, 28), "the input and output sizes must be at least 1, got 0 and 28"),
    (lambda: solve_window(56, 28, max_stride=0), "`max_stride` must be at least 1, got 0"),
    (lambda: solve_window(56, 28, kernel=0), "`kernel` must be at least 1, got 0"),
    (lambda: solve_window(56, 28, max_kernel=MAX_COMBINATIONS, max_stride=2),
     "the bounds allow 600,000 (kernel, stride, dilation) combinations, past the limit of "
     "100,000; lower `max_kernel`, `max_stride` or `max_dilation`"),
])
def test_window_input_errors(call: object, message: str) -> None:
    """Bad sizes and bounds raise an InputError naming the flag."""
    with pytest.raises(InputError) as caught:
        call()  # type: ignore[operator]
    assert str(caught.value) == message


def test_same_even_total_is_symmetric() -> None:
    """W=7, K=3, S=2: out ⌈7/2⌉ = 4, total (4−1)·2 + 3 − 7 = 2, 1 before and 1 after."""
    same = solve_same(7, 3, 2)
    assert (same.output, same.total, same.before, same.after, same.symmetric) == (4, 2, 1, 1, 1)


def test_same_odd_total_goes_after() -> None:
    """W=8, K=3, S=2: total (4−1)·2 + 3 − 8 = 1: 0 before, 1 after; padding 1 gives 4 too."""
    same = solve_same(8, 3, 2)
    assert (same.output, same.total, same.before, same.after, same.symmetric,
            same.same_size) == (4, 1, 0, 1, None, (1,))


def test_same_with_dilation_and_no_padding_needed() -> None:
    """D=2, K=5 at stride 1 needs 2·(5−1) = 8; K=1 at stride 2 on 7 needs none."""
    assert solve_same(32, 5, 1, 2).total == 8
    assert solve_same(7, 1, 2).model_dump() == {
        "schema_version": 1, "input": 7, "kernel": 1, "stride": 2, "dilation": 1,
        "output": 4, "total": 0, "before": 0, "after": 0, "symmetric": 0, "same_size": (0,)}


def test_same_matches_torch_padding() -> None:
    """torch: padding (0, 1) then a stride-2 3-tap conv on 8 gives ⌈8/2⌉ = 4 outputs."""
    torch = pytest.importorskip("torch")
    x = torch.nn.functional.pad(torch.zeros(1, 1, 8), (0, 1))
    assert torch.nn.Conv1d(1, 1, 3, 2)(x).shape[-1] == 4
    assert torch.nn.Conv1d(1, 1, 3, 2, padding=1)(torch.zeros(1, 1, 8)).shape[-1] == 4


def resnet18() -> object:
    return load_network(str(EXAMPLES / "resnet18.yaml")).network


def test_resnet18_divisible_sizes_are_multiples_of_32() -> None:
    """Five stride-2 stages: only multiples of 32 halve exactly at every one."""
    result = solve_inputs(resnet18(), 1, 160, requirement=Requirement.divisible)  # type: ignore[arg-type]
    assert result.valid == (32, 64, 96, 128, 160)
    rejected = {r.size: r for r in result.rejected}
    assert (rejected[100].layer, rejected[100].reason) == (
        "layer2.0.conv1", "H = 25 is not a multiple of the stride 2")


def test_resnet18_whole_sizes_are_one_past_multiples_of_32() -> None:
    """(W − 7 + 6)/2 is whole for odd W; at every stage that gives 32k + 1."""
    result = solve_inputs(resnet18(), 1, 160, requirement=Requirement.whole)  # type: ignore[arg-type]
    assert result.valid == (1, 33, 65, 97, 129)
    first = next(r for r in result.rejected if r.size == 32)
    assert (first.layer, first.reason) == (
        "conv1", "(H − K + 2P)/S = (32 − 7 + 2·3)/2 = 15.5 is not whole")


def test_resnet18_reads_every_row_at_every_size() -> None:
    """ResNet-18's remainders all fall in padding or stride gaps: no size warns."""
    result = solve_inputs(resnet18(), 1, 64)  # type: ignore[arg-type]
    assert result.valid == tuple(range(1, 65))


def test_vgg16_and_unet_sizes() -> None:
    """VGG-16's five 2×2 pools want multiples of 32; the U-Net's concats want multiples of 4."""
    vgg = load_network(str(EXAMPLES / "vgg16.yaml")).network
    assert solve_inputs(vgg, 1, 100).valid == (32, 64, 96)
    unet = solve_inputs(load_network(str(EXAMPLES / "unet_small.yaml")).network, 1, 20)
    assert unet.valid == (4, 8, 12, 16, 20)
    rejected = next(r for r in unet.rejected if r.size == 6)
    assert (rejected.layer, rejected.reason) == (
        "skip1.skip2", "concat joins channels and needs equal spatial sizes, the branches give "
        "32×3×3, 32×2×2")


def test_one_dim_at_a_time() -> None:
    """A 2×3 pool: H must be even, W a multiple of 3; both at once, a multiple of 6."""
    network = parse_network("input: 1x12x12\nlayers:\n  - {type: maxpool, kernel: [2, 3]}\n",
                            "pool").network
    assert solve_inputs(network, 1, 12, dim="H").valid == (2, 4, 6, 8, 10, 12)
    assert solve_inputs(network, 1, 12, dim="w").valid == (3, 6, 9, 12)
    result = solve_inputs(network, 1, 12)
    assert (result.valid, result.dims) == ((6, 12), ("H", "W"))


@pytest.mark.parametrize(("yaml_text", "args", "message"), [
    ("input: 8\nlayers: [relu]\n", (1, 4, None),
     "the network's input 8 has no spatial dimension to vary"),
    ("input: 1x8x8\nlayers: [relu]\n", (1, 4, "D"),
     "`dim` 'D' is not a spatial dim of the input 1×8×8; use H, W"),
    ("input: 1x8x8\nlayers: [relu]\n", (5, 4, None),
     "the range `minimum` 5 `maximum` 4 is empty; give 1 ≤ min ≤ max"),
    ("input: 1x8x8\nlayers: [relu]\n", (1, 20_000, None),
     "the range holds 20,000 sizes, past the limit of 10,000; narrow `minimum` and `maximum`"),
])
def test_inputs_errors(yaml_text: str, args: tuple[int, int, str | None], message: str) -> None:
    """A flat input, an unknown dim or a bad range raise an InputError."""
    network = parse_network(yaml_text, "test").network
    with pytest.raises(InputError) as caught:
        solve_inputs(network, *args)
    assert str(caught.value) == message
