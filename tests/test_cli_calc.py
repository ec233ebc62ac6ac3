"""The ``layer`` and ``net`` commands: what they print, where, and with which exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CONVCALC_UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with tests/golden/NAME; CONVCALC_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text()


def test_the_lecture_exercise(run_cli: Any) -> None:
    """3×32×32 input, 10 filters 5×5, stride 1, pad 2 → 10×32×32, 760 params, 768,000 MACs."""
    result = run_cli("layer", "--input", "3x32x32", "--filters", "10", "--k", "5", "--pad", "2")
    assert result.exit_code == 0
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert "Output volume            10×32×32" in lines
    assert "Parameters               760 (750 weights + 10 biases)" in lines
    assert "Multiply-accumulates     768,000" in lines
    # FLOPs: 2 per MAC plus one add per bias use: 2·768,000 + 10·32·32
    assert "FLOPs                    1,546,240 (2 × 768,000 MACs + 10,240 bias adds)" in lines
    assert "Receptive field          5×5 (stride 1×1, padding 2×2)" in lines
    assert result.stderr == ""
    check_golden("layer_exercise.txt", result.stdout)


def test_layer_json_is_a_one_layer_network(run_cli: Any) -> None:
    """``layer --format json`` prints the same document as ``net`` for a one-layer network."""
    result = run_cli("layer", "-i", "3x32x32", "-f", "10", "-k", "5", "-p", "2", "--format", "json")
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    assert document["output_shape"] == [10, 32, 32]
    assert document["totals"] == {"params": 760, "non_trainable_params": 0, "macs": 768000,
                                  "flops": 1546240, "activation_bytes": 40960,
                                  "param_bytes": 3040, "aux": None,
                                  "lower_bound": False}
    (row,) = document["layers"]
    assert row["receptive_field"] == {"size": [5, 5], "stride": [1, 1], "padding": [2, 2]}


def test_layer_flags(run_cli: Any) -> None:
    """Asymmetric kernels, strides, same padding, pooling and transposed conv from flags."""
    def shape(*args: str) -> list[int]:
        result = run_cli("layer", *args, "--format", "json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["output_shape"]  # type: ignore[no-any-return]

    assert shape("-i", "3x32x32", "-f", "8", "-k", "3x5", "-s", "2", "-p", "same") == [8, 16, 16]
    assert shape("-i", "3x7x7", "-f", "1", "-k", "3", "-s", "2") == [1, 3, 3]  # (7−3)/2+1
    assert shape("-i", "64x56x56", "-t", "maxpool", "-k", "2") == [64, 28, 28]
    assert shape("-i", "64x5x5", "-t", "maxpool", "-k", "2", "-p", "1", "--ceil-mode") == [
        64, 3, 3]
    # (4 − 1)·2 − 2·1 + (4 − 1) + 1 = 8
    assert shape("-i", "16x4x4", "-t", "conv_transpose", "-f", "8", "-k", "4", "-s", "2",
                 "-p", "1") == [8, 8, 8]
    assert shape("-i", "3x100", "-f", "4", "-k", "5") == [4, 96]
    assert shape("-i", "1x8x32x32", "-f", "2", "-k", "3", "-p", "1") == [2, 8, 32, 32]


def test_layer_batch_and_no_bias(run_cli: Any) -> None:
    """--batch scales MACs but not parameters; --no-bias drops the biases."""
    result = run_cli("layer", "-i", "3x32x32", "-f", "10", "-k", "5", "-p", "2", "--no-bias",
                     "--batch", "4", "--format", "json")
    totals = json.loads(result.stdout)["totals"]
    assert totals["params"] == 750
    assert totals["macs"] == 4 * 768_000
    assert totals["flops"] == 2 * 4 * 768_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["layer", "--input", "3x32x32", "--k", "5"],
         "error: --type conv needs --filters (output channels)\n"),
        (["layer", "--input", "3x32x32", "--filters", "4"],
         "error: --type conv needs --k (kernel size)\n"),
        (["layer", "--input", "3x32x32", "--filters", "4", "--k", "3y3"],
         "error: --k takes an int or one int per dim such as 3x5, got '3y3'\n"),
        (["layer", "--input", "3x8x8", "--filters", "4", "--k", "9"],
         "error: --k: kernel 9 is larger than "
         "the padded input along H: 8 + padding 0+0 = 8; use a smaller kernel or more "
         "padding\n"),
        (["layer", "--input", "3x8x8", "--filters", "0", "--k", "3"],
         "error: --filters must be ≥ 1, got 0\n"),
        (["layer", "--input", "3x8x8", "-t", "maxpool", "--k", "2", "--filters", "3"],
         "error: --filters applies to --type conv/conv_transpose\n"),
    ],
)
def test_layer_errors(run_cli: Any, args: list[str], message: str) -> None:
    """Bad flags give one line on stderr, nothing on stdout, and exit code 2."""
    result = run_cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == message


def test_net_table_golden(run_cli: Any) -> None:
    """The ResNet-18 table is stable: names, shapes, counts, fields and totals."""
    result = run_cli("net", str(EXAMPLES / "resnet18.yaml"))
    assert result.exit_code == 0
    assert result.stderr == ""
    check_golden("net_resnet18.txt", result.stdout)


def test_net_depth_and_bars_golden(run_cli: Any) -> None:
    """--depth 1 folds deeper containers into their rows; --bars adds the share columns."""
    result = run_cli("net", str(EXAMPLES / "resnet18.yaml"), "--depth", "0", "--bars")
    assert result.exit_code == 0
    check_golden("net_resnet18_depth0_bars.txt", result.stdout)


def test_rows_add_up_to_the_printed_totals(run_cli: Any) -> None:
    """Non-container rows sum to the totals, and each container row to its subtree's rows."""
    for example in sorted(EXAMPLES.glob("*.yaml")):
        document = json.loads(run_cli("net", str(example), "--format", "json").stdout)
        rows = document["layers"]
        leaves = [row for row in rows if not row["container"]]
        for key in ("params", "non_trainable_params", "macs", "flops", "activation_bytes"):
            assert sum(row[key] for row in leaves) == document["totals"][key], (example, key)
        for index, row in enumerate(rows):
            if row["container"]:
                inside = [r for r in rows[:index] if r["name"].startswith(row["name"] + ".")
                          and not r["container"]]
                assert row["params"] == sum(r["params"] for r in inside), row["name"]
                assert row["macs"] == sum(r["macs"] for r in inside), row["name"]


def test_json_contract_keys(run_cli: Any) -> None:
    """The JSON document has exactly the documented keys, at every level."""
    result = run_cli("net", str(EXAMPLES / "unet_small.yaml"), "--format", "json")
    document = json.loads(result.stdout)
    assert list(document) == ["schema_version", "name", "input_shape", "output_shape", "batch",
                              "dtype", "layers", "totals", "warnings"]
    assert list(document["layers"][0]) == [
        "name", "type", "depth", "container", "input_shape", "output_shape", "params",
        "non_trainable_params", "macs", "flops", "activation_bytes", "receptive_field",
        "aux", "global_context", "unknown"]
    assert list(document["totals"]) == ["params", "non_trainable_params", "macs", "flops",
                                        "activation_bytes", "param_bytes", "aux", "lower_bound"]


def test_csv_and_markdown(run_cli: Any) -> None:
    """CSV has a header and one line per row; Markdown ends with the exact totals row."""
    csv_text = run_cli("net", str(EXAMPLES / "lenet5.yaml"), "--format", "csv").stdout
    lines = csv_text.splitlines()
    assert lines[0] == ("name,type,depth,container,input_shape,output_shape,params,"
                        "non_trainable_params,macs,flops,activation_bytes,rf_size,rf_stride,"
                        "rf_padding,aux,global_context")
    # LeNet-5's first conv: 6·(1·5·5) + 6 = 156 params; 6·28·28·25 = 117,600 MACs
    assert lines[1].startswith("conv1,conv,0,false,1x32x32,6x28x28,156,0,117600,")
    markdown = run_cli("net", str(EXAMPLES / "lenet5.yaml"), "--format", "markdown").stdout
    # Rounded throughout by default, the total row too; --exact gives full integers.
    assert markdown.splitlines()[-1].startswith("| **Total** | | 10 | 61.7 K | 417 K |")


def test_stdin_and_warnings(run_cli: Any) -> None:
    """``-`` reads the network from stdin; warnings go to stderr, the result to stdout."""
    text = "input: 3x32x32\nlayers:\n  - {type: maxpool, kernel: 3, stride: 2}\n"
    result = run_cli("net", "-", "--format", "json", input=text)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["output_shape"] == [3, 15, 15]
    # H and W lose the same: one warning names a row along H and a column along W.
    assert result.stderr == (
        "warning: layer 'maxpool1': (H − K + 2P)/S = (W − K + 2P)/S = (32 − 3 + 2·0)/2 = 14.5 "
        "is not a whole number, so the last input row along H and the last input column "
        "along W are never read\n")
    strict = run_cli("net", "-", "--strict", input=text)
    assert strict.exit_code == 2
    assert strict.stdout == ""
    assert strict.stderr == (
        "error: <stdin>:3: layers[0]: layer 'maxpool1': (H − K + 2P)/S = (W − K + 2P)/S = "
        "(32 − 3 + 2·0)/2 = 14.5 is not a whole number, so the last input row along H and the "
        "last input column along W are never read (strict: warnings are errors)\n")


def test_missing_file(run_cli: Any) -> None:
    """A missing file is one line on stderr and exit code 2."""
    result = run_cli("net", "no/such.yaml")
    assert result.exit_code == 2
    assert result.stderr == "error: no/such.yaml: no such file\n"


def test_no_colour_off_a_terminal(run_cli: Any) -> None:
    """Off a terminal the table has no escape codes."""
    result = run_cli("net", str(EXAMPLES / "alexnet.yaml"))
    assert "\x1b[" not in result.stdout


def test_help_and_version(run_cli: Any) -> None:
    """``convcalc`` alone prints help, every command has help, --version prints the version."""
    alone = run_cli()
    assert alone.exit_code == 0
    assert "Usage:" in alone.stdout
    from convcalc.cli import app

    names = [command.name or command.callback.__name__ for command in
             app.registered_commands]  # type: ignore[union-attr]
    for name in names:
        result = run_cli(name, "--help")
        assert result.exit_code == 0, name
        assert "Usage:" in result.stdout, name
    assert run_cli("--version").stdout.startswith("convcalc ")


def test_cli_does_not_import_heavy_modules() -> None:
    """``layer`` and ``net`` never import numpy, numba, torch or matplotlib."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from convcalc.cli import app\n"
        "runner = CliRunner()\n"
        f"assert runner.invoke(app, ['net', {str(EXAMPLES / 'resnet50.yaml')!r}]).exit_code == 0\n"
        "layer = ['layer', '-i', '3x32x32', '-f', '10', '-k', '5']\n"
        "assert runner.invoke(app, layer).exit_code == 0\n"
        "print(sorted(m for m in ('numpy', 'numba', 'torch', 'matplotlib') if m in sys.modules))\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert output.stdout.strip() == "[]"


def test_python_dash_m(tmp_path: Path) -> None:
    """``python -m convcalc`` runs the same command line, with the same exit codes."""
    ok = subprocess.run([sys.executable, "-m", "convcalc", "layer", "-i", "3x32x32", "-f", "10",
                         "-k", "5", "-p", "2", "--format", "json"], capture_output=True, text=True)
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["totals"]["macs"] == 768_000
    bad = subprocess.run([sys.executable, "-m", "convcalc", "net", str(tmp_path / "x.yaml")],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr == f"error: {tmp_path / 'x.yaml'}: no such file\n"
    assert "Traceback" not in bad.stderr


def test_layer_groups_depthwise(run_cli: Any) -> None:
    """``--groups depthwise`` is one group per input channel: 32 3×3 filters on 32×56×56
    have 32·9 + 32 = 320 params and 32·56·56·9 = 903,168 MACs; a word that is not
    depthwise is refused naming the flag."""
    result = run_cli("layer", "-i", "32x56x56", "-f", "32", "-k", "3", "-p", "1", "--groups",
                     "depthwise", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["params"] == 320
    assert json.loads(result.stdout)["totals"]["macs"] == 903_168
    explained = run_cli("layer", "-i", "32x56x56", "-f", "32", "-k", "3", "-g", "depthwise",
                        "--explain")
    assert "groups = depthwise = C = 32: each filter reads C/groups = 32/32 = 1 channel" in \
        explained.stdout
    refused = run_cli("layer", "-i", "32x56x56", "-f", "32", "-k", "3", "--groups", "deep")
    assert refused.exit_code == 2
    assert refused.stderr == "error: --groups takes an int or depthwise, got 'deep'\n"


UNKNOWN_NETWORK = """\
name: frob
input: 3x8x8
layers:
  - {type: conv, name: conv1, filters: 4, kernel: 3, padding: 1}
  - {type: sequential, name: block, layers: [
      {type: unknown, name: f1, op: Frobnicate, output: [4, 8, 8]}, relu]}
  - {type: conv, name: conv2, filters: 2, kernel: 1}
"""


def test_unknown_rows_are_marked_in_every_view(run_cli: Any) -> None:
    """The table and Markdown name an unknown row's operator, mark its container a lower
    bound, call the totals a lower bound and say why; the field is untracked past it.

    conv1: 4·27 + 4 = 112 params; conv2: 2·4 + 2 = 10: 122 params in all."""
    table = run_cli("net", "-", input=UNKNOWN_NETWORK)
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    row = next(line for line in lines if line.startswith("  block.f1"))
    assert row.split()[1:3] == ["unknown", "(Frobnicate)"]
    assert row.endswith("untracked")
    assert next(line for line in lines if line.startswith("block ")).split()[1:4] == [
        "sequential", "(lower", "bound)"]
    assert next(line for line in lines if line.startswith("conv2")).endswith("untracked")
    assert any(line.startswith("Total (lower bound)") for line in lines)
    note = next(line for line in lines if line.startswith("Lower bound"))
    assert note.split(maxsplit=2)[2] == ("1 unknown row (Frobnicate) counted as 0: every total "
                                         "is at least the number shown")
    markdown = run_cli("net", "-", "--format", "markdown", input=UNKNOWN_NETWORK).stdout
    assert "| unknown (Frobnicate) |" in markdown
    assert "| **Total (lower bound)** |" in markdown
    assert markdown.endswith("\nLower bound: 1 unknown row (Frobnicate) counted as 0: every "
                             "total is at least the number shown.\n")
    document = json.loads(run_cli("net", "-", "--format", "json", input=UNKNOWN_NETWORK).stdout)
    assert document["totals"]["params"] == 122
    assert [r["name"] for r in document["layers"] if r["unknown"]] == ["block.f1", "block"]


def test_a_card_of_an_unknown_layer_says_its_field_is_untracked(run_cli: Any) -> None:
    """layer --type unknown gives the written output, zero counts and an untracked field."""
    result = run_cli("layer", "--type", "unknown", "--input", "3x8x8", "--op", "Frobnicate",
                     "--output-size", "5x2x2")
    assert result.exit_code == 0, result.stderr
    assert "Output volume            5×2×2" in result.stdout
    assert "Receptive field          untracked" in result.stdout
