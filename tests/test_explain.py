"""The worked formulas of --explain: hand-worked lines, and agreement with the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from convcalc import analyze, load_network, parse_network
from convcalc.explain import Explanation, explain
from convcalc.results import Report

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))


def report_of(yaml_text: str, batch: int = 1) -> Report:
    return analyze(parse_network(yaml_text, "test").network, batch=batch)


def lines_of(yaml_text: str, batch: int = 1) -> dict[str, tuple[str, ...]]:
    return {e.layer: e.lines for e in explain(report_of(yaml_text, batch))}


def one_layer(input_shape: str, layer: str, batch: int = 1) -> tuple[str, ...]:
    """Return the lines of a one-layer network's only layer."""
    (lines,) = lines_of(f"input: {input_shape}\nlayers:\n  - {layer}\n", batch).values()
    return lines


LECTURE = one_layer("3x32x32", "{type: conv, filters: 10, kernel: 5, padding: 2}")


def test_lecture_output_size() -> None:
    """The output size of the lecture's conv is worked per spatial dim, on one line."""
    assert LECTURE[0] == "out = (32 − 5 + 2·2)/1 + 1 = 32"


def test_lecture_params() -> None:
    """Parameters are filters × (channels·K·K) plus a bias per filter."""
    assert "params = 10·(3·5·5) + 10 = 760" in LECTURE


def test_lecture_macs() -> None:
    """MACs are filters × output positions × (channels·K·K)."""
    assert "MACs = 10·32·32·(3·5·5) = 768,000" in LECTURE


def test_lecture_receptive_field() -> None:
    """The first layer's field is 1 + (K−1)·1."""
    assert "RF = 1 + (5−1)·1 = 5" in LECTURE


def test_lecture_flops() -> None:
    """FLOPs are two per MAC plus one add per bias use: 2·768,000 + 10·32·32."""
    assert ("FLOPs = 2·768,000 + 10·32·32 = 1,546,240 (2 per MAC, one add per bias use)"
            in LECTURE)


def test_non_whole_division_names_the_unread_row() -> None:
    """(32 − 3 + 0)/2 = 14.5 rounds down to 14 along H and W alike: one line, which names
    the last input row along H and the last input column along W, as the warning does."""
    lines = one_layer("3x32x32", "{type: conv, filters: 4, kernel: 3, stride: 2}")
    assert lines[0] == ("out = (32 − 3 + 0)/2 = 14.5 → floor → 14 + 1 = 15; the last input "
                        "row along H and the last input column along W are never read")


def test_unread_column_is_a_column() -> None:
    """3×32×33, K 2, S 3: H is whole ((32 − 2)/3 = 10), W is not ((33 − 2)/3 = 10.33…):
    W's line says the last input column, and the 1 column between windows, are unread."""
    lines = one_layer("3x32x33", "{type: conv, filters: 4, kernel: 2, stride: 3}")
    assert lines[:2] == (
        "H: out = (32 − 2 + 0)/3 + 1 = 11",
        "W: out = (33 − 2 + 0)/3 = 10.33… → floor → 10 + 1 = 11; the last input column is "
        "never read, as the 1 column between windows is anyway (a window of 2 at stride 3)",
    )


def test_each_dim_names_its_own_slices() -> None:
    """3×8×34×34, K 3, S 3: (8 − 3)/3 leaves 5 mod 3 = 2 planes along D, (34 − 3)/3 one row
    along H and one column along W; D differs, so each dim has its line."""
    lines = one_layer("3x8x34x34", "{type: conv, filters: 4, kernel: 3, stride: 3}")
    assert lines[:3] == (
        "D: out = (8 − 3 + 0)/3 = 1.66… → floor → 1 + 1 = 2; the last 2 input planes are "
        "never read",
        "H: out = (34 − 3 + 0)/3 = 10.33… → floor → 10 + 1 = 11; the last input row is never "
        "read",
        "W: out = (34 − 3 + 0)/3 = 10.33… → floor → 10 + 1 = 11; the last input column is "
        "never read",
    )


def test_several_rows_unread() -> None:
    """(5 − 3 + 0)/3 = 0.66… leaves the last 2 input positions of a 1-D input unread; the
    decimal is cut."""
    lines = one_layer("1x5", "{type: avgpool, kernel: 3}")
    assert ("out = (5 − 3 + 0)/3 = 0.66… → floor → 0 + 1 = 1; the last 2 input positions are "
            "never read") in lines


def test_remainder_in_padding_is_not_a_lost_row() -> None:
    """ResNet's stem: (224 − 7 + 2·3)/2 = 111.5; the unread position is right padding."""
    lines = one_layer("3x224x224", "{type: conv, filters: 64, kernel: 7, stride: 2, padding: 3}")
    assert lines[0] == ("out = (224 − 7 + 2·3)/2 = 111.5 → floor → 111 + 1 = 112; only right "
                        "padding is left unread")


def test_wide_stride_gap_is_explained() -> None:
    """A 1×1 stride-2 conv on 56×56 leaves the last row and column, as it leaves every other
    row and column."""
    lines = one_layer("64x56x56", "{type: conv, filters: 128, kernel: 1, stride: 2}")
    assert lines[0] == ("out = (56 − 1 + 0)/2 = 27.5 → floor → 27 + 1 = 28; the last input row "
                        "along H and the last input column along W are never read, as the 1 "
                        "row and the 1 column between windows are anyway (a window of 1 at "
                        "stride 2)")


def test_same_padding_odd_total() -> None:
    """same on W=8, K=3, S=2: out ⌈8/2⌉ = 4, total (4−1)·2 + 3 − 8 = 1: 0 before, 1 after."""
    lines = one_layer("1x8", "{type: conv, filters: 1, kernel: 3, stride: 2, padding: same}")
    assert lines[:2] == (
        "same (TensorFlow's rule): out = ⌈8/2⌉ = 4; padding = max((4 − 1)·2 + 3 − 8, 0) = 1 "
        "→ 0 before, 1 after",
        "out = (8 − 3 + 0 + 1)/2 + 1 = 4",
    )


def test_same_padding_even_total() -> None:
    """same on W=7, K=3, S=2: out ⌈7/2⌉ = 4, total (4−1)·2 + 3 − 7 = 2: 1 before, 1 after."""
    lines = one_layer("1x7", "{type: conv, filters: 1, kernel: 3, stride: 2, padding: same}")
    assert lines[0].endswith("max((4 − 1)·2 + 3 − 7, 0) = 2 → 1 before, 1 after")
    assert lines[1] == "out = (7 − 3 + 2·1)/2 + 1 = 4"


def test_dilation_uses_the_effective_kernel() -> None:
    """Dilation 2 spreads a 3-tap kernel over 2·(3−1)+1 = 5 inputs, in size and field."""
    lines = one_layer("1x32", "{type: conv, filters: 1, kernel: 3, dilation: 2, padding: 2}")
    assert lines[:2] == ("effective kernel = 2·(3 − 1) + 1 = 5 (dilation 2)",
                         "out = (32 − 5 + 2·2)/1 + 1 = 32")
    assert lines[-1] == "RF = 1 + (3−1)·2·1 = 5"


def test_ceil_mode_rounds_up() -> None:
    """ceil_mode: (5 − 2 + 0)/2 = 1.5 rounds up to 2, so 3 outputs."""
    lines = one_layer("1x5", "{type: maxpool, kernel: 2, ceil_mode: true}")
    assert "out = (5 − 2 + 0)/2 = 1.5 → ceil → 2 + 1 = 3 (ceil_mode)" in lines


def test_ceil_mode_drops_a_window_starting_in_padding() -> None:
    """PyTorch drops a last window that would start at (3−1)·2 = 4 ≥ 3 + 1: out is 2."""
    lines = one_layer("1x3", "{type: maxpool, kernel: 2, padding: 1, ceil_mode: true}")
    assert ("the last window would start at (3 − 1)·2 = 4 ≥ 3 + 1, inside the right padding, "
            "so PyTorch drops it: out = 2") in lines


def test_ceil_mode_dropped_window_matches_torch() -> None:
    """torch's MaxPool1d(2, padding=1, ceil_mode=True) on 3 gives the 2 outputs explained."""
    torch = pytest.importorskip("torch")
    pool = torch.nn.MaxPool1d(2, padding=1, ceil_mode=True)
    assert pool(torch.zeros(1, 1, 3)).shape[-1] == 2


def test_whole_division_under_ceil_mode() -> None:
    """A whole division says ceil_mode changes nothing."""
    lines = one_layer("1x6", "{type: maxpool, kernel: 2, ceil_mode: true}")
    assert "out = (6 − 2 + 0)/2 + 1 = 3 (whole, so ceil_mode changes nothing)" in lines


def test_pool_stride_defaults_to_kernel() -> None:
    """A pool without a stride says it strides by its kernel."""
    lines = one_layer("8x4x4", "{type: maxpool, kernel: 2}")
    assert lines[0] == "stride = kernel = 2×2 (pooling's default)"
    assert "FLOPs = 8·2·2·(2·2 − 1) = 96 (∏K − 1 comparisons per output)" in lines


def test_depthwise_groups() -> None:
    """groups = C: each filter reads 32/32 = 1 channel; params 32·(1·3·3)."""
    lines = one_layer("32x8x8", "{type: conv, filters: 32, kernel: 3, padding: 1, groups: 32, "
                                "bias: false}")
    assert "groups = 32: each filter reads C/groups = 32/32 = 1 channel" in lines
    assert "params = 32·(1·3·3) = 288" in lines
    assert "FLOPs = 2·18,432 = 36,864 (2 per MAC)" in lines


def test_dims_that_differ_get_a_line_each() -> None:
    """A 3×5 kernel works H and W apart, each line named."""
    lines = one_layer("1x10x10", "{type: conv, filters: 1, kernel: [3, 5]}")
    assert lines[:2] == ("H: out = (10 − 3 + 0)/1 + 1 = 8", "W: out = (10 − 5 + 0)/1 + 1 = 6")
    assert lines[-2:] == ("H: RF = 1 + (3−1)·1 = 3", "W: RF = 1 + (5−1)·1 = 5")


def test_transposed_conv() -> None:
    """A 2×2 stride-2 transposed conv: (16 − 1)·2 − 0 + (2 − 1) + 1 = 32; MACs by input."""
    lines = one_layer("64x16x16", "{type: conv_transpose, filters: 32, kernel: 2, stride: 2}")
    assert lines[0] == ("out = (W − 1)·S − 2P + D·(K − 1) + output_padding + 1 (PyTorch's "
                        "ConvTranspose)")
    assert lines[1] == "out = (16 − 1)·2 − 2·0 + 1·(2 − 1) + 0 + 1 = 32"
    assert "params = 64·(32·2·2) + 32 = 8,224" in lines
    assert "MACs = 64·16·16·(32·2·2) = 2,097,152" in lines
    assert lines[-1].startswith("RF = 1, stride 1/2: the widest unit, from the exact walk")


def test_stack_uses_the_araujo_recurrence() -> None:
    """Two 3×3 convs, the first stride 2: r = 1 + 2·1 = 3, then 3 + (3−1)·2 = 7."""
    explained = lines_of("input: 1x16\nlayers:\n  - {type: conv, filters: 1, kernel: 3, "
                         "stride: 2}\n  - {type: conv, filters: 1, kernel: 3}\n")
    assert explained["conv1"][-1] == "RF = 1 + (3−1)·1 = 3, stride 1·2 = 2"
    assert explained["conv2"][-1] == "RF = 3 + (3−1)·2 = 7"


def test_field_after_upsampling_is_from_the_walk() -> None:
    """After a 2× upsampling the recurrence does not hold; the line says so."""
    explained = lines_of("input: 1x8\nlayers:\n  - {type: upsample, scale: 2}\n"
                         "  - {type: conv, filters: 1, kernel: 3}\n")
    assert explained["conv1"][-1] == (
        "RF = 2, stride 1/2: the widest unit, from the exact walk (the input's units repeat "
        "with a period of 2, not 1 (after upsampling), so r_in + (K−1)·D·S_in does not apply)")


def test_adaptive_pool_uneven_windows() -> None:
    """adaptive to 3 from 5: windows [0,2), [1,4), [3,5) hold 2, 3, 2 inputs."""
    lines = one_layer("2x5", "{type: adaptive_avgpool, output: 3}")
    assert lines[0] == ("out = 3 (given); 5/3 is not whole, so the windows [⌊o·5/3⌋, "
                        "⌈(o+1)·5/3⌉) have 2, 3, 2 inputs (PyTorch's placement)")
    assert "FLOPs = 2·7 = 14 (one operation per element read: adds, then a divide)" in lines


def test_linear_and_flatten() -> None:
    """flatten 16×5×5 → 400; linear 400 → 120 has 400·120 + 120 params."""
    explained = lines_of("input: 16x5x5\nlayers:\n  - flatten\n  - {type: linear, units: 120}\n")
    assert explained["flatten1"][0] == "out = 16·5·5 = 400 (C·∏W)"
    assert explained["linear1"][:2] == ("params = 400·120 + 120 = 48,120",
                                        "MACs = 400·120 = 48,000")


def test_batchnorm() -> None:
    """BatchNorm: 2·C learned, 2·C stored, 2 FLOPs an element."""
    lines = one_layer("64x4x4", "batchnorm")
    assert lines == (
        "params = 2·64 = 128 (γ and β per channel)",
        "non-trainable = 2·64 = 128 (running mean and variance)",
        "FLOPs = 2·64·4·4 = 2,048 (inference form x·a + b: a multiply and an add per element)",
    )


def test_global_pool_and_upsample() -> None:
    """global max pool: C·(∏W − 1) comparisons; bilinear upsample: 4 + 3 FLOPs an output."""
    assert one_layer("8x3x3", "global_maxpool")[1] == "FLOPs = 8·(3·3 − 1) = 64 (comparisons)"
    lines = one_layer("1x2x2", "{type: upsample, scale: 2, mode: linear}")
    assert lines[0] == "out = 2·2 = 4"
    assert lines[1] == ("FLOPs = (4 + 3)·1·4·4 = 112 (4 multiplies and 3 adds per output "
                        "element, align_corners=False)")


def test_batch_multiplies_macs() -> None:
    """With batch 2 the MACs carry the factor 2 in front, and a sum is bracketed."""
    lines = one_layer("3x32x32", "{type: conv, filters: 10, kernel: 5, padding: 2}", batch=2)
    assert "MACs = 2·10·32·32·(3·5·5) = 1,536,000 (batch 2)" in lines
    pool = one_layer("1x5", "{type: adaptive_maxpool, output: 3}", batch=2)
    assert "FLOPs = 2·(1·7 − 1·3) = 8 (elements read less one per window: comparisons; batch 2)" \
        in pool


def test_merges() -> None:
    """A residual add sums two equal shapes; a concat adds the branches' channels."""
    explained = lines_of(
        "input: 4x8x8\nlayers:\n"
        "  - {type: residual, name: block, layers: [{type: conv, filters: 4, kernel: 3, "
        "padding: 1}]}\n"
        "  - {type: parallel, name: cat, branches: [[], [{type: conv, filters: 2, kernel: 1}]]}\n")
    assert explained["block.add"] == (
        "add: 4×8×8 + 4×8×8 → 4×8×8 (equal shapes, elementwise)",
        "FLOPs = (2 − 1)·4·8·8 = 256 (one add per element for each extra branch)",
        "RF = 3: the union of the branches' fields",
    )
    assert explained["cat.concat"][0] == "concat: channels = 4 + 2 = 6, spatial 8×8 kept"


def test_explanation_json_holds_only_name_type_and_lines() -> None:
    """The JSON form of an explanation is its layer, type and lines; the numbers stay out."""
    (explanation,) = explain(report_of("input: 1x4\nlayers:\n  - relu\n"))
    assert explanation.model_dump(mode="json") == {
        "layer": "relu1", "type": "relu", "lines": ["FLOPs = 1·4 = 4 (one per element)"]}


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_explains_to_the_report(path: Path, batch: int) -> None:
    """Each layer's worked numbers equal the report's: shape, params, MACs, FLOPs, field."""
    report = analyze(load_network(str(path)).network, batch=batch)
    leaves = [row for row in report.layers if not row.container]
    explanations: tuple[Explanation, ...] = explain(report)
    assert [e.layer for e in explanations] == [row.name for row in leaves]
    for explanation, row in zip(explanations, leaves, strict=True):
        field = row.receptive_field.size if row.receptive_field else None
        assert (explanation.output_shape, explanation.params, explanation.non_trainable_params,
                explanation.macs, explanation.flops, explanation.receptive_field) == (
            row.output_shape, row.params, row.non_trainable_params, row.macs, row.flops,
            field), row.name
        printed = {line.split(" = ")[0]: line for line in explanation.lines}
        if row.params:
            assert printed["params"].startswith("params = ")
            assert printed["params"].split(" (")[0].endswith(f"= {row.params:,}")
        if row.macs:
            assert printed["MACs"].split(" (")[0].endswith(f"= {row.macs:,}")
