"""The command line on ONNX models: every command reads a ``.onnx`` file (or ONNX bytes on
``-``), ``convcalc import`` writes a network file that reads back to the same report,
``--allow-unknown`` marks what it cannot count, and the ``onnx`` extra is loaded only here.

The models are built with ``onnx.helper`` (their counts worked by hand below) or exported by
torch from the plain-torch twins (tests/torch_models.py), whose counts torch gives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT

needs_onnx = pytest.mark.skipif(find_spec("onnx") is None, reason="the onnx extra is not "
                                "installed")
needs_torch = pytest.mark.skipif(find_spec("torch") is None, reason="torch is not installed")

LENET_ONNX = EXAMPLES / "lenet5.onnx"
LENET_YAML = EXAMPLES / "lenet5.yaml"


# ---------------------------------------------------------------------------------- models


def small_model(path: Path, *, batch: int | str = 1, side: int | str = 8,
                unknown: bool = False) -> Path:
    """Write a small model made with onnx.helper to ``path``: 3×8×8 → Conv 4 3×3 pad 1 →
    Relu → GlobalAveragePool → Flatten → Gemm 10; with ``unknown``, a ``Frobnicate`` node
    (output 4×8×8, given by value_info) after the Relu, twice. ``side`` may be symbolic.

    By hand: conv 4·(3·3·3) + 4 = 112 params, 4·8·8·27 = 6,912 MACs; Gemm 4·10 + 10 = 50
    params, 40 MACs; 162 params and 6,952 MACs per sample in all.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(np.zeros(4, np.float32), "b1"),
        numpy_helper.from_array(rng.standard_normal((10, 4)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.zeros(10, np.float32), "b2"),
    ]
    nodes = [helper.make_node("Conv", ["input", "w1", "b1"], ["c"], name="conv1",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu1")]
    value_info = []
    last = "r"
    if unknown:
        for index in range(2):
            nodes.append(helper.make_node("Frobnicate", [last], [f"f{index}"],
                                          name=f"frob{index}"))
            value_info.append(helper.make_tensor_value_info(f"f{index}", TensorProto.FLOAT,
                                                            [batch, 4, 8, 8]))
            last = f"f{index}"
    nodes += [helper.make_node("GlobalAveragePool", [last], ["g"], name="gap"),
              helper.make_node("Flatten", ["g"], ["v"], name="flat", axis=1),
              helper.make_node("Gemm", ["v", "w2", "b2"], ["output"], name="fc", transB=1)]
    graph = helper.make_graph(
        nodes, "small", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                       [batch, 3, side, side])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 10])],
        initializer=weights, value_info=value_info)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def unsupported_model(path: Path) -> Path:
    """Write a model with operators convcalc does not know: ``Frobnicate`` (node f1, read by
    conv3), then ``MyPool`` (nodes p0 and p1), as in the issue's example."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((2, 2, 1, 1), np.float32), "w")
    nodes = [helper.make_node("Frobnicate", ["input"], ["a"], name="f1"),
             helper.make_node("Conv", ["a", "w"], ["b"], name="conv3", kernel_shape=[1, 1]),
             helper.make_node("MyPool", ["b"], ["c"], name="p0"),
             helper.make_node("MyPool", ["c"], ["output"], name="p1")]
    graph = helper.make_graph(
        nodes, "unsupported",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2, 4, 4])],
        initializer=[weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def residual_model(path: Path) -> Path:
    """Write a residual block made with onnx.helper: 4×8×8 → Conv 4 3×3 pad 1 → Relu, added
    to the input, → GlobalAveragePool. By hand: 4·(4·3·3) + 4 = 148 params, 4·8·8·36 =
    9,216 MACs."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = [numpy_helper.from_array(np.ones((4, 4, 3, 3), np.float32), "w"),
               numpy_helper.from_array(np.zeros(4, np.float32), "b")]
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c"], name="block/conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="block/relu"),
             helper.make_node("Add", ["r", "input"], ["a"], name="block/add"),
             helper.make_node("GlobalAveragePool", ["a"], ["output"], name="pool")]
    graph = helper.make_graph(
        nodes, "residual", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                          [1, 4, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, 1, 1])],
        initializer=weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """The small helper-built model, batch fixed at 1."""
    return small_model(tmp_path / "small.onnx")


def report(result: Any) -> dict[str, Any]:
    """Return a command's JSON report, after checking it ran."""
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# ----------------------------------------------------------------------- every command


@needs_onnx
def test_net_counts_the_small_model(run_cli: Any, small: Path) -> None:
    """net on the helper-built model gives the counts worked by hand: 162 params, 6,952 MACs,
    output [10], input 3×8×8, the rows named after the nodes."""
    document = report(run_cli("net", str(small), "--format", "json"))
    assert document["input_shape"] == [3, 8, 8]
    assert document["output_shape"] == [10]
    assert (document["totals"]["params"], document["totals"]["macs"]) == (162, 6952)
    assert document["totals"]["lower_bound"] is False
    rows = {row["name"].rpartition(".")[2]: row for row in document["layers"]
            if not row["container"]}
    assert (rows["conv1"]["params"], rows["conv1"]["macs"]) == (112, 6912)
    assert (rows["fc"]["params"], rows["fc"]["macs"]) == (50, 40)
    assert rows["conv1"]["receptive_field"] == {"size": [3, 3], "stride": [1, 1],
                                                "padding": [1, 1]}
    assert not any(row["unknown"] for row in document["layers"])


@needs_onnx
def test_the_files_batch_is_the_default_batch(run_cli: Any, tmp_path: Path) -> None:
    """A model whose input fixes the batch at 4 is counted at batch 4 (4 × 6,952 MACs)
    unless --batch says otherwise; a symbolic batch counts 1."""
    fixed = small_model(tmp_path / "four.onnx", batch=4)
    assert report(run_cli("net", str(fixed), "--format", "json"))["batch"] == 4
    assert report(run_cli("net", str(fixed), "--format", "json"))["totals"]["macs"] == 27_808
    assert report(run_cli("net", str(fixed), "-b", "2", "--format", "json"))["batch"] == 2
    symbolic = small_model(tmp_path / "any.onnx", batch="N")
    document = report(run_cli("net", str(symbolic), "--format", "json"))
    assert (document["batch"], document["totals"]["macs"]) == (1, 6952)


@needs_onnx
def test_verify_runs_the_small_model(run_cli: Any, small: Path) -> None:
    """verify runs the imported network on arrays, and every number agrees (exit 0)."""
    result = run_cli("verify", str(small), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True


@needs_onnx
def test_diff_of_a_model_against_its_yaml_twin(run_cli: Any, small: Path,
                                               tmp_path: Path) -> None:
    """diff of the model against the same network written by hand finds no change in the
    totals (exit 0)."""
    twin = tmp_path / "twin.yaml"
    twin.write_text("input: 3x8x8\nlayers:\n  - {type: conv, filters: 4, kernel: 3, padding: 1}\n"
                    "  - relu\n  - global_avgpool\n  - flatten\n  - {type: linear, units: 10}\n")
    result = run_cli("diff", str(small), str(twin), "--format", "json")
    assert result.exit_code == 0, result.stderr
    totals = json.loads(result.stdout)["totals"]
    assert all(totals[key]["change"] == 0 for key in ("params", "macs", "flops"))


@needs_onnx
@needs_torch
def test_export_writes_a_module_torch_counts_alike(run_cli: Any, small: Path,
                                                   tmp_path: Path) -> None:
    """export writes a PyTorch module of the model whose parameters torch counts as 162."""
    target = tmp_path / "small.py"
    result = run_cli("export", "--to", "pytorch", str(small), "-o", str(target))
    assert result.exit_code == 0, result.stderr
    namespace: dict[str, Any] = {}
    exec(compile(target.read_text(), str(target), "exec"), namespace)
    model = namespace["build"]()
    assert sum(p.numel() for p in model.parameters()) == 162


@needs_onnx
def test_explain_works_the_models_formulas(run_cli: Any, small: Path) -> None:
    """net --explain gives the conv's worked parameters, 4·(3·3·3) + 4 = 112."""
    result = run_cli("net", str(small), "--explain")
    assert result.exit_code == 0, result.stderr
    assert "params = 4·(3·3·3) + 4 = 112" in result.stdout


@needs_onnx
def test_plot_draws_the_model(run_cli: Any, small: Path, tmp_path: Path) -> None:
    """plot draws the imported model to an SVG file."""
    pytest.importorskip("matplotlib")
    target = tmp_path / "small.svg"
    result = run_cli("plot", str(small), "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert target.read_text().lstrip().startswith("<?xml")


@needs_onnx
def test_solve_inputs_walks_the_model(run_cli: Any, small: Path) -> None:
    """solve inputs finds every size from 1 to 16 valid: a padded 3×3 conv then global
    pooling takes any input."""
    result = run_cli("solve", "inputs", str(small), "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["minimum"], document["maximum"]) == (1, 16)
    assert document["valid"] == list(range(1, 17))


@needs_onnx
def test_input_gives_the_symbolic_dims(run_cli: Any, tmp_path: Path) -> None:
    """A model whose H and W are symbolic is analysed at --input: at 3×16×16 the conv has
    4·16·16·27 = 27,648 MACs, 27,688 with the Gemm's 40; import writes that input."""
    import yaml

    path = small_model(tmp_path / "any_side.onnx", side="S")
    document = report(run_cli("net", str(path), "--input", "3x16x16", "--format", "json"))
    assert (document["input_shape"], document["totals"]["macs"]) == ([3, 16, 16], 27_688)
    written = run_cli("import", str(path), "--input", "3x16x16")
    assert yaml.safe_load(written.stdout)["input"] == [3, 16, 16]
    refused = run_cli("net", str(path))
    assert (refused.exit_code, refused.stdout) == (2, "")
    assert refused.stderr.startswith(f"error: {path}") and "--input" in refused.stderr


@needs_onnx
def test_stdin_takes_onnx_bytes(run_cli: Any, small: Path) -> None:
    """``-`` with a model's bytes on standard input reads the model as its file does."""
    from_file = report(run_cli("net", str(small), "--format", "json"))
    from_stdin = report(run_cli("net", "-", "--format", "json", input=small.read_bytes()))
    assert from_stdin == from_file


def test_stdin_still_takes_yaml(run_cli: Any) -> None:
    """``-`` with a YAML file reads it as before: LeNet-5's 61,706 parameters."""
    document = report(run_cli("net", "-", "--format", "json", input=LENET_YAML.read_text()))
    assert document["totals"]["params"] == 61_706


# ------------------------------------------------------------------- the torch export


@needs_onnx
def test_the_committed_lenet5_model_counts_as_published(run_cli: Any) -> None:
    """examples/lenet5.onnx, exported by torch from the twin, gives LeNet-5's published
    61,706 parameters and 416,520 MACs, and the YAML file's output and fields."""
    onnx_doc = report(run_cli("net", str(LENET_ONNX), "--format", "json"))
    yaml_doc = report(run_cli("net", str(LENET_YAML), "--format", "json"))
    assert (onnx_doc["totals"]["params"], onnx_doc["totals"]["macs"]) == (61_706, 416_520)
    assert onnx_doc["output_shape"] == yaml_doc["output_shape"] == [10]
    onnx_leaves = [row for row in onnx_doc["layers"] if not row["container"]]
    yaml_leaves = [row for row in yaml_doc["layers"] if not row["container"]]
    assert [(r["params"], r["macs"], r["output_shape"], r["receptive_field"])
            for r in onnx_leaves] == [(r["params"], r["macs"], r["output_shape"],
                                       r["receptive_field"]) for r in yaml_leaves]


@needs_onnx
@pytest.mark.parametrize("command", ["verify", "diff", "export", "explain", "plot", "solve",
                                     "import"])
def test_every_command_reads_the_torch_export(run_cli: Any, tmp_path: Path,
                                              command: str) -> None:
    """Each command reads examples/lenet5.onnx as it reads lenet5.yaml: verify agrees on
    every row, diff finds no row changed, export and import write files whose counts are
    the published 61,706 parameters, --explain works conv1's 6·(1·5·5) + 6 = 156, plot
    draws, solve inputs finds the 32×32 input valid."""
    model = str(LENET_ONNX)
    if command == "verify":
        result = run_cli("verify", model, "--format", "json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["ok"] is True
    elif command == "diff":
        result = run_cli("diff", model, str(LENET_YAML), "--format", "json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["counts"] == {"changed": 0, "added": 0, "removed": 0,
                                                       "unchanged": 12}
    elif command == "export":
        torch = pytest.importorskip("torch")
        target = tmp_path / "lenet5.py"
        assert run_cli("export", "--to", "pytorch", model, "-o", str(target)).exit_code == 0
        namespace: dict[str, Any] = {}
        exec(compile(target.read_text(), str(target), "exec"), namespace)
        built = namespace["build"]()
        assert sum(p.numel() for p in built.parameters()) == 61_706
        assert tuple(built(torch.zeros(2, 1, 32, 32)).shape) == (2, 10)
    elif command == "explain":
        result = run_cli("net", model, "--explain")
        assert "params = 6·(1·5·5) + 6 = 156" in result.stdout
    elif command == "plot":
        pytest.importorskip("matplotlib")
        target = tmp_path / "lenet5.png"
        assert run_cli("plot", model, "-o", str(target)).exit_code == 0
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    elif command == "solve":
        result = run_cli("solve", "inputs", model, "--format", "json")
        assert result.exit_code == 0, result.stderr
        assert 32 in json.loads(result.stdout)["valid"]
    else:
        target = tmp_path / "lenet5.yaml"
        assert run_cli("import", model, "-o", str(target)).exit_code == 0
        totals = report(run_cli("net", str(target), "--format", "json"))["totals"]
        assert (totals["params"], totals["macs"]) == (61_706, 416_520)


@needs_onnx
def test_import_reads_a_model_on_stdin(run_cli: Any) -> None:
    """import - reads the model's bytes from standard input as from its file (but for the
    network's name, which a file takes from its own name)."""
    from_file = run_cli("import", str(LENET_ONNX)).stdout.splitlines()
    from_stdin = run_cli("import", "-", input=LENET_ONNX.read_bytes())
    assert from_stdin.exit_code == 0, from_stdin.stderr
    assert from_file[0] == "name: lenet5"
    assert from_stdin.stdout.splitlines()[1:] == from_file[1:]


@needs_onnx
@needs_torch
def test_a_fresh_torch_export_matches_torchs_own_counts(run_cli: Any, tmp_path: Path) -> None:
    """A model torch exports now, with a symbolic batch, counts the parameters torch counts
    and the MACs torch's hooks count, at --batch 3."""
    import onnx_models
    import torch_models

    model = torch_models.lenet5()
    path = tmp_path / "lenet5.onnx"
    path.write_bytes(onnx_models.export_bytes(model, (1, 32, 32), dynamic_batch=True))
    document = report(run_cli("net", str(path), "--format", "json", "--batch", "3"))
    assert document["totals"]["params"] == torch_models.count_params(model)
    macs, output_shape = torch_models.count_macs(model, (1, 32, 32))
    assert document["totals"]["macs"] == 3 * macs
    assert tuple(document["output_shape"]) == output_shape


# ------------------------------------------------------------------------------ import


@needs_onnx
def test_import_round_trips_and_validates(run_cli: Any, tmp_path: Path) -> None:
    """import writes YAML that validates against the shipped schema and that net reads
    back to exactly the JSON net prints for the model."""
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    target = tmp_path / "lenet5.yaml"
    result = run_cli("import", str(LENET_ONNX), "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"wrote {target}\n"
    data = yaml.safe_load(target.read_text())
    schema = json.loads((ROOT / "docs" / "convcalc.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert list(data) == ["name", "input", "layers"]
    assert all(list(layer)[:2] == ["name", "type"] for layer in data["layers"])
    assert run_cli("net", str(target), "--format", "json").stdout == \
        run_cli("net", str(LENET_ONNX), "--format", "json").stdout


@needs_onnx
def test_import_round_trips_a_residual_block(run_cli: Any, tmp_path: Path) -> None:
    """A residual block imports as a container with its merge, and the YAML written reads
    back to the model's own JSON: 148 params and 9,216 MACs, worked by hand."""
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    path = residual_model(tmp_path / "block.onnx")
    written = run_cli("import", str(path))
    assert written.exit_code == 0, written.stderr
    data = yaml.safe_load(written.stdout)
    jsonschema.validate(data, json.loads((ROOT / "docs" / "convcalc.schema.json").read_text()))
    # GlobalAveragePool keeps 4×1×1: the adaptive pool to 1 (global_avgpool flattens)
    assert [layer["type"] for layer in data["layers"]] == ["residual", "adaptive_avgpool"]
    target = tmp_path / "block.yaml"
    target.write_text(written.stdout)
    from_yaml = run_cli("net", str(target), "--format", "json").stdout
    assert from_yaml == run_cli("net", str(path), "--format", "json").stdout
    totals = json.loads(from_yaml)["totals"]
    assert (totals["params"], totals["macs"]) == (148, 9216)


@needs_onnx
def test_import_prints_on_stdout_without_o(run_cli: Any, small: Path) -> None:
    """Without -o, and with -o -, import prints the YAML on standard output."""
    import yaml

    printed = run_cli("import", str(small))
    assert printed.exit_code == 0 and printed.stderr == ""
    assert yaml.safe_load(printed.stdout)["input"] == [3, 8, 8]
    assert run_cli("import", str(small), "-o", "-").stdout == printed.stdout


@needs_onnx
def test_import_refuses_to_overwrite(run_cli: Any, small: Path, tmp_path: Path) -> None:
    """An existing output file is left as it is, exit 2, unless --force."""
    target = tmp_path / "out.yaml"
    target.write_text("kept\n")
    result = run_cli("import", str(small), "-o", str(target))
    assert (result.exit_code, result.stderr) == (
        2, f"error: {target}: already exists; pass --force to replace it\n")
    assert target.read_text() == "kept\n"
    assert run_cli("import", str(small), "-o", str(target), "--force").exit_code == 0
    assert target.read_text().startswith("name: ")


def test_import_of_yaml_on_stdin_is_refused(run_cli: Any) -> None:
    """import reads ONNX models only: a YAML file on standard input is one line, exit 2."""
    result = run_cli("import", "-", input=LENET_YAML.read_text())
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == ("error: <stdin>: not an ONNX model: convcalc import reads ONNX "
                             "models (.onnx); a network file is read by convcalc net as it "
                             "is\n")


# ------------------------------------------------------------------ unknown operators


@needs_onnx
def test_unknown_operators_are_one_exact_error(run_cli: Any, tmp_path: Path) -> None:
    """A model with operators convcalc does not know is refused in one line naming each
    op type with its first node (and what reads it), exit 2."""
    path = unsupported_model(tmp_path / "model.onnx")
    for command in (("net",), ("verify",), ("export", "--to", "pytorch"), ("import",)):
        result = run_cli(*command, str(path))
        assert (result.exit_code, result.stdout) == (2, ""), command
        assert result.stderr == (f"error: {path}: unsupported operators: Frobnicate (node "
                                 "'f1', feeds 'conv3'), MyPool (2 nodes, first 'p0')\n")


@needs_onnx
def test_allow_unknown_counts_them_as_zero_and_says_so(run_cli: Any, tmp_path: Path) -> None:
    """--allow-unknown imports each Frobnicate node as an unknown row of zero cost with the
    file's shape, warns once for the op type, marks the rows and makes the totals a lower
    bound: the known layers still give their 162 params and 6,952 MACs."""
    path = small_model(tmp_path / "frob.onnx", unknown=True)
    result = run_cli("net", str(path), "--allow-unknown", "--format", "json")
    document = report(result)
    line = "unknown operator Frobnicate: 2 nodes counted as zero-cost identity-shaped rows"
    assert result.stderr == f"warning: {line}\n"
    assert {"layer": None, "message": line} in document["warnings"]
    unknown = [row for row in document["layers"] if row["unknown"] and not row["container"]]
    assert [row["name"].rpartition(".")[2] for row in unknown] == ["frob0", "frob1"]
    assert all((row["type"], row["output_shape"], row["params"], row["macs"],
                row["receptive_field"]) == ("unknown", [4, 8, 8], 0, 0, None)
               for row in unknown)
    assert document["totals"]["lower_bound"] is True
    assert (document["totals"]["params"], document["totals"]["macs"]) == (162, 6952)
    table = run_cli("net", str(path), "--allow-unknown")
    assert "unknown (Frobnicate)" in table.stdout
    assert "Total (lower bound)" in table.stdout


@needs_onnx
def test_import_warnings_reach_every_command(run_cli: Any, tmp_path: Path) -> None:
    """The import's warning reaches stderr from commands whose output has no warnings (diff:
    once per model), and --strict makes it the one error line, exit 2."""
    path = small_model(tmp_path / "frob.onnx", unknown=True)
    line = ("warning: unknown operator Frobnicate: 2 nodes counted as zero-cost "
            "identity-shaped rows")
    compared = run_cli("diff", str(path), str(path), "--allow-unknown")
    assert compared.exit_code == 0
    assert compared.stderr == f"{line}\n{line}\n"
    solved = run_cli("solve", "inputs", str(path), "--allow-unknown", "--max", "8")
    assert solved.stderr == f"{line}\n"
    strict = run_cli("net", str(path), "--allow-unknown", "--strict")
    assert (strict.exit_code, strict.stdout) == (2, "")
    assert strict.stderr == (f"error: {path}: unknown operator Frobnicate: 2 nodes counted as "
                             "zero-cost identity-shaped rows (strict: warnings are errors)\n")


@needs_onnx
def test_import_keeps_unknown_rows(run_cli: Any, tmp_path: Path) -> None:
    """import --allow-unknown writes each unknown node as an ``unknown`` layer with its op
    and shape; net reads the file back to the same rows and lower bound."""
    import yaml

    path = small_model(tmp_path / "frob.onnx", unknown=True)
    written = run_cli("import", str(path), "--allow-unknown")
    assert written.exit_code == 0, written.stderr
    assert written.stderr.startswith("warning: unknown operator Frobnicate: ")

    def unknown_layers(value: Any) -> list[Any]:
        if isinstance(value, list):
            return [found for item in value for found in unknown_layers(item)]
        if isinstance(value, dict):
            own = [value] if value.get("type") == "unknown" else []
            return own + [found for item in value.values() for found in unknown_layers(item)]
        return []

    layers = unknown_layers(yaml.safe_load(written.stdout))
    assert [(layer["op"], layer["output"]) for layer in layers] == [("Frobnicate", [4, 8, 8])] * 2
    target = tmp_path / "frob.yaml"
    target.write_text(written.stdout)
    from_yaml = report(run_cli("net", str(target), "--format", "json"))
    from_model = report(run_cli("net", str(path), "--allow-unknown", "--format", "json"))
    assert from_yaml["layers"] == from_model["layers"]
    assert from_yaml["totals"] == from_model["totals"]
    assert from_yaml["totals"]["lower_bound"] is True


@needs_onnx
def test_verify_and_export_refuse_unknown_rows(run_cli: Any, tmp_path: Path) -> None:
    """With --allow-unknown, verify and export stop at the first unknown row, naming it and
    its operator, exit 2."""
    path = small_model(tmp_path / "frob.onnx", unknown=True)
    for command, verb in ((("verify",), "verify cannot run"),
                          (("export", "--to", "pytorch"), "export cannot write")):
        result = run_cli(*command, str(path), "--allow-unknown")
        assert (result.exit_code, result.stdout) == (2, ""), command
        error = result.stderr.splitlines()[-1]
        assert error.startswith(f"error: {path}: ") and "frob0" in error
        assert f"{verb} operator Frobnicate: convcalc does not know what it computes" in error


# -------------------------------------------------------------- the optional extra


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=False)


def test_convcalc_and_its_yaml_paths_do_not_import_onnx() -> None:
    """``import convcalc``, and net on a YAML file, a zoo entry or YAML on standard input,
    load no onnx module."""
    code = f"""
import io, sys
import convcalc
assert not any(m == "onnx" or m.startswith("onnx.") for m in sys.modules), "import convcalc"
from convcalc.cli.app import app
from typer.testing import CliRunner
runner = CliRunner()
for args, given in ((["net", {str(LENET_YAML)!r}], None), (["net", "zoo:resnet18"], None),
                    (["net", "-"], open({str(LENET_YAML)!r}).read()),
                    (["layer", "--input", "3x8x8", "--filters", "2", "--k", "3"], None)):
    result = runner.invoke(app, args, input=given)
    assert result.exit_code == 0, result.output
print(sorted(m for m in sys.modules if m == "onnx" or m.startswith("onnx.")))
"""
    done = _run(code)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


BLOCK_ONNX = """
import sys
from importlib.abc import MetaPathFinder
class Block(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "onnx" or name.startswith("onnx."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
sys.argv = ["convcalc", *ARGS]
from convcalc.cli import main
main()
"""


@pytest.mark.parametrize("args", [("net", "model.onnx"), ("import", "model.onnx")])
def test_a_missing_extra_is_one_line_naming_it(args: tuple[str, ...], tmp_path: Path) -> None:
    """Without the onnx package, an ONNX model is refused in one line that names the extra
    to install, exit 2, nothing on stdout."""
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07\x12\x07pytorch")  # the first fields of a ModelProto
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", BLOCK_ONNX.replace("ARGS", repr(args))],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: model.onnx: ")
    assert "pip install 'convcalc[onnx]'" in lines[0]
