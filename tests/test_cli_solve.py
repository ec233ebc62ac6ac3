"""convcalc solve: the printed settings, same padding and input sizes, and exact errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import EXAMPLES


def test_solve_56_to_28_table(run_cli: Callable[..., Any]) -> None:
    """The table leads with stride 2, padding 1 and works each size out."""
    result = run_cli("solve", "--input", "1x56", "--output-size", "28", "--k", "3")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == ("conv: 3 settings that map 56 → 28, simplest first (kernel 3, stride ≤ 4, "
                        "dilation ≤ 3, padding < the dilated kernel)")
    assert lines[2].split() == ["Kernel", "Stride", "Padding", "Dilation", "Whole", "Worked"]
    assert lines[4] == ("3       2       1        1                out = (56 − 3 + 2·1)/2 = 27.5 "
                        "→ floor → 27 + 1 = 28; only right padding is left unread")
    assert len(lines) == 7


def test_solve_json_lists_every_setting(run_cli: Callable[..., Any]) -> None:
    """JSON gives each setting with its whole flag and unread rows; 224 → 112 K=7 is s2 p3."""
    result = run_cli("solve", "--input", "1x224", "--output-size", "112", "--k", "7", "--format",
                     "json")
    data = json.loads(result.stdout)
    assert data["solutions"][0] == {
        "kernel": 7, "stride": 2, "padding": 3, "dilation": 1, "output_padding": 0,
        "whole": False, "unread_rows": 0,
        "worked": "out = (224 − 7 + 2·3)/2 = 111.5 → floor → 111 + 1 = 112; only right padding "
                  "is left unread"}
    assert (data["kernels"], data["strides"], data["dilations"]) == ([7, 7], [1, 4], [1, 3])


def test_solve_limit_cuts_the_table(run_cli: Callable[..., Any]) -> None:
    """--limit 2 shows two settings and says how many more there are."""
    result = run_cli("solve", "--input", "1x56", "--output-size", "28", "--limit", "2")
    assert result.stdout.splitlines()[-1] == "… and 33 more (--limit 0 shows all)"
    assert "Whole" in result.stdout and "  yes  " in result.stdout


def test_solve_transposed_has_an_output_padding_column(run_cli: Callable[..., Any]) -> None:
    """conv_transpose settings show their output padding."""
    result = run_cli("solve", "--input", "1x32", "--output-size", "64", "--type", "conv_transpose",
                     "--k", "3", "--max-dilation", "1", "--format", "csv")
    assert result.stdout.splitlines() == [
        "kernel,stride,padding,dilation,output_padding,whole,unread_rows,worked",
        "3,2,1,1,1,true,0,out = (32 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1 = 64",
    ]


def test_solve_nothing_found(run_cli: Callable[..., Any]) -> None:
    """No setting found: exit 1 (as grep: the search ran, the answer is no) and a hint."""
    result = run_cli("solve", "--input", "1x56", "--output-size", "28", "--stride", "1",
                     "--max-dilation", "1")
    assert result.exit_code == 1
    assert result.stdout == ("No conv setting within the bounds maps 56 → 28; widen --max-k, "
                             "--max-stride, --max-pad or --max-dilation, or free a fixed "
                             "value.\n")


def test_solve_same_symmetric(run_cli: Callable[..., Any]) -> None:
    """W=7, K=3, S=2: total 2, split 1 and 1, padding=1 is same."""
    result = run_cli("solve", "same", "--input", "1x7", "--k", "3", "--stride", "2")
    assert result.stdout.splitlines() == [
        "same padding for W = 7, K = 3, S = 2",
        "out = ⌈7/2⌉ = 4",
        "total = max((4 − 1)·2 + 3 − 7, 0) = 2",
        "split: 1 before, 1 after",
        "symmetric: padding=1 on both sides is exactly same",
    ]


def test_solve_same_odd_total(run_cli: Callable[..., Any]) -> None:
    """W=8, K=3, S=2: 0 before, 1 after; symmetric padding 1 shifts every window."""
    result = run_cli("solve", "same", "--input", "1x8", "--k", "3", "--stride", "2")
    assert result.stdout.splitlines()[3:] == [
        "split: 0 before, 1 after (the odd one goes after, as TensorFlow does)",
        "no symmetric padding is exactly same: padding=1 on both sides gives the same size 4, "
        "with every window 1 position earlier",
        "PyTorch's padding='same' takes stride 1 only; pad with F.pad(x, (0, 1)) and use "
        "padding=0",
    ]
    data = json.loads(run_cli("solve", "same", "--input", "1x8", "--k", "3", "--stride", "2",
                              "--format", "json").stdout)
    assert (data["total"], data["before"], data["after"], data["symmetric"]) == (1, 0, 1, None)


def test_solve_inputs_resnet18_divisible(run_cli: Callable[..., Any]) -> None:
    """ResNet-18 halves exactly at every stage for multiples of 32, compactly listed."""
    result = run_cli("solve", "inputs", str(EXAMPLES / "resnet18.yaml"), "--max", "256",
                     "--require", "divisible")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "resnet18 (3×224×224): input sizes 1–256 along H and W, every stride dividing its input",
        "valid (8 of 256): 32, 64, 96 … 256 (every 32 from 32)",
        "the file's size 224 is valid",
    ]


def test_solve_inputs_names_why_the_file_size_fails(run_cli: Callable[..., Any]) -> None:
    """An odd size before a 2×2 pool loses a row: the reason and the nearest valid sizes."""
    network = "name: pool\ninput: 3x225x225\nlayers:\n  - {type: maxpool, kernel: 2}\n"
    result = run_cli("solve", "inputs", "-", "--min", "220", "--max", "230", input=network)
    assert result.stdout.splitlines() == [
        "pool (3×225×225): input sizes 220–230 along H and W, no warnings (every input row read)",
        "valid (6 of 11): 220, 222, 224 … 230 (every 2 from 220)",
        "the file's size 225 is not: layer 'maxpool1': (H − K + 2P)/S = (W − K + 2P)/S = "
        "(225 − 2 + 2·0)/2 = 111.5 is not a whole number, so the last input row along H and "
        "the last input column along W are never read",
        "nearest valid: 224, 226",
    ]


def test_solve_inputs_json(run_cli: Callable[..., Any]) -> None:
    """JSON lists the valid sizes and, for each other, the layer and reason."""
    data = json.loads(run_cli("solve", "inputs", str(EXAMPLES / "unet_small.yaml"), "--max",
                              "8", "--format", "json").stdout)
    assert data["valid"] == [4, 8]
    assert data["rejected"][3] == {
        "size": 5, "layer": "skip1",
        "reason": "concat joins channels and needs equal spatial sizes, the branches give "
                  "16×5×5, 16×4×4"}
    assert (data["dims"], data["requirement"]) == (["H", "W"], "no-warnings")


def test_solve_help_and_docs(run_cli: Callable[..., Any]) -> None:
    """solve and its subcommands have help, and docs/design-tools.md shows each."""
    docs = (EXAMPLES.parent / "docs" / "design-tools.md").read_text()
    for words in (("solve",), ("solve", "same"), ("solve", "inputs")):
        result = run_cli(*words, "--help")
        assert (result.exit_code, "Usage:" in result.stdout) == (0, True), words
        assert f"$ convcalc {' '.join(words)} " in docs, words


@pytest.mark.parametrize(("args", "message"), [
    (("solve",), "error: solve needs --input (a shape) and --output-size (a size along its "
                 "spatial dims), or a subcommand: same, inputs\n"),
    (("solve", "--input", "1x56", "--output-size", "28", "--ceil-mode"),
     "error: --ceil-mode applies to maxpool and avgpool, not conv\n"),
    (("solve", "--input", "1x56", "--output-size", "28", "--type", "avgpool", "--dilation", "2"),
     "error: avgpool has no dilation\n"),
    (("solve", "same", "--input", "0", "--k", "3"), "error: --input must be at least 1, got 0\n"),
    (("solve", "same", "--input", "1x0", "--k", "3"),
     "error: --input: '1x0': should be greater than or equal to 1 (got 0)\n"),
    (("solve", "inputs", "missing.yaml"), "error: missing.yaml: no such file\n"),
    (("solve", "inputs", str(EXAMPLES / "lenet5.yaml"), "--dim", "D"),
     f"error: {EXAMPLES / 'lenet5.yaml'}: --dim 'D' is not a spatial dim of the input "
     "1×32×32; use H, W\n"),
])
def test_solve_errors(run_cli: Callable[..., Any], args: tuple[str, ...], message: str) -> None:
    """Bad requests exit 2 with one line naming the flag."""
    result = run_cli(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


def test_solve_inputs_escapes_control_characters_in_names(run_cli: Callable[..., Any]) -> None:
    """A network or layer name with ESC or U+202E is shown escaped, never sent raw."""
    network = ('name: "net\\e[31m"\ninput: 3x225x225\nlayers:\n'
               '  - {type: maxpool, kernel: 2, name: "p\\u202eq"}\n')
    result = run_cli("solve", "inputs", "-", "--min", "225", "--max", "225", input=network)
    assert result.exit_code == 1  # 225, the only size tried, is not valid
    assert result.stdout.splitlines()[0].startswith("net\\x1b[31m (3×225×225): ")
    assert result.stdout.splitlines()[2].startswith(
        "the file's size 225 is not: layer 'p\\u202eq': ")


def test_solve_counts_are_grouped(run_cli: Callable[..., Any]) -> None:
    """Thousands of settings are counted with separators: 48,619 for a 440-stride search."""
    result = run_cli("solve", "--input", "1x56", "--output-size", "28", "--k", "3",
                     "--max-dilation", "1", "--max-stride", "440", "--max-pad", "2147483647",
                     "--limit", "1")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("conv: 48,619 settings that map 56 → 28")
    assert lines[-1] == "… and 48,618 more (--limit 0 shows all)"


def test_solve_inputs_bound_is_one_line(run_cli: Callable[..., Any]) -> None:
    """Sizes × rows past the bound exits 2 with one line naming --min and --max."""
    network = ("input: 3x64x64\nlayers:\n  - {type: sequential, repeat: 2000, layers: "
               "[{type: conv, filters: 8, kernel: 3, padding: 1}, relu]}\n")
    result = run_cli("solve", "inputs", "-", "--max", "10000", input=network)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: <stdin>: trying 10,000 sizes on a network of 6,001 rows walks 60,010,000 rows, "
        "past the limit of 1,000,000; narrow --min and --max (at most 166 sizes for this "
        "network)\n")


# --- solve takes shapes; the old spellings are deprecated -------------------------------


def test_solve_takes_a_shape_like_layer(run_cli: Callable[..., Any]) -> None:
    """--input 224x224 and 3x224x224 are shapes (the failing case of the issue): both solve
    224 → 112, with nothing on stderr."""
    for form in ("224x224", "3x224x224", "[3, 224, 224]"):
        result = run_cli("solve", "--input", form, "--output-size", "112", "--k", "7",
                         "--max-dilation", "1", "--format", "json")
        data = json.loads(result.stdout)
        assert (result.exit_code, result.stderr, data["input"], data["output"]) == (
            0, "", 224, 112), form
        assert [(s["stride"], s["padding"]) for s in data["solutions"]] == [(2, 3)]


def test_solve_old_spellings_work_with_a_deprecation(run_cli: Callable[..., Any]) -> None:
    """--input 56 and --output 28 give the same settings as 1x56 and --output-size 28, and
    one warning each on stderr."""
    new = run_cli("solve", "--input", "1x56", "--output-size", "28", "--format", "json")
    old = run_cli("solve", "--input", "56", "--output", "28", "--format", "json")
    assert (old.exit_code, old.stdout) == (0, new.stdout)
    assert old.stderr == (
        "warning: solve --output is deprecated (--output names an output file in export, plot "
        "and schema); write --output-size 28\n"
        "warning: --input 56 as one spatial size is deprecated (a lone integer will be a shape "
        "of 56 channels, as in layer); write --input 1x56 or the whole shape, such as "
        "3x56x56\n")
    same = run_cli("solve", "same", "--input", "7", "--k", "3", "--stride", "2")
    assert same.stdout == run_cli("solve", "same", "--input", "3x7x7", "--k", "3", "--stride",
                                  "2").stdout
    assert same.stderr.startswith("warning: --input 7 as one spatial size is deprecated")


@pytest.mark.parametrize(("args", "message"), [
    (("--input", "3x56x48", "--output-size", "28"),
     "error: --input 3×56×48 has spatial sizes 48 and 56; solve works along one dim: solve "
     "each, such as --input 1x56\n"),
    (("--input", "[56]", "--output-size", "28"),
     "error: --input 56 has no spatial dims; give the sizes after the channels, such as "
     "3x56x56\n"),
    (("--input", "3x56x56", "--output-size", "28x27"),
     "error: --output-size 28x27 has sizes that differ; solve works along one dim: solve "
     "each\n"),
    (("--input", "3x56x56", "--output-size", "28", "--output", "28"),
     "error: --output is the old spelling of --output-size; give one of them\n"),
])
def test_solve_shape_errors(run_cli: Callable[..., Any], args: tuple[str, ...],
                            message: str) -> None:
    """A shape solve cannot use, or both spellings of the target, is one line."""
    result = run_cli("solve", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)
def test_solve_json_contract(run_cli: Callable[..., Any]) -> None:
    """solve, solve same and solve inputs JSON carry schema_version 1 (docs/json.md)."""
    found = run_cli("solve", "--input", "1x56", "--output-size", "28", "--k", "3",
                    "--format", "json")
    assert found.exit_code == 0
    data = json.loads(found.stdout)
    assert data["schema_version"] == 1
    # K3 S2 P1: (56 − 3 + 2)/2 + 1 = 28, the simplest.
    first = data["solutions"][0]
    assert (first["kernel"], first["stride"], first["padding"], first["dilation"]) == (3, 2, 1, 1)
    none = run_cli("solve", "--input", "1x56", "--output-size", "28", "--stride", "1",
                   "--max-dilation", "1", "--format", "json")
    assert (none.exit_code, json.loads(none.stdout)["solutions"]) == (1, [])
    same = run_cli("solve", "same", "--input", "3x7x7", "--k", "3", "--stride", "2", "--format",
                   "json")
    assert (same.exit_code, json.loads(same.stdout)["schema_version"]) == (0, 1)
    sizes = run_cli("solve", "inputs", str(EXAMPLES / "unet_small.yaml"), "--max", "8",
                    "--format", "json")
    assert (sizes.exit_code, json.loads(sizes.stdout)["schema_version"]) == (0, 1)


def test_solve_inputs_exits_1_when_no_size_is_valid(run_cli: Callable[..., Any]) -> None:
    """No valid size in the range (a 2×2 pool on odd sizes 225 only): exit 1, reason shown."""
    network = "name: pool\ninput: 3x225x225\nlayers:\n  - {type: maxpool, kernel: 2}\n"
    result = run_cli("solve", "inputs", "-", "--min", "225", "--max", "225", input=network)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == "valid (0 of 1): none"
