"""--input on every command that reads a network: the same output as the file edited by
hand to that input, a note on stderr, and a clear error for a shape that is not one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from convcalc import zoo

NOTE = "note: {name} analysed at the input {new} (--input), not its own {old}"


def _edited(tmp_path: Path, name: str, shape: str) -> str:
    """Write the zoo entry ``name`` with its ``input:`` line replaced by hand; return the
    path."""
    text = zoo.text(name)
    line = next(line for line in text.splitlines() if line.startswith("input: "))
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace(line, f"input: {shape}", 1), encoding="utf-8")
    return str(path)


def test_net_json_equals_the_hand_edited_file(run_cli: Callable[..., Any],
                                              tmp_path: Path) -> None:
    """net zoo:resnet18 --input 3x512x512 prints byte for byte the JSON of the file with
    ``input: 3x512x512`` written in it, and says so on stderr."""
    resized = run_cli("net", "zoo:resnet18", "--input", "3x512x512", "--format", "json")
    edited = run_cli("net", _edited(tmp_path, "resnet18", "3x512x512"), "--format", "json")
    assert resized.exit_code == edited.exit_code == 0
    assert resized.stdout == edited.stdout
    assert json.loads(resized.stdout)["input_shape"] == [3, 512, 512]
    # 512² is (512/224)² of 224²'s 1,814,073,344 MACs, up to the border rows.
    assert json.loads(resized.stdout)["totals"]["macs"] == 9_475_444_736
    assert resized.stderr == NOTE.format(name="zoo:resnet18", new="3×512×512",
                                         old="3×224×224") + "\n"
    assert edited.stderr == ""


def test_net_table_and_explain_at_the_new_input(run_cli: Callable[..., Any],
                                                tmp_path: Path) -> None:
    """The table and --explain of a resized network are those of the edited file."""
    path = _edited(tmp_path, "squeezenet1_1", "3x97x97")
    for extra in ((), ("--explain",), ("--format", "markdown"), ("--format", "csv")):
        resized = run_cli("net", "zoo:squeezenet1_1", "-i", "3x97x97", *extra)
        edited = run_cli("net", path, *extra)
        assert resized.exit_code == 0, extra
        assert resized.stdout == edited.stdout, extra
    table = run_cli("net", "zoo:squeezenet1_1", "-i", "3x97x97").stdout
    assert table.startswith("squeezenet1_1: input 3×97×97, batch 1\n")


def test_input_equal_to_the_files_gives_no_note(run_cli: Callable[..., Any]) -> None:
    """An --input equal to the file's own changes nothing and notes nothing."""
    same = run_cli("net", "zoo:alexnet", "--input", "3×224×224", "--format", "json")
    plain = run_cli("net", "zoo:alexnet", "--format", "json")
    assert same.stdout == plain.stdout
    assert same.stderr == ""


def test_verify_json_equals_the_hand_edited_file(run_cli: Callable[..., Any],
                                                 tmp_path: Path) -> None:
    """verify --input checks the network at the new input, as the edited file."""
    resized = run_cli("verify", "zoo:squeezenet1_1", "--input", "3x40x40", "--format", "json")
    edited = run_cli("verify", _edited(tmp_path, "squeezenet1_1", "3x40x40"), "--format",
                     "json")
    assert resized.exit_code == edited.exit_code == 0
    assert resized.stdout == edited.stdout
    assert json.loads(resized.stdout)["input_shape"] == [3, 40, 40]
    assert resized.stderr.splitlines()[-1] == NOTE.format(
        name="zoo:squeezenet1_1", new="3×40×40", old="3×224×224")


def test_diff_input_applies_to_both(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    """diff --input analyses both networks at that input: the diff of the edited files."""
    resized = run_cli("diff", "zoo:resnet18", "zoo:resnet34", "--input", "3x64x64",
                      "--format", "json")
    edited = run_cli("diff", _edited(tmp_path, "resnet18", "3x64x64"),
                     _edited(tmp_path, "resnet34", "3x64x64"), "--format", "json")
    assert resized.exit_code == 0
    assert resized.stdout == edited.stdout
    assert resized.stderr.splitlines() == [
        NOTE.format(name="zoo:resnet18", new="3×64×64", old="3×224×224"),
        NOTE.format(name="zoo:resnet34", new="3×64×64", old="3×224×224"),
    ]


def test_diff_one_network_at_two_inputs(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    """--input-after resizes the second network only: resnet18 against itself at 448²
    quadruples the MACs of every conv (each output size doubles per side)."""
    resized = run_cli("diff", "zoo:resnet18", "zoo:resnet18", "--input-after", "3x448x448",
                      "--format", "json")
    edited = run_cli("diff", "zoo:resnet18", _edited(tmp_path, "resnet18", "3x448x448"),
                     "--format", "json")
    assert resized.exit_code == 0
    assert resized.stdout == edited.stdout
    assert resized.stderr == ("note: zoo:resnet18 analysed at the input 3×448×448 "
                              "(--input-after), not its own 3×224×224\n")
    rows = {row["name"]: row for row in json.loads(resized.stdout)["rows"]}
    conv1 = rows["conv1"]
    assert (conv1["a"]["macs"], conv1["b"]["macs"]) == (118_013_952, 4 * 118_013_952)


def test_diff_refuses_input_with_a_side(run_cli: Callable[..., Any]) -> None:
    """--input with --input-before or --input-after is ambiguous: exit 2, one line."""
    result = run_cli("diff", "zoo:resnet18", "zoo:resnet18", "--input", "3x64x64",
                     "--input-before", "3x32x32")
    assert result.exit_code == 2
    assert result.stderr == ("error: give --input (both networks) or --input-before/"
                             "--input-after (one each), not both\n")


def test_export_equals_the_hand_edited_file(run_cli: Callable[..., Any],
                                            tmp_path: Path) -> None:
    """export --input writes the module of the edited file (its header names the source)."""
    path = _edited(tmp_path, "alexnet", "3x127x127")
    resized = run_cli("export", "--to", "pytorch", "zoo:alexnet", "--input", "3x127x127")
    edited = run_cli("export", "--to", "pytorch", path)
    assert resized.exit_code == 0
    assert resized.stdout.replace("zoo:alexnet", "FILE") == edited.stdout.replace(path, "FILE")
    assert "# convcalc's numbers for one 3x127x127 input, which build() reproduces:" in (
        resized.stdout)


def test_solve_inputs_at_the_new_input(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    """solve inputs --input searches around the new input, as the edited file."""
    args = ("--require", "divisible", "--format", "json")
    resized = run_cli("solve", "inputs", "zoo:resnet18", "--input", "3x64x64", *args)
    edited = run_cli("solve", "inputs", _edited(tmp_path, "resnet18", "3x64x64"), *args)
    assert resized.exit_code == 0
    result = json.loads(resized.stdout)
    assert result == json.loads(edited.stdout)
    assert result["input_shape"] == [3, 64, 64]
    assert result["maximum"] == 128  # twice the new input's 64, not the file's 224
    assert result["valid"] == [32, 64, 96, 128]  # the 32-fold stride divides exactly


def test_plot_at_the_new_input(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    """plot --input draws the same figure as the edited file."""
    pytest.importorskip("matplotlib")
    path = _edited(tmp_path, "vgg11", "3x64x64")
    resized = run_cli("plot", "zoo:vgg11", "--input", "3x64x64", "-o", str(tmp_path / "a.png"))
    edited = run_cli("plot", path, "-o", str(tmp_path / "b.png"))
    assert resized.exit_code == edited.exit_code == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_an_error_says_the_input_it_arose_at(run_cli: Callable[..., Any]) -> None:
    """A layer that does not fit the new input is located in the file and names --input."""
    result = run_cli("net", "zoo:vgg16", "--input", "3x16x16")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: zoo:vgg16:46: layers[0].layers[30]: layer 'features.30': kernel 2 is larger "
        "than the padded input along H: 1 + padding 0+0 = 1; use a smaller kernel or more "
        "padding (at the input 3×16×16 from --input)\n")


@pytest.mark.parametrize(("value", "message"), [
    ("3xfoo", "'3xfoo' is not a shape; write channels first in digits 0-9, e.g. 3x224x224 "
              "(C×H×W), 3x100 (C×L) or 1x16x64x64 (C×D×H×W)"),
    ("3x0x8", "'3x0x8': should be greater than or equal to 1 (got 0)"),
    ("1x2x3x4x5", "'1x2x3x4x5': a shape has 1 to 4 sizes, channels first (C, C×L, C×H×W or "
                  "C×D×H×W); this one has 5 ([1, 2, 3, 4, 5])"),
])
def test_bad_input_is_one_line(run_cli: Callable[..., Any], value: str, message: str) -> None:
    """A value that is not a shape is refused before anything is read, worded as for
    layer --input."""
    result = run_cli("net", "zoo:resnet18", "--input", value)
    assert result.exit_code == 2
    assert result.stderr == (f"error: --input: {message} (see "
                             "'convcalc net --help')\n")
