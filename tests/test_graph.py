"""The graph container: nodes wired by name count, export and verify as the nested
containers do (the same blocks written both ways), and a U-Net's long skips as one graph.

The references are the container forms (``residual``, ``parallel`` with ``concat`` and
``mul``), walked by the container code, examples/unet_small.yaml and its hand-written
torch twin (``torch_models.UNetSmall``), PyTorch's own module counts and hooks, and values
worked by hand in the docstrings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES

from convcalc import SpecError, analyze
from convcalc.analysis import count_rows
from convcalc.loader import load_network, network_from_data, parse_network
from convcalc.plan import plan_rows
from convcalc.results import Report
from convcalc.spec import Network

DATA = Path(__file__).resolve().parent / "data"


def net(data: dict[str, Any]) -> Network:
    """Return the network of plain data, validated as a file's would be."""
    return network_from_data(data, "<test>").network


def leaves(report: Report) -> dict[str, tuple[Any, ...]]:
    """Return each leaf row by name: its type, shapes, counts, field and global context.

    A merge's input is its branches' shapes: a container's merge row takes the
    container's input as its ``input_shape``, a graph's its first operand's.
    """
    return {row.name: (row.type, row.branch_shapes if row.spec is None else row.input_shape,
                       row.output_shape, row.params,
                       row.non_trainable_params, row.macs, row.flops, row.activation_bytes,
                       row.receptive_field, row.global_context)
            for row in report.layers if not row.container}


def graph(name: str, nodes: list[Any], **keys: Any) -> dict[str, Any]:
    """Return a graph layer's mapping."""
    return {"type": "graph", "name": name, "nodes": nodes, **keys}


# ------------------------------------------------------------------ the same block twice

_MAIN = [
    {"type": "conv", "name": "conv1", "filters": 16, "kernel": 3, "stride": 2, "padding": 1,
     "bias": False},
    {"type": "batchnorm", "name": "bn1"},
    {"type": "relu", "name": "relu1"},
    {"type": "conv", "name": "conv2", "filters": 16, "kernel": 3, "padding": 1, "bias": False},
    {"type": "batchnorm", "name": "bn2"},
]
_SHORTCUT = {"type": "conv", "name": "sc", "filters": 16, "kernel": 1, "stride": 2,
             "bias": False}

RESIDUAL = {"input": "8x8x8", "layers": [
    {"type": "residual", "name": "block", "layers": _MAIN, "shortcut": [_SHORTCUT],
     "after": [{"type": "relu", "name": "relu"}]}]}
RESIDUAL_GRAPH = {"input": "8x8x8", "layers": [graph("block", [
    *_MAIN,
    {**_SHORTCUT, "from": ["input"]},
    {"type": "add", "name": "add", "from": ["bn2", "sc"]},
    {"type": "relu", "name": "relu"}])]}

INCEPTION = {"input": "8x6x6", "layers": [
    {"type": "parallel", "name": "mixed", "merge": "concat", "branches": [
        [{"type": "conv", "name": "b1", "filters": 4, "kernel": 1}],
        [{"type": "conv", "name": "b2a", "filters": 2, "kernel": 1},
         {"type": "conv", "name": "b2b", "filters": 4, "kernel": 3, "padding": 1}],
        [{"type": "maxpool", "name": "b3a", "kernel": 3, "stride": 1, "padding": 1},
         {"type": "conv", "name": "b3b", "filters": 2, "kernel": 1}],
        []]},
    {"type": "conv", "name": "next", "filters": 3, "kernel": 3}]}
INCEPTION_GRAPH = {"input": "8x6x6", "layers": [
    graph("mixed", [
        {"type": "conv", "name": "b1", "filters": 4, "kernel": 1},
        {"type": "conv", "name": "b2a", "filters": 2, "kernel": 1, "from": ["input"]},
        {"type": "conv", "name": "b2b", "filters": 4, "kernel": 3, "padding": 1},
        {"type": "maxpool", "name": "b3a", "kernel": 3, "stride": 1, "padding": 1,
         "from": ["input"]},
        {"type": "conv", "name": "b3b", "filters": 2, "kernel": 1},
        {"type": "concat", "name": "concat", "from": ["b1", "b2b", "b3b", "input"]}]),
    {"type": "conv", "name": "next", "filters": 3, "kernel": 3}]}

_GATE = [
    {"type": "adaptive_avgpool", "name": "pool", "output": 1},
    {"type": "conv", "name": "fc1", "filters": 2, "kernel": 1},
    {"type": "relu", "name": "act"},
    {"type": "conv", "name": "fc2", "filters": 8, "kernel": 1},
    {"type": "sigmoid", "name": "gate"},
]
SE = {"input": "8x6x6", "layers": [
    {"type": "parallel", "name": "se", "merge": "mul", "branches": [[], _GATE]},
    {"type": "conv", "name": "next", "filters": 4, "kernel": 3}]}
SE_GRAPH = {"input": "8x6x6", "layers": [
    graph("se", [*_GATE, {"type": "mul", "name": "mul", "from": ["input", "gate"]}]),
    {"type": "conv", "name": "next", "filters": 4, "kernel": 3}]}

PAIRS = {"residual": (RESIDUAL, RESIDUAL_GRAPH), "inception": (INCEPTION, INCEPTION_GRAPH),
         "se": (SE, SE_GRAPH)}
"""Each block as its container and as a graph, with the same leaf names."""


def _merge_names(report: Report) -> dict[str, str]:
    """Return the merge rows' names by type (a container's merge is named by its kind)."""
    return {row.type: row.name for row in report.layers if not row.container
            and row.spec is None}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_graph_counts_as_its_container_form(name: str) -> None:
    """A residual block, an Inception-style parallel and an SE block written as graphs
    give every leaf row's shapes, counts, receptive field and global context, and the
    totals, of the container form."""
    container, as_graph = (analyze(net(data)) for data in PAIRS[name])
    assert leaves(as_graph) == leaves(container)
    assert as_graph.totals == container.totals
    assert as_graph.output_shape == container.output_shape
    block = {row.name: row for row in container.layers if row.container}
    for row in as_graph.layers:
        if row.container:  # the graph's subtotal is the container's, but for its type
            assert row.type == "graph"
            other = block[row.name]
            assert (row.params, row.macs, row.flops, row.activation_bytes,
                    row.receptive_field, row.global_context, row.output_shape) == (
                other.params, other.macs, other.flops, other.activation_bytes,
                other.receptive_field, other.global_context, other.output_shape)


def test_residual_graph_by_hand() -> None:
    """8×8×8 → conv1 16 3×3 s2 (8·16·9 = 1,152 params; 16·4·4 outputs × 72 taps = 18,432
    MACs), conv2 16·16·9 = 2,304 params and 256 × 144 = 36,864 MACs, the 1×1 s2 shortcut
    128 params and 256 × 8 = 2,048 MACs, two batchnorms of 32 + 32: 3,648 params, 57,344
    MACs. The add's field is the union of a 7×7 s2 path (3 + (3−1)·2) padded 3 and a
    1×1 s2 one inside it: 7×7 s2 p3."""
    report = analyze(net(RESIDUAL_GRAPH))
    assert report.totals.params == 3_648
    assert report.totals.non_trainable_params == 64
    assert report.totals.macs == 57_344
    add = next(row for row in report.layers if row.name == "block.add")
    assert add.receptive_field is not None
    assert (add.receptive_field.size, add.receptive_field.stride,
            add.receptive_field.padding) == ((7, 7), (2, 2), (3, 3))
    assert [row.name for row in report.layers] == [
        "block.conv1", "block.bn1", "block.relu1", "block.conv2", "block.bn2", "block.sc",
        "block.add", "block.relu", "block"]


def test_se_graph_global_context_by_hand() -> None:
    """The SE gate (8×1×1) is broadcast over 6×6: the mul's field is the input's own (1×1),
    it and the next conv carry global context, and the gate's rows do not reach the input
    locally (its pool mixes every position, so their field is global)."""
    report = analyze(net(SE_GRAPH))
    rows = {row.name: row for row in report.layers}
    mul = rows["se.mul"]
    assert mul.receptive_field is not None and mul.receptive_field.size == (1, 1)
    assert mul.global_context and rows["next"].global_context and rows["se"].global_context
    assert not rows["se.pool"].global_context
    # 8·6·6 multiplies for the mul, one per output element
    assert mul.flops == 288


def test_rows_come_in_node_order_and_the_plan_gives_them_back() -> None:
    """Rows follow the nodes' order (not the order of reading), then the graph's subtotal;
    the plan tree holds each row once, in the report's order."""
    report = analyze(net(INCEPTION_GRAPH))
    assert [row.name for row in report.layers] == [
        "mixed.b1", "mixed.b2a", "mixed.b2b", "mixed.b3a", "mixed.b3b", "mixed.concat",
        "mixed", "next"]
    assert report.plan is not None
    assert list(plan_rows(report.plan.nodes)) == list(report.layers)


def test_a_repeated_graph_runs_its_turns_in_a_row() -> None:
    """``repeat: 3`` on a graph of conv 4→4 3×3 p1 and an add of its input: three turns
    named g.0 … g.2, each 4·4·9 + 4 = 148 params and 4·5·5 × 36 = 3,600 MACs; the field
    grows by 2 a turn (the add keeps the conv's): 3, 5, 7."""
    report = analyze(net({"input": "4x5x5", "layers": [graph("g", [
        {"type": "conv", "name": "c", "filters": 4, "kernel": 3, "padding": 1},
        {"type": "add", "name": "m", "from": ["c", "input"]}], repeat=3)]}))
    names = [row.name for row in report.layers]
    assert names == ["g.0.c", "g.0.m", "g.0", "g.1.c", "g.1.m", "g.1", "g.2.c", "g.2.m",
                     "g.2", "g"]
    assert report.totals.params == 3 * 148 and report.totals.macs == 3 * 3_600
    sizes = [row.receptive_field.size for row in report.layers
             if row.type == "add" and row.receptive_field]
    assert sizes == [(3, 3), (5, 5), (7, 7)]
    assert count_rows(net({"input": "4x5x5", "layers": [graph("g", [
        {"type": "conv", "name": "c", "filters": 4, "kernel": 3, "padding": 1},
        {"type": "add", "name": "m", "from": ["c", "input"]}], repeat=3)]}).layers) == 10


def test_nodes_may_be_containers_and_graphs_may_nest() -> None:
    """A graph node that is a residual, and a graph inside a parallel branch, count as the
    same layers written flat: 3×3 conv 4→4 with bias is 148 params, three of them 444."""
    conv = {"type": "conv", "filters": 4, "kernel": 3, "padding": 1}
    report = analyze(net({"input": "4x6x6", "layers": [
        graph("outer", [
            {"type": "residual", "name": "res", "layers": [{**conv, "name": "c"}]},
            {**conv, "name": "side", "from": ["input"]},
            {"type": "add", "name": "m", "from": ["res", "side"]}]),
        {"type": "parallel", "branches": [[graph("inner", [{**conv, "name": "c"}])], []]}]}))
    assert report.totals.params == 3 * 148
    assert {"outer.res.c", "outer.res.add", "outer.side", "outer.m",
            "parallel1.inner.c", "parallel1.concat"} <= {row.name for row in report.layers}
    assert report.output_shape == (8, 6, 6)


def test_output_names_the_node_given_out() -> None:
    """``output`` names the node the graph gives out: 4×6×6 → conv 8 3×3 p1 → relu → the
    add of both, 8×6×6. A node after the output would be read by nothing, so naming an
    earlier node refuses the last one as dead."""
    nodes = [{"type": "conv", "name": "c", "filters": 8, "kernel": 3, "padding": 1},
             {"type": "relu", "name": "r"},
             {"type": "add", "name": "m", "from": ["c", "r"]}]
    report = analyze(net({"input": "4x6x6", "layers": [graph("g", nodes, output="m")]}))
    assert report.output_shape == (8, 6, 6)
    with pytest.raises(SpecError, match="the node 'm' is read by no later node"):
        net({"input": "4x6x6", "layers": [graph("g", nodes, output="r")]})


def test_aliased_nodes_are_counted_once_and_loaded_once() -> None:
    """A graph whose nodes alias one sequential of two relus 4 times, itself repeated
    twice in the file: 4 × 3 (two relus and the sequential's row) + 1 graph row = 13 rows
    each, 26 in all, counted through each alias once."""
    text = """
input: 2x3x3
layers:
  - &g
    type: graph
    nodes:
      - {type: sequential, name: a, layers: &two [relu, relu]}
      - {type: sequential, name: b, layers: *two}
      - {type: sequential, name: c, layers: *two}
      - {type: sequential, name: d, layers: *two}
  - *g
"""
    network = parse_network(text).network
    assert count_rows(network.layers) == 26
    assert len(analyze(network).layers) == 26


def test_graph_nodes_dump_as_written() -> None:
    """A graph dumps to the flat form it was written in (``from`` beside the layer's keys),
    which loads back to an equal network."""
    network = net(RESIDUAL_GRAPH)
    dumped = network.model_dump(exclude_none=True)
    assert dumped["layers"][0]["nodes"][5] == {**_SHORTCUT, "padding": 0, "dilation": 1,
                                               "groups": 1, "from": ("input",)}
    assert net(dumped) == network


# ------------------------------------------------------------------ the U-Net


def test_unet_as_one_graph_gives_the_examples_numbers() -> None:
    """examples/unet_small.yaml written as one graph (its skips are long: each concat reads
    an encoder output from before the pools) gives the example's 117,090 parameters (its
    header's figure), its MACs and every leaf's shapes, counts and field, in order."""
    example = analyze(load_network(EXAMPLES / "unet_small.yaml").network)
    as_graph = analyze(load_network(DATA / "unet_small_graph.yaml").network)
    assert as_graph.totals.params == 117_090
    assert as_graph.totals == example.totals
    mine = list(leaves(as_graph).values())
    theirs = list(leaves(example).values())
    assert mine == theirs
    assert as_graph.output_shape == example.output_shape == (2, 64, 64)


# ------------------------------------------------------------------ export

GRAPH_NETWORKS = {"residual": RESIDUAL_GRAPH, "inception": INCEPTION_GRAPH, "se": SE_GRAPH}


def _unet() -> dict[str, Any]:
    data: dict[str, Any] = load_network(DATA / "unet_small_graph.yaml").network.model_dump(
        exclude_none=True)
    return data


def _export(data: dict[str, Any]) -> tuple[Report, Any]:
    """Return convcalc's report of ``data`` and the exported module, built."""
    from convcalc.export import to_pytorch

    network = net(data)
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile(to_pytorch(network), "<generated>", "exec"), namespace)
    return analyze(network), namespace["build"]().eval()


@pytest.mark.parametrize("name", [*sorted(GRAPH_NETWORKS), "unet"])
def test_graph_exports_with_the_reports_numbers(name: str) -> None:
    """The exported Graph module has convcalc's parameters, running statistics and output
    shape, and a forward with hooks on its convolutions counts convcalc's MACs."""
    pytest.importorskip("torch")
    import torch_models

    data = _unet() if name == "unet" else GRAPH_NETWORKS[name]
    report, model = _export(data)
    assert torch_models.count_params(model) == report.totals.params
    buffers = sum(b.numel() for n, b in model.named_buffers()
                  if n.endswith(("running_mean", "running_var")))
    assert buffers == report.totals.non_trainable_params
    macs, shape = torch_models.count_macs(model, report.input_shape)
    assert (macs, shape) == (report.totals.macs, report.output_shape)


def test_exported_unet_graph_computes_the_twins_function() -> None:
    """The U-Net graph, given the hand-written twin's weights in order, computes the twin's
    output: the skips read the right tensors and concat them skip first."""
    torch = pytest.importorskip("torch")
    import torch_models

    report, model = _export(_unet())
    torch.manual_seed(0)
    twin = torch_models.BUILDERS["unet_small"]().eval()
    theirs, mine = twin.state_dict(), model.state_dict()
    assert [t.shape for t in theirs.values()] == [t.shape for t in mine.values()]
    model.load_state_dict(dict(zip(mine, theirs.values(), strict=True)))
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), twin(x), rtol=1e-4, atol=1e-5)
    twin_macs, _ = torch_models.count_macs(twin, (1, 64, 64))
    assert twin_macs == report.totals.macs


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_exported_graph_computes_its_container_forms_function(name: str) -> None:
    """The graph's module and the container form's share their state_dict keys (the row
    names), and with the same weights compute the same function."""
    torch = pytest.importorskip("torch")
    container, as_graph = PAIRS[name]
    _, reference = _export(container)
    _, model = _export(as_graph)
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, *analyze(net(container)).input_shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))


def test_exported_graph_source_holds_the_wiring_as_data() -> None:
    """A node's name that is Python text reaches the source as a constant: the graph still
    builds and its module is registered under that very name."""
    pytest.importorskip("torch")
    odd = "x');import_os#"
    _, model = _export({"input": "2x4x4", "layers": [graph("g", [
        {"type": "conv", "name": odd, "filters": 2, "kernel": 1},
        {"type": "add", "name": "forward", "from": [odd, "input"]}])]})
    assert odd in dict(model.named_modules())["g"]._modules


# ------------------------------------------------------------------ verify


@pytest.mark.parametrize("name", [*sorted(GRAPH_NETWORKS), "unet"])
def test_graph_networks_verify(name: str) -> None:
    """Every row of a graph network agrees with its arrays: shapes, params, MACs and fields
    (the U-Net at 1×32×32: its concats' fields run through the long skips)."""
    from convcalc.reference.verify import verify

    network = net(_unet() | {"input": [1, 32, 32]} if name == "unet" else GRAPH_NETWORKS[name])
    report = analyze(network)
    result = verify(network, report)
    assert result.mismatches == () and result.ok and result.complete
    assert [check.name for check in result.layers] == [
        row.name for row in report.layers if not row.container]
    if name == "unet":
        skip = next(check for check in result.layers if check.name == "unet.skip1")
        assert skip.receptive_field.kind == "field" and skip.receptive_field.ok
        # the concat reads enc1 (a 5×5 field) and up1, whose field spans the bottleneck
        assert skip.receptive_field.expected is not None
        assert skip.receptive_field.expected.size[0] > 5


def test_memory_estimate_holds_a_graphs_live_values() -> None:
    """The estimate keeps every value a later node still reads: a graph holding its input
    for a final add needs at least the input, the conv's output and the add's at once
    (4·16·16 float32 each: 4 KiB), and no more than the container form's plus slack."""
    from convcalc.reference.memory import estimate_memory
    from convcalc.reference.plan import build_plan

    network = net({"input": "4x16x16", "layers": [graph("g", [
        {"type": "conv", "name": "c", "filters": 4, "kernel": 3, "padding": 1},
        {"type": "add", "name": "m", "from": ["c", "input"]}])]})
    report = analyze(network)
    estimate = estimate_memory(build_plan(network, report), report)
    assert estimate.value_bytes >= 3 * 4 * 16 * 16 * 4
    container = net({"input": "4x16x16", "layers": [
        {"type": "residual", "name": "g",
         "layers": [{"type": "conv", "name": "c", "filters": 4, "kernel": 3, "padding": 1}]}]})
    other = analyze(container)
    assert estimate.value_bytes == estimate_memory(build_plan(container, other),
                                                   other).value_bytes


def test_reserved_names_cover_the_graph_helper() -> None:
    """Every attribute of the exported Graph module is a name the exporter renames, and a
    merge named like one (``forward``) keeps its name: it keys a value, not a module."""
    pytest.importorskip("torch")
    from torch import nn

    from convcalc.export import to_pytorch
    from convcalc.export.pytorch import TORCH_RESERVED_NAMES

    data = {"input": "2x4x4", "layers": [graph("g", [
        {"type": "relu", "name": "a"},
        {"type": "add", "name": "forward", "from": ["a", "input"]}])]}
    _, model = _export(data)
    (child,) = model.children()
    attributes = set(dir(child)) | set(vars(child)) | set(dir(nn.ModuleDict()))
    attributes = {a for a in attributes if not (a.startswith("__") and a.endswith("__"))}
    attributes -= {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    assert attributes <= TORCH_RESERVED_NAMES
    assert "('forward', 'add', ('a', None))" in to_pytorch(net(data))


# ------------------------------------------------------------------ every command

GRAPH_FILE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "graph_residual.yaml"


def test_every_command_takes_a_graph(run_cli: Any, tmp_path: Path) -> None:
    """net in every format, --depth, --explain, diff, export, verify, plot and solve inputs
    all run on a graph file; the folded table keeps the graph's subtotal row, whose
    4,672 params are the block's (two 16·16·9 convs and two batchnorms of 32)."""
    path = str(GRAPH_FILE)
    for fmt in ("table", "json", "csv", "markdown"):
        assert run_cli("net", path, "--format", fmt).exit_code == 0, fmt
    folded = run_cli("net", path, "--depth", "0", "--format", "csv")
    assert folded.exit_code == 0
    rows = [line.split(",") for line in folded.stdout.splitlines()[1:]]
    assert [(row[0], row[1], row[6]) for row in rows] == [("block", "graph", "4672")]
    explained = run_cli("net", path, "--explain")
    assert "FLOPs = (2 − 1)·16·8·8 = 1,024" in explained.stdout
    assert "add: 16×8×8 + 16×8×8 → 16×8×8 (equal shapes, elementwise)" in explained.stdout
    assert run_cli("diff", path, path).exit_code == 0
    out = tmp_path / "graph.py"
    assert run_cli("export", path, "--to", "pytorch", "-o", str(out)).exit_code == 0
    assert "Graph(" in out.read_text()
    assert run_cli("verify", path).exit_code == 0
    assert run_cli("solve", "inputs", path).exit_code == 0
    if __import__("importlib").util.find_spec("matplotlib"):
        assert run_cli("plot", path, "-o", str(tmp_path / "graph.png")).exit_code == 0
        assert (tmp_path / "graph.png").stat().st_size > 0
