"""Nesting the importer's graph (``convcalc.onnx_import.topology.nest``): the containers a
DAG of nodes becomes, and that they count as the DAG does.

The references are the nestings written by hand for each block (a ResNet basic block and
bottleneck as torchvision writes them, an Inception block, a DenseNet block, a
squeeze-and-excitation block, a U-Net, an FPN), and, for every DAG, the DAG itself written
as one flat ``graph`` container, node for node, which the analysis walks by the graph's
own rules: every leaf of the nesting must have that walk's output shape, parameters, MACs
and receptive field, and the leaves must be the same names. Random DAGs, series-parallel
and not, come from hypothesis. No onnx is needed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from convcalc import analyze
from convcalc.layers.containers import merge_shapes
from convcalc.loader import network_from_data, parse_network
from convcalc.onnx_import.dag import Node
from convcalc.onnx_import.topology import MAX_DEPTH, nest
from convcalc.results import Report
from convcalc.schema import network_schema
from convcalc.spec import Layer

jsonschema = pytest.importorskip("jsonschema")
SCHEMA = jsonschema.Draft202012Validator(network_schema())
LAYER: TypeAdapter[Any] = TypeAdapter(Layer)

# ------------------------------------------------------------------ helpers


def conv(filters: int = 8, kernel: int = 3, stride: int = 1) -> dict[str, Any]:
    """Return a conv layer's mapping, padded to keep the size at stride 1."""
    return {"type": "conv", "filters": filters, "kernel": kernel, "stride": stride,
            "padding": kernel // 2, "bias": False}


BN: dict[str, Any] = {"type": "batchnorm"}
RELU: dict[str, Any] = {"type": "relu"}


def leaf(name: str, source: str, layer: dict[str, Any]) -> Node:
    """Return a leaf node."""
    return Node(name, (source,), layer)


def merge(name: str, kind: str, *sources: str) -> Node:
    """Return a merge node."""
    return Node(name, sources, merge=kind)


def named(name: str, layer: dict[str, Any]) -> dict[str, Any]:
    """Return a leaf's mapping as nest writes it: type, name, then the layer's keys."""
    return {"type": layer["type"], "name": name, **layer}


def flat(nodes: list[Node]) -> list[dict[str, Any]]:
    """Return the DAG as one graph container, node for node: the reference."""
    written: list[dict[str, Any]] = []
    for node in nodes:
        if node.merge is not None:
            written.append({"type": node.merge, "name": node.name, "from": list(node.inputs)})
        else:
            assert node.layer is not None
            written.append({**named(node.name, node.layer), "from": list(node.inputs)})
    return [{"type": "graph", "name": "dag", "nodes": written}]


def leaf_rows(layers: list[dict[str, Any]], shape: list[int]) -> list[tuple[Any, ...]]:
    """Return each leaf row of the analysis: its own name, output shape, counts, field."""
    network = network_from_data({"input": shape, "layers": layers}, "<test>").network
    return rows_of(analyze(network))


def rows_of(report: Report) -> list[tuple[Any, ...]]:
    """Return a report's leaf rows: own name, type, output shape, counts, field."""
    return [(row.name.rsplit(".", 1)[-1], row.type, row.output_shape, row.params,
             row.non_trainable_params, row.macs, row.receptive_field, row.global_context)
            for row in report.layers if not row.container and row.spec is not None]


def node_by_node(nodes: list[Node], shape: list[int]) -> dict[str, tuple[Any, ...]]:
    """Return each leaf's output shape, parameters, statistics and MACs, from its own
    layer class applied to its input's shape, one node after another (merges by their
    shape rule): the DAG evaluated without any container."""
    shapes: dict[str, tuple[int, ...]] = {"input": tuple(shape)}
    counts = {}
    for node in nodes:
        operands = [shapes[source] for source in node.inputs]
        if node.merge is not None:
            shapes[node.name] = merge_shapes(node.merge, operands)[0]
            continue
        step = LAYER.validate_python(node.layer).apply(operands[0])
        shapes[node.name] = step.output_shape
        counts[node.name] = (step.output_shape, step.cost.params,
                             step.cost.non_trainable_params, step.cost.macs)
    return counts


def assert_counts_as_dag(nodes: list[Node], shape: list[int]) -> list[dict[str, Any]]:
    """Assert that nest's layers give every leaf the DAG's numbers (node by node, and
    the flat graph's receptive fields), also once written as YAML and read back, and
    that the JSON Schema takes them; return the layers."""
    layers = nest(nodes)
    nested = leaf_rows(layers, shape)
    reference = leaf_rows(flat(nodes), shape)
    assert Counter(row[0] for row in nested) == Counter(
        node.name for node in nodes if node.merge is None)
    assert sorted(nested, key=repr) == sorted(reference, key=repr)
    assert {row[0]: (row[2], row[3], row[4], row[5]) for row in nested} == node_by_node(
        nodes, shape)
    data = {"name": "nested", "input": shape, "layers": layers}
    text = yaml.safe_dump(data, sort_keys=False)
    assert rows_of(analyze(parse_network(text, "nested.yaml").network)) == nested
    assert not list(SCHEMA.iter_errors(data))
    return layers


def containers(layers: list[dict[str, Any]]) -> Counter[str]:
    """Return how many containers of each type ``layers`` hold, at any depth."""
    found: Counter[str] = Counter()
    stack = list(layers)
    while stack:
        layer = stack.pop()
        kind = layer["type"]
        if kind in ("residual", "parallel", "graph", "sequential"):
            found[kind] += 1
        for key in ("layers", "shortcut", "after", "nodes"):
            stack.extend(layer.get(key) or [])
        for branch in layer.get("branches", []):
            stack.extend(branch)
    return found


# ------------------------------------------------------------------ blocks by hand


def basic_block(prefix: str, source: str, channels: int, stride: int = 1) -> list[Node]:
    """Return torchvision's BasicBlock as the exporter orders it (downsample after bn2)."""
    p = prefix
    nodes = [leaf(f"{p}conv1", source, conv(channels, 3, stride)),
             leaf(f"{p}bn1", f"{p}conv1", BN), leaf(f"{p}relu1", f"{p}bn1", RELU),
             leaf(f"{p}conv2", f"{p}relu1", conv(channels)), leaf(f"{p}bn2", f"{p}conv2", BN)]
    shortcut = source
    if stride != 1:
        nodes += [leaf(f"{p}ds", source, conv(channels, 1, stride)),
                  leaf(f"{p}dsbn", f"{p}ds", BN)]
        shortcut = f"{p}dsbn"
    return [*nodes, merge(f"{p}add", "add", f"{p}bn2", shortcut),
            leaf(f"{p}relu", f"{p}add", RELU)]


def test_basic_block_is_a_residual_with_its_relu_after() -> None:
    """A ResNet basic block nests as a residual, the ReLU after the add in ``after``."""
    nodes = basic_block("", "input", 16)
    layers = assert_counts_as_dag(nodes, [16, 8, 8])
    assert layers == [{
        "type": "residual",
        "layers": [named("conv1", conv(16)), named("bn1", BN), named("relu1", RELU),
                   named("conv2", conv(16)), named("bn2", BN)],
        "after": [named("relu", RELU)],
    }]
    # Two 3×3 convs at stride 1: a 5×5 field, padding 2, the add's union of it and 1×1.
    field = leaf_rows(layers, [16, 8, 8])[-1][6]
    assert (field.size, field.stride, field.padding) == ((5, 5), (1, 1), (2, 2))


def test_bottleneck_with_downsample_puts_the_body_first() -> None:
    """A bottleneck whose shortcut is a strided 1×1 conv and batchnorm: the three convs
    are the residual's layers, the downsample its shortcut, whichever operand comes first."""
    body = [leaf("conv1", "input", conv(8, 1)), leaf("bn1", "conv1", BN),
            leaf("relu1", "bn1", RELU), leaf("conv2", "relu1", conv(8, 3, 2)),
            leaf("bn2", "conv2", BN), leaf("relu2", "bn2", RELU),
            leaf("conv3", "relu2", conv(32, 1)), leaf("bn3", "conv3", BN)]
    downsample = [leaf("ds", "input", conv(32, 1, 2)), leaf("dsbn", "ds", BN)]
    for operands in (("bn3", "dsbn"), ("dsbn", "bn3")):
        nodes = [*body, *downsample, merge("add", "add", *operands),
                 leaf("relu", "add", RELU)]
        layers = assert_counts_as_dag(nodes, [16, 8, 8])
        assert len(layers) == 1
        block = layers[0]
        assert block["type"] == "residual"
        assert [layer["name"] for layer in block["layers"]] == [
            "conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3"]
        assert [layer["name"] for layer in block["shortcut"]] == ["ds", "dsbn"]
        assert block["after"] == [named("relu", RELU)]
    # Worked by hand: 16·8 + 8·8·9 + 8·32 + 32·16 weights, 2·(8+8+32+32) batchnorm ones.
    params = sum(row[3] for row in leaf_rows(layers, [16, 8, 8]))
    assert params == 16 * 8 + 8 * 8 * 9 + 8 * 32 + 32 * 16 + 2 * (8 + 8 + 32 + 32)


def test_inception_block_keeps_the_operands_order() -> None:
    """Four branches concatenated nest as one parallel, branches in the Concat's order
    (the channel order), not the nodes' order."""
    nodes = [leaf("b1", "input", conv(4, 1)),
             leaf("b2a", "input", conv(4, 1)), leaf("b2b", "b2a", conv(6, 3)),
             leaf("b3a", "input", conv(2, 1)), leaf("b3b", "b3a", conv(3, 5)),
             leaf("b4a", "input", {"type": "maxpool", "kernel": 3, "stride": 1,
                                   "padding": 1}),
             leaf("b4b", "b4a", conv(5, 1)),
             merge("cat", "concat", "b2b", "b1", "b3b", "b4b")]
    layers = assert_counts_as_dag(nodes, [8, 8, 8])
    assert layers == [{"type": "parallel", "merge": "concat", "branches": [
        [named("b2a", conv(4, 1)), named("b2b", conv(6, 3))],
        [named("b1", conv(4, 1))],
        [named("b3a", conv(2, 1)), named("b3b", conv(3, 5))],
        [named("b4a", {"type": "maxpool", "kernel": 3, "stride": 1, "padding": 1}),
         named("b4b", conv(5, 1))],
    ]}]
    # 6 + 4 + 3 + 5 channels, in that order.
    assert leaf_rows(layers, [8, 8, 8])[-1][2] == (5, 8, 8)


def dense_block(count: int) -> list[Node]:
    """Return a DenseNet block as torchvision's exporter writes it: each layer reads a new
    Concat of the block's input and every earlier layer's output, and so does the end."""
    nodes: list[Node] = []
    features = ["input"]
    for index in range(1, count + 1):
        source = features[0]
        if len(features) > 1:
            source = f"cat{index}"
            nodes.append(merge(source, "concat", *features))
        nodes += [leaf(f"norm{index}", source, BN), leaf(f"relu{index}", f"norm{index}", RELU),
                  leaf(f"conv{index}", f"relu{index}", conv(4))]
        features.append(f"conv{index}")
    return [*nodes, merge("cat", "concat", *features)]


def test_densenet_block_becomes_a_row_of_parallels() -> None:
    """A dense block of 4 layers: the growing Concats re-associate into 4 parallel blocks
    in a row, each [x] and [norm, relu, conv] concatenated, the last 8+4·4 channels."""
    layers = assert_counts_as_dag(dense_block(4), [8, 6, 6])
    assert layers == [
        {"type": "parallel", "merge": "concat", "branches": [
            [], [named(f"norm{i}", BN), named(f"relu{i}", RELU), named(f"conv{i}", conv(4))]]}
        for i in range(1, 5)]
    assert leaf_rows(layers, [8, 6, 6])[-1][2] == (4, 6, 6)
    report = analyze(network_from_data({"input": [8, 6, 6], "layers": layers}, "t").network)
    assert report.output_shape == (8 + 4 * 4, 6, 6)


def test_squeeze_and_excitation_is_a_parallel_mul_with_x_first() -> None:
    """x · sigmoid(conv(relu(conv(pool(x))))) nests as parallel merge mul, [[], [se…]],
    whichever operand the Mul names first."""
    gate = [leaf("pool", "input", {"type": "adaptive_avgpool", "output": 1}),
            leaf("fc1", "pool", conv(4, 1)), leaf("act", "fc1", RELU),
            leaf("fc2", "act", conv(16, 1)), leaf("gate", "fc2", {"type": "sigmoid"})]
    for operands in (("input", "gate"), ("gate", "input")):
        layers = assert_counts_as_dag([*gate, merge("scale", "mul", *operands)], [16, 8, 8])
        assert layers == [{"type": "parallel", "merge": "mul", "branches": [[], [
            named("pool", {"type": "adaptive_avgpool", "output": 1}), named("fc1", conv(4, 1)),
            named("act", RELU), named("fc2", conv(16, 1)), named("gate", {"type": "sigmoid"}),
        ]]}]


def test_unet_of_two_levels_nests_its_skips() -> None:
    """A U-Net's skips nest like brackets (each encoder output is concatenated back in
    once, inside the outer skip): two levels are two nested parallels, skip first as the
    Concat names it, and need no graph."""
    up = {"type": "upsample", "scale": 2}
    pool = {"type": "maxpool", "kernel": 2, "stride": 2}
    nodes = [leaf("enc1", "input", conv(4)), leaf("pool1", "enc1", pool),
             leaf("enc2", "pool1", conv(8)), leaf("pool2", "enc2", pool),
             leaf("mid", "pool2", conv(16)), leaf("up2", "mid", up),
             merge("cat2", "concat", "enc2", "up2"), leaf("dec2", "cat2", conv(8)),
             leaf("up1", "dec2", up), merge("cat1", "concat", "enc1", "up1"),
             leaf("dec1", "cat1", conv(4)), leaf("head", "dec1", conv(1, 1))]
    layers = assert_counts_as_dag(nodes, [3, 16, 16])
    inner = {"type": "parallel", "merge": "concat", "branches": [
        [], [named("pool2", pool), named("mid", conv(16)), named("up2", up)]]}
    outer = {"type": "parallel", "merge": "concat", "branches": [
        [], [named("pool1", pool), named("enc2", conv(8)), inner, named("dec2", conv(8)),
             named("up1", up)]]}
    assert layers == [named("enc1", conv(4)), outer, named("dec1", conv(4)),
                      named("head", conv(1, 1))]


def test_unet_with_a_crossing_skip_is_a_graph() -> None:
    """A U-Net whose bottleneck also reads the top encoder's output, pooled (a skip into
    the inner skip's span), is not series-parallel there: the graph is the region from
    enc1 to the inner concat; the outer skip around it stays a parallel, the stem and
    head stay outside."""
    up = {"type": "upsample", "scale": 2}
    pool = {"type": "maxpool", "kernel": 2, "stride": 2}
    nodes = [leaf("stem", "input", conv(4)), leaf("enc1", "stem", conv(4)),
             leaf("pool1", "enc1", pool), leaf("enc2", "pool1", conv(8)),
             leaf("pool2", "enc2", pool),
             leaf("down1", "enc1", {"type": "maxpool", "kernel": 4, "stride": 4}),
             merge("mix", "concat", "pool2", "down1"), leaf("mid", "mix", conv(16)),
             leaf("up2", "mid", up), merge("cat2", "concat", "enc2", "up2"),
             leaf("dec2", "cat2", conv(8)), leaf("up1", "dec2", up),
             merge("cat1", "concat", "enc1", "up1"), leaf("head", "cat1", conv(1, 1))]
    layers = assert_counts_as_dag(nodes, [3, 16, 16])
    assert [layer["type"] for layer in layers] == ["conv", "conv", "parallel", "conv"]
    assert [layer["name"] for layer in (layers[0], layers[1], layers[3])] == [
        "stem", "enc1", "head"]
    skip, path = layers[2]["branches"]
    assert skip == []
    assert [layer["type"] for layer in path] == ["graph", "conv", "upsample"]
    graph = path[0]
    assert [(node["name"], node.get("from")) for node in graph["nodes"]] == [
        ("pool1", None), ("enc2", None), ("pool2", None), ("down1", ["input"]),
        ("mix", ["pool2", "down1"]), ("mid", None), ("up2", None),
        ("cat2", ["enc2", "up2"])]
    assert graph["nodes"][3] == {**named("down1", {"type": "maxpool", "kernel": 4,
                                                  "stride": 4}), "from": ["input"]}


def test_fpn_keeps_the_series_parallel_parts_nested() -> None:
    """An FPN whose top two levels are both fused at the end reads the middle sum twice,
    so its core is a graph, from the first stage c2 to the fusing concat; the residual
    block before it, the stage conv and the head stay outside, and the top level's sum
    nests inside the graph as a residual."""
    pool = {"type": "maxpool", "kernel": 2, "stride": 2}
    up = {"type": "upsample", "scale": 2}
    nodes = [*basic_block("r", "input", 8),
             leaf("c2", "rrelu", conv(8)), leaf("p2", "c2", pool),
             leaf("c3", "p2", conv(8)), leaf("p3", "c3", pool), leaf("c4", "p3", conv(8)),
             leaf("lat4", "c4", conv(8, 1)), leaf("up4", "lat4", up),
             leaf("lat3", "c3", conv(8, 1)), merge("sum3", "add", "lat3", "up4"),
             leaf("up3", "sum3", up), leaf("lat2", "c2", conv(8, 1)),
             merge("sum2", "add", "lat2", "up3"),
             leaf("outs3", "sum3", up), merge("fuse", "concat", "sum2", "outs3"),
             leaf("head", "fuse", conv(2, 1))]
    layers = assert_counts_as_dag(nodes, [8, 16, 16])
    assert [layer["type"] for layer in layers] == ["residual", "conv", "graph", "conv"]
    graph = layers[2]["nodes"]
    assert [(node["name"], node["type"], node.get("from")) for node in graph] == [
        ("p2", "maxpool", None), ("c3", "conv", None), ("sum3", "residual", None),
        ("lat2", "conv", ["input"]), ("up3", "upsample", ["sum3"]),
        ("sum2", "add", ["lat2", "up3"]), ("outs3", "upsample", ["sum3"]),
        ("fuse", "concat", ["sum2", "outs3"])]
    # c3 -> (lat3 + up4(lat4(c4(p3)))) is series-parallel inside it: a residual, named
    # after its Add because graph nodes need names.
    assert [layer["name"] for layer in graph[2]["layers"]] == ["p3", "c4", "lat4", "up4"]
    assert [layer["name"] for layer in graph[2]["shortcut"]] == ["lat3"]


def test_convnext_like_network_is_a_flat_list() -> None:
    """A ConvNeXt-like network (stem, blocks of depthwise conv, layernorm, 1×1 convs, GELU
    and layer scale added to x, downsampling between stages) is a flat list of leaves and
    residuals with no sequential and no after (nothing follows the add)."""
    nodes: list[Node] = [leaf("stem", "input", conv(8, 4, 4)),
                         leaf("stem_norm", "stem", {"type": "layernorm"})]
    source = "stem_norm"
    for stage, channels in enumerate((8, 16)):
        if stage:
            nodes += [leaf(f"down{stage}_norm", source, {"type": "layernorm"}),
                      leaf(f"down{stage}", f"down{stage}_norm", conv(channels, 2, 2))]
            source = f"down{stage}"
        for block in range(2):
            p = f"s{stage}b{block}_"
            nodes += [
                leaf(f"{p}dw", source, {**conv(channels, 7), "groups": channels}),
                leaf(f"{p}norm", f"{p}dw", {"type": "layernorm"}),
                leaf(f"{p}pw1", f"{p}norm", conv(4 * channels, 1)),
                leaf(f"{p}act", f"{p}pw1", {"type": "gelu"}),
                leaf(f"{p}pw2", f"{p}act", conv(channels, 1)),
                leaf(f"{p}scale", f"{p}pw2", {"type": "layer_scale"}),
                merge(f"{p}add", "add", f"{p}scale", source)]
            source = f"{p}add"
    layers = assert_counts_as_dag(nodes, [3, 32, 32])
    assert [layer["type"] for layer in layers] == [
        "conv", "layernorm", "residual", "residual", "layernorm", "conv", "residual",
        "residual"]
    assert all("after" not in layer and "shortcut" not in layer for layer in layers)
    assert [layer["name"] for layer in layers[2]["layers"]] == [
        "s0b0_dw", "s0b0_norm", "s0b0_pw1", "s0b0_act", "s0b0_pw2", "s0b0_scale"]


def test_shufflenet_unit_is_the_documented_parallel() -> None:
    """ShuffleNetV2's chunk(2), a branch on the second half, concat and channel shuffle
    nest as docs/format.md writes the unit: a parallel of the two slices, the shuffle
    after it; 58·58 + 58·9 weights and 2·58·2 batchnorm ones (worked by hand)."""
    nodes = [leaf("x1", "input", {"type": "slice", "channels": [0, 58]}),
             leaf("x2", "input", {"type": "slice", "channels": [58, 116]}),
             leaf("pw1", "x2", conv(58, 1)), leaf("bn1", "pw1", BN),
             leaf("dw", "bn1", {**conv(58, 3), "groups": 58}), leaf("bn2", "dw", BN),
             merge("cat", "concat", "x1", "bn2"),
             leaf("shuffle", "cat", {"type": "channel_shuffle", "groups": 2})]
    layers = assert_counts_as_dag(nodes, [116, 7, 7])
    assert layers == [
        {"type": "parallel", "merge": "concat", "branches": [
            [named("x1", {"type": "slice", "channels": [0, 58]})],
            [named("x2", {"type": "slice", "channels": [58, 116]}), named("pw1", conv(58, 1)),
             named("bn1", BN), named("dw", {**conv(58, 3), "groups": 58}), named("bn2", BN)]]},
        named("shuffle", {"type": "channel_shuffle", "groups": 2})]
    assert sum(row[3] for row in leaf_rows(layers, [116, 7, 7])) == (
        58 * 58 + 58 * 9 + 2 * 58 * 2)


def test_an_add_of_three_becomes_nested_adds() -> None:
    """Add(x, f(x), g(f(x))) nests as x + (f(x) + g(f(x))): a residual whose body is f
    and a residual of g; the sum's FLOPs stay 2 per element, as the 3-way add's."""
    nodes = [leaf("f", "input", conv(4)), leaf("g", "f", conv(4)),
             merge("sum", "add", "input", "f", "g")]
    layers = assert_counts_as_dag(nodes, [4, 5, 5])
    assert layers == [{"type": "residual", "layers": [
        named("f", conv(4)), {"type": "residual", "layers": [named("g", conv(4))]}]}]
    report = analyze(network_from_data({"input": [4, 5, 5], "layers": layers}, "t").network)
    adds = [row.flops for row in report.layers if row.type == "add"]
    assert adds == [4 * 5 * 5, 4 * 5 * 5]


def test_an_add_of_three_branches_of_one_fork_is_one_parallel() -> None:
    """Add(f(x), g(x), h(x)) is one parallel with merge add, branches in operand order."""
    nodes = [leaf("f", "input", conv(4)), leaf("g", "input", conv(4, 1)),
             leaf("h", "input", conv(4, 5)), merge("sum", "add", "h", "f", "g")]
    layers = assert_counts_as_dag(nodes, [4, 5, 5])
    assert layers == [{"type": "parallel", "merge": "add", "branches": [
        [named("h", conv(4, 5))], [named("f", conv(4))], [named("g", conv(4, 1))]]}]


def test_concat_runs_regroup_only_where_contiguous() -> None:
    """Concat(a, b, x, c) with a, b, c from one fork and x read by it too: a and b join
    into a parallel of their own, c cannot jump over x (the channel order), so the rest is
    a graph; the counts still match."""
    nodes = [leaf("stem", "input", conv(4)), leaf("a", "stem", conv(2)),
             leaf("b", "stem", conv(3)), leaf("x", "input", conv(5)),
             leaf("c", "stem", conv(6)), merge("cat", "concat", "a", "b", "x", "c")]
    layers = assert_counts_as_dag(nodes, [4, 5, 5])
    assert [layer["type"] for layer in layers] == ["graph"]
    graph_nodes = layers[0]["nodes"]
    assert [(node["name"], node["type"], node.get("from")) for node in graph_nodes] == [
        ("stem", "conv", None), ("cat_1", "parallel", None), ("x", "conv", ["input"]),
        ("c", "conv", ["stem"]), ("cat", "concat", ["cat_1", "x", "c"])]
    assert graph_nodes[1]["branches"] == [[named("a", conv(2))], [named("b", conv(3))]]
    # 2 + 3 + 5 + 6 channels, in the Concat's order.
    assert leaf_rows(layers, [4, 5, 5])[-1][0] == "c"
    report = analyze(network_from_data({"input": [4, 5, 5], "layers": layers}, "t").network)
    assert report.output_shape == (16, 5, 5)


def test_deep_nesting_past_the_limit_is_a_flat_graph() -> None:
    """A chain of adds each over the previous sum nests MAX_DEPTH + 5 deep: too deep for
    the file, so that part is one flat graph of the nodes; the counts match."""
    nodes: list[Node] = [leaf("stem", "input", conv(4))]
    for index in range(MAX_DEPTH + 5):
        nodes.append(leaf(f"f{index}", "stem", conv(4)))
    # sum_k = f_k + sum_{k+1}, built from the inside out, each read once: a right-leaning
    # tree of residuals over stem.
    previous = f"f{MAX_DEPTH + 4}"
    for index in reversed(range(MAX_DEPTH + 4)):
        nodes.append(merge(f"sum{index}", "add", f"f{index}", previous))
        previous = f"sum{index}"
    nodes.append(leaf("head", previous, RELU))
    layers = assert_counts_as_dag(nodes, [4, 5, 5])
    assert [layer["type"] for layer in layers] == ["conv", "graph", "relu"]
    assert len(layers[1]["nodes"]) == 2 * (MAX_DEPTH + 5) - 1


def nested_concats(depth: int) -> list[Node]:
    """Return concat(f0, concat(f1, … concat(f[depth-1], f[depth]))) over one stem, each
    f a conv of the stem: ``depth`` parallels, each inside the one before."""
    nodes = [leaf("stem", "input", conv(2))]
    nodes += [leaf(f"f{index}", "stem", conv(2)) for index in range(depth + 1)]
    inner = f"f{depth}"
    for index in reversed(range(depth)):
        nodes.append(merge(f"cat{index}", "concat", f"f{index}", inner))
        inner = f"cat{index}"
    return nodes


def nesting(layers: list[dict[str, Any]]) -> int:
    """Return the deepest nesting of containers in ``layers``."""
    deepest = 0
    for layer in layers:
        inner = [layer.get(key) or [] for key in ("layers", "shortcut", "after", "nodes")]
        inner += layer.get("branches", [])
        if layer["type"] in ("residual", "parallel", "graph", "sequential"):
            deepest = max(deepest, 1 + max((nesting(body) for body in inner), default=0))
    return deepest


@pytest.mark.parametrize(("depth", "expected"), [(MAX_DEPTH, "parallel"),
                                                 (MAX_DEPTH + 1, "graph")])
def test_nesting_is_kept_to_max_depth(depth: int, expected: str) -> None:
    """Parallels nested MAX_DEPTH deep are written so (and read back from YAML, whose
    nesting limit they stay under: three levels each); one more and the block is a flat
    graph of its nodes. The output has 2·(depth + 1) channels either way."""
    nodes = nested_concats(depth)
    layers = assert_counts_as_dag(nodes, [2, 4, 4])
    assert [layer["type"] for layer in layers] == ["conv", expected]
    assert nesting(layers) == (depth if expected == "parallel" else 1)
    report = analyze(network_from_data({"input": [2, 4, 4], "layers": layers}, "t").network)
    assert report.output_shape == (2 * (depth + 1), 4, 4)


def test_malformed_dags_are_refused() -> None:
    """A node that reads a later node, an unread node, or a merge of one are ValueErrors."""
    with pytest.raises(ValueError, match="no earlier node"):
        nest([leaf("a", "b", RELU), leaf("b", "input", RELU)])
    with pytest.raises(ValueError, match="read by no node"):
        nest([leaf("a", "input", RELU), leaf("b", "input", RELU)])
    with pytest.raises(ValueError, match="two inputs"):
        nest([merge("m", "add", "input")])
    with pytest.raises(ValueError, match="no nodes"):
        nest([])


# ------------------------------------------------------------------ random DAGs


class _Builder:
    """Nodes with their shapes, drawn one by one (all sizes kept by 'same' 3×3 convs)."""

    def __init__(self, draw: Any, channels: int) -> None:
        self.draw = draw
        self.nodes: list[Node] = []
        self.shapes: dict[str, tuple[int, int, int]] = {"input": (channels, 8, 8)}

    def add(self, node: Node, shape: tuple[int, int, int]) -> str:
        self.nodes.append(node)
        self.shapes[node.name] = shape
        return node.name

    def layer(self, source: str, kind: str | None = None) -> str:
        """Add a conv or relu reading ``source``; return its name."""
        channels, height, width = self.shapes[source]
        kind = kind or self.draw(st.sampled_from(["conv", "conv", "relu", "conv1"]))
        name = f"n{len(self.nodes)}"
        if kind == "relu":
            return self.add(leaf(name, source, RELU), (channels, height, width))
        filters = self.draw(st.sampled_from([2, 4]))
        kernel = 1 if kind == "conv1" else 3
        return self.add(leaf(name, source, conv(filters, kernel)), (filters, height, width))

    def to_channels(self, source: str, channels: int) -> str:
        """Return ``source``, or a 1×1 conv of it to ``channels`` when they differ."""
        if self.shapes[source][0] == channels:
            return source
        name = f"n{len(self.nodes)}"
        return self.add(leaf(name, source, conv(channels, 1)),
                        (channels, *self.shapes[source][1:]))

    def merge(self, kind: str, sources: list[str]) -> str:
        shapes = [self.shapes[source] for source in sources]
        largest = tuple(max(sizes) for sizes in zip(*shapes, strict=True))
        channels = sum(shape[0] for shape in shapes) if kind == "concat" else largest[0]
        name = f"m{len(self.nodes)}"
        return self.add(merge(name, kind, *sources), (channels, largest[1], largest[2]))

    def gate(self, source: str) -> str:
        """Add a squeeze-and-excitation block over ``source``; return its product."""
        channels = self.shapes[source][0]
        base = len(self.nodes)
        pool = self.add(leaf(f"g{base}p", source, {"type": "adaptive_avgpool", "output": 1}),
                        (channels, 1, 1))
        fc = self.add(leaf(f"g{base}f", pool, conv(channels, 1)), (channels, 1, 1))
        sig = self.add(leaf(f"g{base}s", fc, {"type": "sigmoid"}), (channels, 1, 1))
        order = [source, sig] if self.draw(st.booleans()) else [sig, source]
        return self.merge("mul", order)


def series_parallel(builder: _Builder, source: str, budget: int) -> str:
    """Add a random series-parallel piece over ``source``; return its output."""
    draw = builder.draw
    current = source
    for _ in range(draw(st.integers(1, 3))):
        if budget <= 0:
            break
        budget -= 1
        choice = draw(st.sampled_from(["layer", "layer", "add", "concat", "gate", "dense",
                                       "add3"]))
        if choice == "layer":
            current = builder.layer(current)
        elif choice in ("add", "concat"):
            channels = builder.shapes[current][0]
            branches = []
            for _ in range(draw(st.integers(2, 3))):
                if draw(st.integers(0, 3)) == 0:
                    end = current
                else:
                    end = series_parallel(builder, current, budget // 2)
                if choice == "add":
                    end = builder.to_channels(end, channels)
                branches.append(end)
            current = builder.merge(choice, branches)
        elif choice == "gate":
            current = builder.gate(current)
        elif choice == "add3":
            channels = builder.shapes[current][0]
            first = builder.to_channels(builder.layer(current, "conv"), channels)
            second = builder.to_channels(builder.layer(first, "conv"), channels)
            current = builder.merge("add", [current, first, second])
        else:
            features = [current]
            for _ in range(draw(st.integers(1, 3))):
                reads = features[0] if len(features) == 1 else builder.merge("concat",
                                                                             features)
                features = [*features, builder.layer(reads, "conv")]
            current = builder.merge("concat", features)
    return current


@st.composite
def series_parallel_dags(draw: Any) -> tuple[list[Node], list[int]]:
    """Return a random series-parallel DAG (with DenseNet runs, n-ary adds, gates)."""
    builder = _Builder(draw, draw(st.sampled_from([2, 4])))
    end = series_parallel(builder, "input", draw(st.integers(1, 8)))
    if end == "input":
        builder.layer("input")
    return builder.nodes, list(builder.shapes["input"])


@st.composite
def random_dags(draw: Any) -> tuple[list[Node], list[int]]:
    """Return a random DAG: each node reads random earlier tensors; then, half the time,
    a concat of the nodes nothing reads, and the nodes the last one does not need are
    dropped."""
    builder = _Builder(draw, draw(st.sampled_from([2, 4])))
    for _ in range(draw(st.integers(1, 20))):
        tensors = list(builder.shapes)
        choice = draw(st.sampled_from(["layer", "layer", "add", "concat", "mul"]))
        first = draw(st.sampled_from(tensors))
        if choice == "layer":
            builder.layer(first)
            continue
        if choice == "mul":
            builder.gate(first)
            continue
        size = builder.shapes[first][1:]
        alike = [tensor for tensor in tensors if builder.shapes[tensor][1:] == size]
        others = draw(st.lists(st.sampled_from(alike), min_size=1, max_size=3))
        if choice == "add":
            channels = builder.shapes[first][0]
            others = [builder.to_channels(other, channels) for other in others]
        elif sum(builder.shapes[t][0] for t in [first, *others]) > 24:
            continue
        builder.merge(choice, [first, *others])
    if not builder.nodes:
        builder.layer("input")
    read = {source for node in builder.nodes for source in node.inputs}
    unread = [node.name for node in builder.nodes if node.name not in read
              and builder.shapes[node.name][1:] == builder.shapes["input"][1:]]
    if len(unread) > 1 and draw(st.booleans()):  # keep them all: many more crossings
        builder.merge("concat", unread)
    needed = {builder.nodes[-1].name}
    kept = []
    for node in reversed(builder.nodes):
        if node.name in needed:
            kept.append(node)
            needed.update(node.inputs)
    return kept[::-1], list(builder.shapes["input"])


_SETTINGS = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(series_parallel_dags())
def test_series_parallel_dags_nest_without_graphs(dag: tuple[list[Node], list[int]]) -> None:
    """Any series-parallel DAG nests with no graph container and counts as the DAG."""
    nodes, shape = dag
    layers = assert_counts_as_dag(nodes, shape)
    assert containers(layers)["graph"] == 0


@_SETTINGS
@given(random_dags())
def test_random_dags_count_as_the_dag(dag: tuple[list[Node], list[int]]) -> None:
    """Any DAG of convs, relus and merges nests (graphs where needed) into layers whose
    every leaf has the DAG's shape, counts and receptive field, with the same names."""
    nodes, shape = dag
    assert_counts_as_dag(nodes, shape)


def test_leaf_mappings_share_nothing_with_the_nodes() -> None:
    """Two nodes whose layers hold one padding list give mappings with lists of their own,
    so YAML writes no anchors; the nodes' layers stay as they were."""
    padding = [[0, 1], [0, 1]]
    layer = {"type": "maxpool", "kernel": 2, "stride": 1, "padding": padding}
    nodes = [leaf("p1", "input", layer), leaf("p2", "p1", dict(layer))]
    layers = nest(nodes)
    assert layers == [named("p1", layer), named("p2", layer)]
    assert layers[0]["padding"] is not padding and layers[1]["padding"] is not padding
    assert layers[0]["padding"][0] is not padding[0]
    assert "&" not in yaml.safe_dump(layers)
    layers[0]["padding"][0][0] = 5
    assert padding == [[0, 1], [0, 1]]
    # (4 + 0 + 1 − 2) / 1 + 1 = 4 per side, twice.
    assert leaf_rows(nest(nodes), [2, 4, 4])[-1][2] == (2, 4, 4)


def test_the_node_name_is_the_leaf_name() -> None:
    """A leaf is named by its node, even if its layer mapping carries a name of its own."""
    layers = nest([leaf("conv_a", "input", {**conv(4), "name": "other"})])
    assert layers == [named("conv_a", conv(4))]
