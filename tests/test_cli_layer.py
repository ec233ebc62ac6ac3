"""``convcalc layer``: every leaf layer type from flags generated from the layer models, flag
errors that name flags, and the notes on inputs whose rank may be misread."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convcalc.cli.layer_flags import LEAF_TYPES, flag_of, layer_flags
from convcalc.layers import REGISTRY


def report(run_cli: Any, *args: str) -> dict[str, Any]:
    """Return the JSON report of ``convcalc layer ARGS``, which must succeed."""
    result = run_cli("layer", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_every_leaf_type_is_a_choice_and_every_field_a_flag(run_cli: Any) -> None:
    """--type takes every type but the containers, and each field of each is a flag whose
    help is the field's description, so a new type gets its flags with no CLI change."""
    containers = {name for name, cls in REGISTRY.items() if cls.container}
    assert set(LEAF_TYPES) == set(REGISTRY) - containers
    assert {"linear", "batchnorm", "upsample", "adaptive_avgpool", "slice"} <= set(LEAF_TYPES)
    flags = {flag.field: flag for flag in layer_flags()}
    for type_name in LEAF_TYPES:
        for field, info in REGISTRY[type_name].model_fields.items():
            if field in ("type", "name"):
                continue
            assert type_name in flags[field].types, (type_name, field)
            assert (info.description or "").rstrip(".") in flags[field].help, (type_name, field)
    helped = run_cli("layer", "--help")
    for flag in flags.values():
        assert flag.flag in helped.stdout, flag.flag


def test_the_lecture_flags_keep_their_names() -> None:
    """The short flags the command always had are the ones the fields map to."""
    assert [flag_of(f) for f in ("kernel", "filters", "stride", "padding", "dilation",
                                 "groups", "output_padding", "ceil_mode", "bias")] == [
        "--k", "--filters", "--stride", "--pad", "--dilation", "--groups",
        "--output-padding", "--ceil-mode", "--bias"]
    assert flag_of("output") == "--output-size"  # --output is a file in export/plot/schema


def test_the_lecture_exercise(run_cli: Any) -> None:
    """3×32×32, ten 5×5 filters, pad 2: 10×32×32, 760 parameters, 768,000 MACs."""
    result = run_cli("layer", "--input", "3x32x32", "--filters", "10", "--k", "5", "--pad", "2")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "Output volume            10×32×32" in result.stdout
    assert "Parameters               760 (750 weights + 10 biases)" in result.stdout
    assert "Multiply-accumulates     768,000" in result.stdout


def test_linear_from_flags(run_cli: Any) -> None:
    """AlexNet's fc6: 9216 → 4096 is 9216·4096 + 4096 = 37,752,832 parameters and
    37,748,736 MACs."""
    data = report(run_cli, "--input", "9216", "--type", "linear", "--units", "4096")
    assert data["output_shape"] == [4096]
    assert (data["totals"]["params"], data["totals"]["macs"]) == (37_752_832, 37_748_736)
    no_bias = report(run_cli, "--input", "9216", "--type", "linear", "--units", "4096",
                     "--no-bias")
    assert no_bias["totals"]["params"] == 37_748_736


@pytest.mark.parametrize(("args", "shape", "params"), [
    (("--input", "64x56x56", "-t", "batchnorm"), [64, 56, 56], 128),   # γ, β per channel
    (("--input", "64x7x7", "-t", "groupnorm", "--groups", "32"), [64, 7, 7], 128),
    (("--input", "64x7x7", "-t", "groupnorm", "--groups", "32", "--no-affine"), [64, 7, 7], 0),
    (("--input", "64x7x7", "-t", "adaptive_avgpool", "--output-size", "1"), [64, 1, 1], 0),
    (("--input", "64x7x7", "-t", "adaptive_maxpool", "--output-size", "2x3"), [64, 2, 3], 0),
    (("--input", "64x7x7", "-t", "global_avgpool"), [64], 0),
    (("--input", "64x7x7", "-t", "upsample", "--scale", "2"), [64, 14, 14], 0),
    (("--input", "64x7x7", "-t", "upsample", "--size", "9x10", "--mode", "linear"),
     [64, 9, 10], 0),
    (("--input", "3x8x8", "-t", "pad", "--pad", "[[0, 1], [2, 3]]"), [3, 9, 13], 0),
    (("--input", "64x7x7", "-t", "dropout", "--p", "0.3"), [64, 7, 7], 0),
    (("--input", "64x7x7", "-t", "prelu", "--per-channel"), [64, 7, 7], 64),
    (("--input", "64x7x7", "-t", "layer_scale"), [64, 7, 7], 64),
    (("--input", "64x7x7", "-t", "channel_shuffle", "--groups", "2"), [64, 7, 7], 0),
    (("--input", "64x7x7", "-t", "slice", "--channels", "0,16"), [16, 7, 7], 0),
    (("--input", "64x7x7", "-t", "flatten"), [3136], 0),
    (("--input", "64x7x7", "-t", "leaky_relu", "--negative-slope", "0.2"), [64, 7, 7], 0),
    (("--input", "64x8x8", "-t", "maxpool", "--k", "3", "--stride", "2", "--ceil-mode"),
     [64, 4, 4], 0),   # ⌈(8 − 3)/2⌉ + 1 = 4
    (("--input", "16x4x4", "-t", "conv_transpose", "--filters", "8", "--k", "4", "--stride",
      "2", "--pad", "1", "--output-padding", "1"), [8, 9, 9], 16 * 8 * 16 + 8),
])
def test_leaf_types_from_flags(run_cli: Any, args: tuple[str, ...], shape: list[int],
                               params: int) -> None:
    """Each type's options as flags give the shape and parameters worked by hand."""
    data = report(run_cli, *args)
    assert (data["output_shape"], data["totals"]["params"]) == (shape, params)


@pytest.mark.parametrize(("args", "message"), [
    (("--ceil-mode",), "error: --ceil-mode applies to --type maxpool/avgpool\n"),
    (("--output-padding", "1"), "error: --output-padding applies to --type conv_transpose\n"),
    (("--pad", "-1"), "error: --pad must be ≥ 0, got -1\n"),
    (("--units", "3"), "error: --units applies to --type linear\n"),
    (("--stride", "3000000000"), "error: --stride must be ≤ 2,147,483,647, got 3000000000\n"),
    (("--k", "9"), "error: --k: kernel 9 is larger than the padded input along H: 8 + "
                   "padding 0+0 = 8; use a smaller kernel or more padding\n"),
    (("--pad", "x"), "error: --pad takes an int, one int per dim such as 3x5, (before, after) "
                     "per dim such as [[0, 1], [0, 1]], same or valid, got 'x'\n"),
])
def test_flag_errors_name_flags(run_cli: Any, args: tuple[str, ...], message: str) -> None:
    """A wrong flag on a conv is one line naming the flag, never a file key or a layer
    path (``layers[0]: layer 'conv1'``)."""
    words = ["--input", "3x32x32", "--filters", "10", "--k", "5", *args]
    if args[0] == "--k":
        words = ["--input", "3x8x8", "--filters", "10", *args]
    result = run_cli("layer", *words)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


@pytest.mark.parametrize(("args", "message"), [
    (("--input", "9216", "-t", "linear"), "error: --type linear needs --units (output "
                                          "features)\n"),
    (("--input", "3x8x8"), "error: --type conv needs --filters (output channels) and --k "
                           "(kernel size)\n"),
    (("--input", "64x7x7", "-t", "dropout", "--p", "1"), "error: --p must be < 1, got 1\n"),
    (("--input", "64x7x7", "-t", "dropout", "--p", "half"),
     "error: --p takes a number, got 'half'\n"),
    (("--input", "3x8x8", "-t", "upsample", "--scale", "2", "--size", "3"),
     "error: give exactly one of --scale (an int factor) or --size\n"),
    (("--input", "3x8x8", "-t", "relu", "--no-bias"),
     "error: --bias applies to --type conv/conv_transpose/linear/layernorm\n"),
    (("--input", "3x8x8", "-t", "maxpool", "--k", "2", "--filters", "3"),
     "error: --filters applies to --type conv/conv_transpose\n"),
])
def test_other_types_errors(run_cli: Any, args: tuple[str, ...], message: str) -> None:
    """Missing, misplaced and out-of-range options of other types name their flags."""
    result = run_cli("layer", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


def test_input_takes_the_file_forms(run_cli: Any) -> None:
    """--input "[64, 56, 56]", 64×56×56 and 64,56,56 are the same shape as 64x56x56, in layer,
    net and solve alike."""
    for form in ("[64, 56, 56]", "64×56×56", "64,56,56", "64x56x56"):
        data = report(run_cli, "--input", form, "-t", "maxpool", "--k", "2")
        assert data["input_shape"] == [64, 56, 56], form
    net = run_cli("net", "zoo:resnet18", "--input", "[3, 64, 64]", "--format", "json")
    assert json.loads(net.stdout)["input_shape"] == [3, 64, 64]
    solved = run_cli("solve", "--input", "[64, 56, 56]", "--output-size", "28", "--k", "3",
                     "--format", "json")
    assert (solved.exit_code, json.loads(solved.stdout)["input"]) == (0, 56)


def test_a_2_number_input_that_looks_like_hxw_is_noted(run_cli: Any) -> None:
    """32x32 is read as C=32, L=32 (1-D), and stderr says so and how to write one channel;
    3x100 (a 1-D signal) gets no note."""
    result = run_cli("layer", "--input", "32x32", "--filters", "10", "--k", "5")
    assert result.exit_code == 0
    assert result.stderr == ("note: input 32×32 read as C=32, L=32 (1-D); write 1x32x32 for "
                             "one 32×32 channel\n")
    assert run_cli("layer", "--input", "3x100", "--filters", "4", "--k", "5").stderr == ""


def test_a_batch_looking_input_is_noted(run_cli: Any) -> None:
    """1x3x224x224 is a valid C×D×H×W volume, so it is analysed, with a note suggesting
    3x224x224 and --batch; a video 3x16x112x112 gets none."""
    result = run_cli("layer", "--input", "1x3x224x224", "--filters", "4", "--k", "3")
    assert result.exit_code == 0
    assert result.stderr == ("note: input 1×3×224×224 read as C=1, D=3, H=224, W=224 (3-D); "
                             "if 1 is the batch, write 3x224x224 (the batch size is "
                             "--batch)\n")
    video = run_cli("layer", "--input", "3x16x112x112", "--filters", "4", "--k", "3")
    assert (video.exit_code, video.stderr) == (0, "")


def test_a_misread_rank_is_said_in_the_error_it_causes(run_cli: Any) -> None:
    """When the layers do not fit the misread rank, the error says how the input was read."""
    result = run_cli("layer", "--input", "32x32", "--filters", "4", "--k", "3x3")
    assert result.stderr == (
        "error: --k: kernel has 2 values [3, 3] but the input has 1 spatial dimension: give "
        "one int or 1 ints (input 32×32 read as C=32, L=32 (1-D); write 1x32x32 for one "
        "32×32 channel)\n")
