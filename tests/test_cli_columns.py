"""The output flags of convcalc net: --depth in every format, --columns, --exact, ×N."""

from __future__ import annotations

import json
from typing import Any

import pytest

REPEATED = """\
name: rep
input: 4x8x8
layers:
  - type: sequential
    name: body
    repeat: 3
    layers:
      - {type: conv, filters: 4, kernel: 3, padding: 1}
      - relu
  - flatten
"""
"""Worked by hand: each conv has 4·(4·3·3) + 4 = 148 params and 4·8·8·36 = 9,216 MACs,
2·9,216 + 4·8·8 = 18,688 FLOPs; each relu 256 FLOPs; a 4×8×8 float32 output is 1,024 B.
The body runs 3 times: 444 params, 27,648 MACs, 56,832 FLOPs, 6,144 B; flatten adds
1,024 B. Rows: 3 turns × (conv, relu, turn subtotal) + body + flatten1 = 11."""


def net(run_cli: Any, *args: str) -> Any:
    """Return the result of ``convcalc net - ARGS`` on the repeated network."""
    return run_cli("net", "-", *args, input=REPEATED)


def test_json_depth_keeps_the_rows_up_to_it(run_cli: Any) -> None:
    """JSON with --depth 0 has body (its subtotal) and flatten1; without, all 11 rows."""
    full = json.loads(net(run_cli, "--format", "json").stdout)
    assert len(full["layers"]) == 11
    folded = json.loads(net(run_cli, "--format", "json", "--depth", "0").stdout)
    assert [row["name"] for row in folded["layers"]] == ["body", "flatten1"]
    body = folded["layers"][0]
    assert (body["params"], body["macs"], body["flops"], body["activation_bytes"]) == (
        444, 27_648, 56_832, 6_144)
    assert folded["totals"] == full["totals"]
    turns = json.loads(net(run_cli, "--format", "json", "--depth", "1").stdout)
    assert [row["name"] for row in turns["layers"]] == ["body.0", "body.1", "body.2", "body",
                                                        "flatten1"]


def test_csv_depth_and_columns(run_cli: Any) -> None:
    """CSV folds with --depth; --columns keeps the identity and the picked columns."""
    lines = net(run_cli, "--format", "csv", "--depth", "0").stdout.splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["body", "flatten1"]
    picked = net(run_cli, "--format", "csv", "--depth", "0", "--columns", "input,macs,macs-share")
    assert picked.stdout.splitlines() == [
        "name,type,depth,container,input_shape,macs,macs_share,aux,global_context",
        "body,sequential,0,true,4x8x8,27648,1.000000,false,false",
        "flatten1,flatten,0,false,4x8x8,0,0.000000,false,false",
    ]


def test_markdown_rounded_or_exact_throughout(run_cli: Any) -> None:
    """Markdown rounds rows and total alike; --exact writes every figure in full."""
    rounded = net(run_cli, "--format", "markdown", "--depth", "0").stdout.splitlines()
    assert rounded[-3:] == [
        "| **body** | sequential ×3 | 4×8×8 | 444 | 27.6 K | 56.8 K | 6.00 KiB | 7×7 s1 |",
        "| flatten1 | flatten | 256 | 0 | 0 | 0 | 1.00 KiB | global |",
        "| **Total** | | 256 | 444 | 27.6 K | 56.8 K | 7.00 KiB | |",
    ]
    exact = net(run_cli, "--format", "markdown", "--depth", "0", "--exact").stdout.splitlines()
    assert exact[-3:] == [
        "| **body** | sequential ×3 | 4×8×8 | 444 | 27,648 | 56,832 | 6,144 B | 7×7 s1 |",
        "| flatten1 | flatten | 256 | 0 | 0 | 0 | 1,024 B | global |",
        "| **Total** | | 256 | 444 | 27,648 | 56,832 | 7,168 B | |",
    ]


def test_table_exact_and_repeat_mark(run_cli: Any) -> None:
    """The table shows ×3 on the folded repeated body only, and --exact full integers."""
    folded = net(run_cli, "--depth", "0", "--exact").stdout.splitlines()
    assert folded[2].split() == ["Layer", "Type", "Output", "shape", "Params", "MACs", "FLOPs",
                                 "Memory", "Receptive", "field"]
    assert folded[4].split() == ["body", "sequential", "×3", "4×8×8", "444", "27,648", "56,832",
                                 "6,144", "B", "7×7", "s1"]
    assert folded[7].split() == ["Total", "256", "444", "27,648", "56,832", "7,168", "B"]
    # At depth 1 the turns (body.0, …) are folded and the body is not: no ×3 anywhere.
    turns = net(run_cli, "--depth", "1").stdout.splitlines()
    assert [line.split()[:2] for line in turns[4:8]] == [
        ["body.0", "sequential"], ["body.1", "sequential"], ["body.2", "sequential"],
        ["body", "sequential"]]
    assert not any("sequential ×" in line for line in turns)


def test_columns_pick_and_order(run_cli: Any) -> None:
    """--columns input,params shows those two after name and type, in that order."""
    lines = net(run_cli, "--depth", "0", "--columns", "input,params").stdout.splitlines()
    assert lines[2:6] == [
        "Layer     Type           Input shape  Params",
        "─" * 44,
        "body      sequential ×3  4×8×8           444",
        "flatten1  flatten        4×8×8             0",
    ]
    assert lines[7] == "Total                    4×8×8           444"


def test_bars_join_the_picked_columns(run_cli: Any) -> None:
    """--bars with --columns params puts the params share right after the params."""
    lines = net(run_cli, "--depth", "0", "--columns", "params", "--bars").stdout.splitlines()
    assert lines[2].split() == ["Layer", "Type", "Params", "Params", "share"]
    assert lines[4].split() == ["body", "sequential", "×3", "444", "██████████", "100.0%"]


@pytest.mark.parametrize(("columns", "message"), [
    ("input,paramz", "error: --columns: unknown column 'paramz'; did you mean 'params'? it "
                     "takes: input, output, params, params-share, macs, macs-share, flops, "
                     "memory, receptive-field, backward-macs, backward-flops, saved\n"),
    ("input,,macs", "error: --columns: an empty column name; it takes: input, output, params, "
                    "params-share, macs, macs-share, flops, memory, receptive-field, "
                    "backward-macs, backward-flops, saved\n"),
])
def test_unknown_column_is_one_line(run_cli: Any, columns: str, message: str) -> None:
    """An unknown or empty column name is one error line naming the columns, exit 2."""
    result = net(run_cli, "--columns", columns)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


def test_columns_do_not_apply_to_json(run_cli: Any) -> None:
    """--columns with --format json is an error: the JSON has every key."""
    result = net(run_cli, "--columns", "params", "--format", "json")
    assert (result.exit_code, result.stderr) == (
        2, "error: --columns picks the columns of the table, markdown and csv; the json has "
           "every key (pick them with jq)\n")


def test_summary_prints_each_value_once(run_cli: Any) -> None:
    """444 params is not repeated as its rounded 444; 27,648 MACs keeps its 27.6 K."""
    lines = net(run_cli, "--depth", "0").stdout.splitlines()
    summary = {line[:30].strip(): line[30:].split() for line in lines[9:]}
    assert summary["Parameters (trainable)"] == ["444"]
    assert summary["Multiply-accumulates"] == ["27,648", "27.6", "K", "MACs"]
    assert summary["Activation memory (float32)"] == ["7,168", "B", "7.00", "KiB"]


def test_layer_card_memory_once(run_cli: Any) -> None:
    """A 4×4×4 float32 output is 256 B, printed once, not as 256 B (256 B)."""
    card = run_cli("layer", "--input", "1x4x4", "--filters", "4", "--k", "3", "--pad", "1")
    assert card.stdout.splitlines()[-1] == "Output memory (float32)  256 B"


@pytest.mark.parametrize("depth", ["0", "1", "2"])
def test_folded_json_keeps_the_documented_sums(run_cli: Any, depth: str) -> None:
    """docs/json.md: folded, the totals are the sums over leaves and depth-N containers."""
    data = json.loads(run_cli("net", "zoo:inception_v3", "--depth", depth, "--format",
                              "json").stdout)
    whole = [row for row in data["layers"]
             if not row["container"] or row["depth"] == int(depth)]
    assert all(row["depth"] <= int(depth) for row in data["layers"])
    totals = data["totals"]
    assert totals["aux"] is not None  # its AuxLogits head: aux rows are summed apart
    assert sum(row["params"] for row in whole) == totals["params"]
    main = [row for row in whole if not row["aux"]]
    assert sum(row["macs"] for row in main) == totals["macs"]
    assert sum(row["activation_bytes"] for row in main) == totals["activation_bytes"]
    heads = [row for row in whole if row["aux"]]
    assert sum(row["macs"] for row in heads) == totals["aux"]["macs"] > 0


def test_flatten_explanation_says_each_output_reads_one_position(run_cli: Any) -> None:
    """--explain on a flatten: each output reads exactly one input position."""
    network = "input: 2x4x4\nlayers:\n  - flatten\n"
    lines = run_cli("net", "-", "--explain", input=network).stdout.splitlines()
    assert lines[-1] == ("  RF: global from here on (each output reads exactly one input "
                         "position; the positions become features, which later layers mix)")
