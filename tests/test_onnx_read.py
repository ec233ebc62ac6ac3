"""Reading ONNX files: bytes and paths, external data, bad files, the input's dims,
unknown operators, row names and the ``Imported`` result."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx_graphs import dag, init, layers, model_bytes, node, weight

onnx = pytest.importorskip("onnx")

from convcalc.errors import NetworkFileError, SpecError
from convcalc.loader import network_from_data
from convcalc.onnx_import import Imported, import_onnx, looks_like_onnx
from convcalc.onnx_import.names import RowNames, readable

CHAIN = model_bytes([node("Conv", ["x", "w"], ["c"], name="/stem/conv/Conv", pads=[1] * 4),
                     node("Relu", ["c"], name="/stem/act/Relu")], ["N", 3, 8, 8],
                    initializers=[weight("w", 4, 3, 3, 3)])


def test_import_from_bytes_and_path(tmp_path: Path) -> None:
    """A path and the same bytes import to the same plain-data network file."""
    path = tmp_path / "tiny.onnx"
    path.write_bytes(CHAIN)
    from_path = import_onnx(path, name="tiny.onnx")
    from_bytes = import_onnx(CHAIN, name="tiny.onnx")
    assert from_path == from_bytes
    assert from_path == Imported(
        {"name": "tiny", "input": [3, 8, 8], "layers": [
            {"name": "stem_conv", "type": "conv", "filters": 4, "kernel": 3, "padding": 1,
             "bias": False},
            {"name": "stem_act", "type": "relu"}]}, None, (), {})
    report = network_from_data(from_path.network, "tiny.onnx").network
    assert report.input == (3, 8, 8)


def test_fixed_batch_is_reported() -> None:
    """A batch the file fixes is Imported.batch."""
    data = model_bytes([node("Relu", ["x"])], [4, 3, 8, 8])
    assert import_onnx(data, name="m.onnx").batch == 4


def test_external_data_is_not_read(tmp_path: Path) -> None:
    """A model whose weights are external imports from the dims alone, the data file
    truncated to nothing after saving."""
    graph_nodes = [node("Conv", ["x", "w"], ["c"], name="conv"),
                   node("Relu", ["c"], name="relu")]
    big = init("w", np.ones((256, 64, 3, 3), dtype=np.float32))  # 589,824 values
    model = onnx.load_model_from_string(model_bytes(graph_nodes, [1, 64, 16, 16],
                                                    initializers=[big]))
    path = tmp_path / "big.onnx"
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="big.data", size_threshold=1024)
    data_file = tmp_path / "big.data"
    assert data_file.stat().st_size == 256 * 64 * 9 * 4
    data_file.write_bytes(b"")
    imported = import_onnx(path, name="big.onnx")
    assert imported.network["layers"][0] == {"name": "conv", "type": "conv", "filters": 256,
                                             "kernel": 3, "bias": False}
    assert path.stat().st_size < 10_000


def test_truncated_file_is_one_line(tmp_path: Path) -> None:
    """A file cut short is a NetworkFileError naming the file."""
    path = tmp_path / "cut.onnx"
    path.write_bytes(CHAIN[: len(CHAIN) // 2])
    with pytest.raises(NetworkFileError) as caught:
        import_onnx(path, name="cut.onnx")
    message = str(caught.value)
    assert message.startswith("cut.onnx: not an ONNX model")
    assert "\n" not in message


@pytest.mark.parametrize("content", [b"layers: []\n", b"\x00\x01\x02garbage" * 10,
                                     b"", b"\x08\x07"])
def test_not_onnx_is_one_line(content: bytes) -> None:
    """Bytes that are not an ONNX model are a NetworkFileError naming the file."""
    with pytest.raises(NetworkFileError, match=r"^x\.onnx: (not an ONNX model|the file is "
                                               r"empty, not an ONNX model)"):
        import_onnx(content, name="x.onnx")


def test_missing_and_directory_paths(tmp_path: Path) -> None:
    """A missing file and a directory are one-line NetworkFileErrors."""
    with pytest.raises(NetworkFileError, match=r"^nope\.onnx: no such file$"):
        import_onnx(tmp_path / "nope.onnx", name="nope.onnx")
    with pytest.raises(NetworkFileError, match=r"^d\.onnx: is a directory"):
        import_onnx(tmp_path, name="d.onnx")


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the onnx package the error names the extra to install."""
    real_import = builtins.__import__

    def no_onnx(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    for module in [m for m in sys.modules if m == "onnx" or m.startswith("onnx.")]:
        monkeypatch.delitem(sys.modules, module)
    with pytest.raises(NetworkFileError, match=r"^the onnx extra is not installed: "
                                               r"pip install 'convcalc\[onnx\]'$"):
        import_onnx(CHAIN, name="m.onnx")


def test_import_convcalc_does_not_load_onnx() -> None:
    """``import convcalc`` (and the import package itself) load neither onnx nor numpy."""
    import subprocess
    code = ("import sys, convcalc, convcalc.onnx_import; "
            "print('onnx' in sys.modules, 'numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["False", "False"]


def test_looks_like_onnx() -> None:
    """The sniff accepts a serialised model and refuses YAML, JSON and noise."""
    assert looks_like_onnx(CHAIN)
    assert looks_like_onnx(CHAIN[:40])  # the start is enough
    for other in (b"input: 3x8x8\nlayers: [relu]\n", b'{"input": [3]}', b"", b"\x00\x00",
                  b"\x08\x01\xff", b"2" + b"x" * 200 + b": graph", b"\x08\x00\x3a\x00"):
        assert not looks_like_onnx(other)


def test_symbolic_dim_needs_input_shape() -> None:
    """A symbolic non-batch dim is an error naming the input and the dim, until given."""
    data = model_bytes([node("Relu", ["x"])], ["N", 3, "height", 8])
    with pytest.raises(SpecError, match=r"^m\.onnx: input 'x''s dim 2 is symbolic "
                                        r"\('height'\); give the input's shape without "
                                        r"the batch \(`input_shape`\)$"):
        import_onnx(data, name="m.onnx")
    imported = import_onnx(data, name="m.onnx", input_shape=(3, 16, 8))
    assert imported.network["input"] == [3, 16, 8]
    assert imported.batch is None


def test_unset_dim_is_unknown_not_zero() -> None:
    """dim_value 0 without a dim_param is unknown: input_shape is needed for it."""
    graph = onnx.load_model_from_string(model_bytes([node("Relu", ["x"])], [1, 3, 8, 8]))
    dim = graph.graph.input[0].type.tensor_type.shape.dim[3]
    dim.Clear()
    data = graph.SerializeToString()
    with pytest.raises(SpecError, match=r"input 'x''s dim 3 is unset"):
        import_onnx(data, name="m.onnx")
    assert import_onnx(data, name="m.onnx", input_shape=(3, 8, 5)).network["input"] == [3, 8, 5]


def test_input_shape_must_agree_with_fixed_dims() -> None:
    """An input_shape that contradicts a dim the file fixes is refused."""
    data = model_bytes([node("Relu", ["x"])], ["N", 3, 8, 8])
    with pytest.raises(SpecError, match=r"disagrees with input 'x''s dim 1, which the file "
                                        r"fixes at 3"):
        import_onnx(data, name="m.onnx", input_shape=(4, 8, 8))


UNKNOWN = model_bytes([
    node("Conv", ["x", "w"], ["c"], name="conv1", pads=[1] * 4),
    node("Frobnicate", ["c"], ["f"], name="f1"),
    node("Conv", ["f", "w2"], ["c3"], name="conv3", pads=[1] * 4),
    node("MyPool", ["c3"], ["p"], name="p0"),
    node("MyPool", ["p"], ["y"], name="p1"),
], [1, 3, 8, 8], [1, 4, 8, 8], [weight("w", 4, 3, 3, 3), weight("w2", 4, 4, 3, 3)])


def test_unknown_operators_in_one_line() -> None:
    """Every unsupported op type is named with its first node, in the issue's form."""
    with pytest.raises(SpecError) as caught:
        import_onnx(UNKNOWN, name="model.onnx")
    assert str(caught.value) == (
        "model.onnx: unsupported operators: Frobnicate (node 'f1', feeds 'conv3'), "
        "MyPool (2 nodes, first 'p0')")


def test_allow_unknown_needs_the_output_shape() -> None:
    """With allow_unknown, an unknown op without its output shape in the file is an error
    saying so."""
    with pytest.raises(SpecError) as caught:
        import_onnx(UNKNOWN, name="model.onnx", allow_unknown=True)
    assert str(caught.value) == (  # MyPool, after it, is not reached until f1 has a shape
        "model.onnx: unsupported operators without an output shape in the file, which "
        "`allow_unknown` needs: Frobnicate (node 'f1', feeds 'conv3')")


def test_allow_unknown_with_shapes_emits_unknown_rows() -> None:
    """Unknown ops whose output shapes the file states become ``unknown`` rows, with one
    warning per op type."""
    from onnx import TensorProto, helper
    model = onnx.load_model_from_string(UNKNOWN)
    for name in ("f", "p"):
        model.graph.value_info.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 4, 8, 8]))
    imported = import_onnx(model.SerializeToString(), name="model.onnx", allow_unknown=True)
    assert imported.unknown_ops == {"Frobnicate": 1, "MyPool": 2}
    assert imported.warnings == (
        "unknown operator Frobnicate: 1 node counted as zero-cost identity-shaped rows",
        "unknown operator MyPool: 2 nodes counted as zero-cost identity-shaped rows")
    kinds = [(layer["name"], layer["type"], layer.get("op"), layer.get("output"))
             for layer in imported.network["layers"]]
    assert kinds == [("conv1", "conv", None, None), ("f1", "unknown", "Frobnicate", [4, 8, 8]),
                     ("conv3", "conv", None, None), ("p0", "unknown", "MyPool", [4, 8, 8]),
                     ("p1", "unknown", "MyPool", [4, 8, 8])]


def test_folding_is_bounded() -> None:
    """A constant subgraph making more than 2**20 values is refused, not allocated."""
    data = model_bytes([node("ConstantOfShape", ["shape"], ["big"], name="bomb"),
                        node("Reshape", ["x", "big"])], [1, 3, 8, 8], None,
                       [init("shape", [2**16, 2**16], np.int64)])
    with pytest.raises(SpecError, match=r"^m\.onnx: node 'bomb' \(ConstantOfShape\): "
                                        r"ConstantOfShape's output would have 4,294,967,296 "
                                        r"elements, more than the 1,048,576"):
        dag(data)


def test_constant_nodes_and_folded_shapes() -> None:
    """Constant nodes and arithmetic on Shape (Gather, Concat, Mul) feed a Reshape."""
    from onnx import helper
    data = model_bytes([
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor(
            "zero", onnx.TensorProto.INT64, [1], [0])),
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "zero"], ["n"]),
        node("Gather", ["s", "one"], ["c"]),
        node("Mul", ["c", "hw"], ["chw"]),
        node("Concat", ["n", "chw"], ["target"], axis=0),
        node("Reshape", ["x", "target"]),
    ], ["N", 3, 4, 4], None, [init("one", [1], np.int64), init("hw", [16], np.int64)])
    assert layers(data) == [{"type": "flatten"}]


@pytest.mark.parametrize(("onnx_name", "op_type", "expected"), [
    ("/layer1/layer1.0/conv1/Conv", "Conv", "layer1_0_conv1"),
    ("/layer1/layer1.0/relu_1/Relu", "Relu", "layer1_0_relu_1"),
    ("/fc/Gemm", "Gemm", "fc"),
    ("/Flatten", "Flatten", "flatten"),
    ("/features/features.0/features.0.1/Conv_3", "Conv", "features_0_1"),
    ("/layer1/layer1.0/downsample/downsample.0/Conv", "Conv", "layer1_0_downsample_0"),
    ("conv 1.weight", "Conv", "conv_1_weight"),
    ("", "Relu", "relu"),
    ("input", "Relu", "input_"),
])
def test_row_names(onnx_name: str, op_type: str, expected: str) -> None:
    """torch's scoped names become readable module paths without dots or spaces."""
    assert readable(onnx_name, op_type) == expected


def test_row_names_are_unique_and_bounded() -> None:
    """Repeated names get counters; long ones are cut to 200 characters."""
    names = RowNames()
    assert [names.unique("/blk/Add", "Add") for _ in range(3)] == ["blk", "blk_1", "blk_2"]
    long = names.unique("a" * 500, "Relu")
    assert len(long) == 200
    assert len(names.unique("a" * 500, "Relu")) == 200


def test_malformed_attribute_is_one_line() -> None:
    """An attribute of the wrong type (pads as text) is a one-line error naming the node."""
    data = model_bytes([node("Conv", ["x", "w"], name="c", pads="oops")], [1, 3, 8, 8],
                       initializers=[weight("w", 4, 3, 3, 3)])
    with pytest.raises(SpecError, match=r"^m\.onnx: node 'c' \(Conv\): cannot read its inputs "
                                        r"or attributes \(ValueError: .*\); is the file valid "
                                        r"ONNX\?$"):
        dag(data)


def test_unknown_reading_two_tensors_cannot_be_counted() -> None:
    """With allow_unknown, an unknown op joining two tensors is refused, saying why."""
    from onnx import TensorProto, helper
    data = model_bytes([node("Relu", ["x"], ["r"]), node("Blend", ["x", "r"], ["b"], name="bl"),
                        node("Sigmoid", ["b"])], [1, 3, 4, 4], [1, 3, 4, 4],
                       value_info=[helper.make_tensor_value_info("b", TensorProto.FLOAT,
                                                                 [1, 3, 4, 4])])
    with pytest.raises(SpecError) as caught:
        import_onnx(data, name="m.onnx", allow_unknown=True)
    assert str(caught.value) == ("m.onnx: unsupported operators that `allow_unknown` cannot "
                                 "count: Blend (node 'bl', feeds 'sigmoid': reads 2 computed "
                                 "tensors, not one)")


def test_folded_concat_is_bounded() -> None:
    """Concatenating many bounded constants into one too large is refused before it is made."""
    inputs = ["big"] * 8
    data = model_bytes([node("Concat", inputs, ["c"], name="cat", axis=0),
                        node("Reshape", ["x", "c"])], [1, 3, 8, 8], None,
                       [init("big", np.zeros(2**18, np.int64), np.int64)])
    with pytest.raises(SpecError, match=r"node 'cat' \(Concat\): Concat's output would have "
                                        r"2,097,152 elements"):
        dag(data)


def test_many_nodes_of_one_name_stay_linear() -> None:
    """Ten thousand nodes named alike get counters 1 … 9,999 (no quadratic search)."""
    names = RowNames()
    given = [names.unique("/blk/Relu", "Relu") for _ in range(10_000)]
    assert given[0] == "blk" and given[-1] == "blk_9999"
    assert len(set(given)) == 10_000
    assert names.unique("blk_5", "Relu") == "blk_5_1"


def test_the_importer_names_no_flags_and_imports_no_command_line() -> None:
    """The importer is core: no typer, rich or convcalc.cli, and its messages name
    parameters (`input_shape`), never a command-line flag."""
    import ast
    package = Path(__file__).resolve().parents[1] / "convcalc" / "onnx_import"
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert not {name for name in imported if name.split(".")[0] in ("typer", "rich")
                    or name.startswith("convcalc.cli")}, path.name
        strings = [node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str)]
        assert not [text for text in strings if " --" in f" {text}"], path.name


def test_malformed_tensor_data_is_one_line() -> None:
    """An initializer whose raw data does not fill its dims is one line naming the node."""
    bad = init("shape", [1, 48], np.int64)
    bad.raw_data = bad.raw_data[:5]
    data = model_bytes([node("Reshape", ["x", "shape"], name="rs")], [1, 3, 4, 4],
                       initializers=[bad])
    with pytest.raises(SpecError, match=r"^m\.onnx: node 'rs' \(Reshape\): cannot read its "
                                        r"inputs or attributes"):
        dag(data)


def test_huge_kernel_is_one_line() -> None:
    """A kernel past convcalc's size limit is refused naming the node, not a traceback."""
    data = model_bytes([node("MaxPool", ["x"], name="mp", kernel_shape=[2**40, 2])],
                       [1, 3, 4, 4])
    with pytest.raises(SpecError) as caught:
        dag(data)
    assert str(caught.value) == (
        "m.onnx: node 'mp' (MaxPool): convcalc's maxpool cannot take kernel=[1099511627776, "
        "2]: Input should be less than or equal to 2147483647")


def test_imported_chain_round_trips_through_yaml() -> None:
    """The imported network written as YAML reads back to the same report."""
    import yaml

    from convcalc.analysis import analyze
    from convcalc.loader import parse_network
    imported = import_onnx(CHAIN, name="tiny.onnx")
    text = yaml.safe_dump(imported.network, sort_keys=False)
    direct = analyze(network_from_data(imported.network, "tiny.onnx").network)
    again = analyze(parse_network(text, "tiny.yaml").network)
    assert again.model_dump() == direct.model_dump()
    assert direct.totals.params == 4 * 3 * 9  # the conv's weights, no bias


def test_a_graph_past_the_node_limit_is_refused_before_its_walk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph of more nodes than the limit is one line naming the count and the limit
    (the limit lowered to 3 here: four Relu nodes are one too many)."""
    from convcalc.onnx_import import model

    monkeypatch.setattr(model, "MAX_GRAPH_NODES", 3)
    chain = [node("Relu", [f"t{i}"], [f"t{i + 1}" if i < 3 else "y"], name=f"r{i}")
             for i in range(4)]
    data = model_bytes(chain, [1, 2, 4, 4], input_name="t0")
    with pytest.raises(SpecError) as refused:
        import_onnx(data, name="big.onnx")
    assert str(refused.value) == ("big.onnx: the graph has 4 nodes, past the limit of 3; "
                                  "convcalc's report holds at most 100,000 rows")
