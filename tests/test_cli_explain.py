"""--explain on the layer and net commands: where the formulas print, in every format."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from conftest import EXAMPLES

LECTURE = ("layer", "--input", "3x32x32", "--filters", "10", "--k", "5", "--pad", "2",
           "--explain")


def test_layer_card_is_followed_by_the_formulas(run_cli: Callable[..., Any]) -> None:
    """The lecture exercise prints its card, then the five worked lines under a title."""
    result = run_cli(*LECTURE)
    assert result.exit_code == 0
    card, worked = result.stdout.split("\nWorked formulas\n")
    assert "Parameters               760 (750 weights + 10 biases)" in card
    assert worked.splitlines() == [
        "  out = (32 − 5 + 2·2)/1 + 1 = 32",
        "  params = 10·(3·5·5) + 10 = 760",
        "  MACs = 10·32·32·(3·5·5) = 768,000",
        "  FLOPs = 2·768,000 + 10·32·32 = 1,546,240 (2 per MAC, one add per bias use)",
        "  RF = 1 + (5−1)·1 = 5",
    ]


def test_layer_json_gains_an_explanations_array(run_cli: Callable[..., Any]) -> None:
    """--format json --explain adds "explanations": layer, type and lines per layer."""
    result = run_cli(*LECTURE, "--format", "json")
    data = json.loads(result.stdout)
    assert data["explanations"] == [{
        "layer": "conv1", "type": "conv", "lines": [
            "out = (32 − 5 + 2·2)/1 + 1 = 32", "params = 10·(3·5·5) + 10 = 760",
            "MACs = 10·32·32·(3·5·5) = 768,000",
            "FLOPs = 2·768,000 + 10·32·32 = 1,546,240 (2 per MAC, one add per bias use)",
            "RF = 1 + (5−1)·1 = 5"]}]
    assert data["totals"]["params"] == 760


def test_json_without_explain_has_no_explanations(run_cli: Callable[..., Any]) -> None:
    """The JSON contract is unchanged without --explain."""
    data = json.loads(run_cli(*LECTURE[:-1], "--format", "json").stdout)
    assert "explanations" not in data


def test_explain_refuses_csv(run_cli: Callable[..., Any]) -> None:
    """CSV has no column for formulas: exit 2 with a message naming the formats that do."""
    result = run_cli(*LECTURE, "--format", "csv")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == ("error: --explain prints formulas, which CSV has no place for; "
                             "use --format table, json or markdown\n")


def test_net_explains_every_layer_after_the_table(run_cli: Callable[..., Any]) -> None:
    """net --explain: the table, then a heading and lines per layer, merges included."""
    result = run_cli("net", str(EXAMPLES / "resnet18.yaml"), "--explain")
    assert result.exit_code == 0
    table, worked = result.stdout.split("\nWorked formulas\n")
    assert "Parameters (trainable)" in table
    lines = worked.splitlines()
    assert lines[:3] == [
        "conv1 (conv): 3×224×224 → 64×112×112",
        "  out = (224 − 7 + 2·3)/2 = 111.5 → floor → 111 + 1 = 112; only right padding is "
        "left unread",
        "  params = 64·(3·7·7) = 9,408",
    ]
    add = lines.index("layer2.0.add (add): 64×56×56 → 128×28×28")
    assert lines[add + 1] == "  add: 128×28×28 + 128×28×28 → 128×28×28 (equal shapes, elementwise)"
    assert "  RF = 435 + (7−1)·32 = 627, stride 32·7 = 224" in lines


def test_net_markdown_appends_formulas(run_cli: Callable[..., Any]) -> None:
    """Markdown gets a "Worked formulas" section with a text block per layer."""
    result = run_cli("net", str(EXAMPLES / "lenet5.yaml"), "--explain", "--format", "markdown")
    text = result.stdout
    assert "### Worked formulas" in text
    assert ("**conv1** (conv): 1×32×32 → 6×28×28\n\n```text\nout = (32 − 5 + 0)/1 + 1 = 28\n"
            "params = 6·(1·5·5) + 6 = 156\n") in text


def test_net_json_explains_every_leaf(run_cli: Callable[..., Any]) -> None:
    """The explanations array has one entry per layer and merge row, in row order."""
    data = json.loads(run_cli("net", str(EXAMPLES / "unet_small.yaml"), "--explain",
                              "--format", "json").stdout)
    leaves = [row["name"] for row in data["layers"] if not row["container"]]
    assert [e["layer"] for e in data["explanations"]] == leaves
    concat = next(e for e in data["explanations"] if e["layer"] == "skip1.skip2.concat")
    assert concat["lines"][0] == "concat: channels = 32 + 32 = 64, spatial 32×32 kept"


# ResNet-18's top level, as examples/resnet18.yaml writes it: conv1, bn1, relu, maxpool, the
# four stages layer1..layer4 (containers, which have no formulas of their own), avgpool,
# flatten, fc. Folded to --depth 0, only these rows are shown, so only their formulas are.
RESNET18_TOP_LEAVES = ["conv1", "bn1", "relu", "maxpool", "avgpool", "flatten", "fc"]


def test_folded_json_explains_only_the_rows_it_keeps(run_cli: Callable[..., Any]) -> None:
    """--depth 0 --format json --explain: the explanations are those of the kept rows."""
    data = json.loads(run_cli("net", str(EXAMPLES / "resnet18.yaml"), "--depth", "0",
                              "--explain", "--format", "json").stdout)
    assert [row["name"] for row in data["layers"]] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool",
        "flatten", "fc"]
    assert [e["layer"] for e in data["explanations"]] == RESNET18_TOP_LEAVES


def test_folded_json_keeps_the_merges_of_kept_blocks(run_cli: Callable[..., Any]) -> None:
    """--depth 2 keeps each block's layers and its add (depth 2 under stage and block)."""
    data = json.loads(run_cli("net", str(EXAMPLES / "resnet18.yaml"), "--depth", "2",
                              "--explain", "--format", "json").stdout)
    kept = [row["name"] for row in data["layers"] if not row["container"]]
    assert [e["layer"] for e in data["explanations"]] == kept
    assert "layer2.0.add" in kept
    assert "layer2.0.downsample.0" not in kept  # depth 3: folded into its downsample row


def test_folded_table_and_markdown_explain_only_the_rows_shown(
        run_cli: Callable[..., Any]) -> None:
    """The table's and the Markdown's formulas follow the fold as the JSON's do."""
    table = run_cli("net", str(EXAMPLES / "resnet18.yaml"), "--depth", "0", "--explain")
    worked = table.stdout.split("\nWorked formulas\n")[1]
    headings = [line.split(" (")[0] for line in worked.splitlines()
                if line and not line.startswith(" ")]
    assert headings == RESNET18_TOP_LEAVES
    markdown = run_cli("net", str(EXAMPLES / "resnet18.yaml"), "--depth", "0", "--explain",
                       "--format", "markdown").stdout
    named = [line.split("**")[1] for line in markdown.split("### Worked formulas")[1]
             .splitlines() if line.startswith("**")]
    assert named == RESNET18_TOP_LEAVES
