"""convcalc diff: the printed table and totals, every format, exit codes and errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES
from test_diff import CHANGED, SMALL


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    """Return the paths of the small network and its changed version."""
    first, second = tmp_path / "small.yaml", tmp_path / "small2.yaml"
    first.write_text(SMALL)
    second.write_text(CHANGED)
    return str(first), str(second)


def test_diff_table(run_cli: Callable[..., Any], files: tuple[str, str]) -> None:
    """Changed, removed and added rows with a → b values, then totals with the change."""
    result = run_cli("diff", *files)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "small → small2 (batch 1, float32): 4 changed, 1 added, 1 removed, 0 unchanged",
        "",
        "   Layer            Type            Output shape           Params           MACs    "
        "        FLOPs               Memory  Receptive field",
        "─" * 135,
        "~  c1               conv            8×32×32 → 16×32×32  224 → 448  221 K → 442 K    "
        "451 K → 901 K  32.0 KiB → 64.0 KiB           3×3 s1",
        "~  relu1            relu            8×32×32 → 16×32×32          0              0  "
        "8.19 K → 16.4 K  32.0 KiB → 64.0 KiB           3×3 s1",
        "−  c2               conv            8×32×32                   584          590 K    "
        "       1.19 M             32.0 KiB           5×5 s1",
        "+  pool             maxpool         16×16×16                    0              0    "
        "       12.3 K             16.0 KiB           4×4 s2",
        "~  global_avgpool1  global_avgpool  8 → 16                      0              0  "
        "8.19 K → 4.10 K          32 B → 64 B           global",
        "~  fc               linear          10                   90 → 170       80 → 160    "
        "    170 → 330                 40 B           global",
        "",
        "                                     A          B               Change",
        "Parameters (trainable)             898        618       −280 (−31.2 %)",
        "Non-trainable                        0          0                    0",
        "Multiply-accumulates           811,088    442,528   −368,560 (−45.4 %)",
        "FLOPs                        1,654,954    934,218   −720,736 (−43.6 %)",
        "Activation memory (float32)   98,376 B  147,560 B  +49,184 B (+50.0 %)",
        "Parameter memory (float32)     3,592 B    2,472 B   −1,120 B (−31.2 %)",
        "Input shape                    3×32×32    3×32×32                 same",
        "Output shape                        10         10                 same",
        "Receptive field (last)          5×5 s1     4×4 s2              changed",
    ]


def test_unchanged_rows_hidden_unless_all(run_cli: Callable[..., Any]) -> None:
    """A file against itself shows no rows, says how many are hidden; --all lists them."""
    lenet = str(EXAMPLES / "lenet5.yaml")
    result = run_cli("diff", lenet, lenet)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:3] == [
        "lenet5 → lenet5 (batch 1, float32): 0 changed, 0 added, 0 removed, 12 unchanged "
        "(hidden; --all shows them)", "", "No row differs."]
    shown = run_cli("diff", lenet, lenet, "--all").stdout.splitlines()
    assert shown[0].endswith("12 unchanged")
    assert shown[4].startswith("   conv1    conv     6×28×28")


def test_small_relative_changes_keep_two_digits(run_cli: Callable[..., Any]) -> None:
    """ResNet-18 with a 5×5 stem: −4,608 params is −0.039 %, MACs −3.2 %."""
    resnet = (EXAMPLES / "resnet18.yaml").read_text()
    smaller = resnet.replace("filters: 64, kernel: 7, stride: 2, padding: 3",
                             "filters: 64, kernel: 5, stride: 2, padding: 2")
    result = run_cli("diff", str(EXAMPLES / "resnet18.yaml"), "-", input=smaller)
    lines = result.stdout.splitlines()
    assert ("Parameters (trainable)          11,689,512     11,684,904      −4,608 (−0.039 %)"
            in lines)
    assert any(line.startswith("Multiply-accumulates") and line.endswith(
        "−57,802,752 (−3.2 %)") for line in lines)


def test_diff_json(run_cli: Callable[..., Any], files: tuple[str, str]) -> None:
    """JSON has the shown rows with both sides, counts by status and the totals."""
    data = json.loads(run_cli("diff", *files, "--format", "json").stdout)
    assert data["counts"] == {"changed": 4, "added": 1, "removed": 1, "unchanged": 0}
    pool = next(row for row in data["rows"] if row["name"] == "pool")
    assert (pool["status"], pool["a"], pool["b"]["output_shape"]) == ("added", None,
                                                                       [16, 16, 16])
    assert list(data) == ["schema_version", "a_name", "b_name", "batch", "dtype",
                          "input_shapes", "output_shapes", "receptive_fields", "rows",
                          "totals", "training", "counts"]  # docs/json.md's keys, in its order
    assert data["schema_version"] == 1
    assert list(data["totals"]) == ["params", "non_trainable_params", "macs", "flops",
                                    "activation_bytes", "param_bytes", "aux"]
    assert data["totals"]["params"] == {"before": 898, "after": 618, "change": -280,
                                        "relative": pytest.approx(-280 / 898)}
    assert data["totals"]["aux"] is None
    assert data["training"] is None


def test_diff_csv_and_markdown(run_cli: Callable[..., Any], files: tuple[str, str]) -> None:
    """CSV gives both sides per row and a total row; Markdown two tables."""
    rows = run_cli("diff", *files, "--format", "csv").stdout.splitlines()
    assert rows[1] == ("c1,changed,conv,conv,8x32x32,16x32x32,224,448,221184,442368,450560,"
                       "901120,32768,65536,3x3,3x3")
    assert rows[-1] == "total,total,,,10,10,898,618,811088,442528,1654954,934218,98376,147560,,"
    markdown = run_cli("diff", *files, "--format", "markdown").stdout
    assert "| − | c2 | conv | 8×32×32 | 584 | 590 K | 1.19 M | 32.0 KiB | 5×5 s1 |" in markdown
    assert "| Parameters (trainable) | 898 | 618 | −280 (−31.2 %) |" in markdown


def test_diff_help_and_docs(run_cli: Callable[..., Any]) -> None:
    """diff has help, and docs/design-tools.md shows it run."""
    result = run_cli("diff", "--help")
    assert (result.exit_code, "Usage:" in result.stdout) == (0, True)
    assert "$ convcalc diff " in (EXAMPLES.parent / "docs" / "design-tools.md").read_text()


def test_diff_invalid_file_exits_2(run_cli: Callable[..., Any], files: tuple[str, str],
                                   tmp_path: Path) -> None:
    """A missing or broken file is an input error: exit 2, one line on stderr."""
    result = run_cli("diff", files[0], str(tmp_path / "missing.yaml"))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"error: {tmp_path / 'missing.yaml'}: no such file\n"
    broken = tmp_path / "broken.yaml"
    broken.write_text("input: 3x8x8\nlayers:\n  - {type: linear, units: 4}\n")
    result = run_cli("diff", files[0], str(broken))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {broken}:3: layers[0]: layer 'linear1': linear "
                                    "needs a flat input")


def test_diff_depth_folds_both_sides(run_cli: Callable[..., Any]) -> None:
    """resnet18 at 224 against 32 with --depth 0: 11 top-level rows, none deeper."""
    resnet18 = str(EXAMPLES / "resnet18.yaml")
    result = run_cli("diff", resnet18, resnet18, "--input-after", "3x32x32", "--depth", "0",
                     "--format", "json", "--all")
    data = json.loads(result.stdout)
    # conv1 bn1 relu maxpool layer1..layer4 avgpool flatten fc: 11 rows at depth 0.
    assert [row["name"] for row in data["rows"]] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool",
        "flatten", "fc"]
    assert data["counts"] == {"changed": 9, "added": 0, "removed": 0, "unchanged": 2}
    # Folding leaves the totals whole: conv1's 118,013,952 MACs at 224 are in them.
    assert data["totals"]["macs"]["before"] == 1_814_073_344
    table = run_cli("diff", resnet18, resnet18, "--input-after", "3x32x32", "--depth", "0")
    assert "layer1.0" not in table.stdout and "~  layer1 " in table.stdout
