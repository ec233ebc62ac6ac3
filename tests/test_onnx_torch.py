"""The ONNX import against torch's exporter: the files torch writes from the plain-torch twins
of every example network and every zoo family import to the numbers of the YAML files.

Rows correspond by order among the weighted rows: the rows with parameters, not containers
and not in an auxiliary head, taken in the report's order (execution order, which for both
the YAML and the import is the order torch runs the modules in), are compared pairwise, each
on its type, params, non-trainable params, MACs, output shape and receptive field. Rows
without parameters are not paired: the export drops some the YAML writes (Dropout in eval,
Flatten folded into a Reshape) and writes some the YAML has not (an explicit Flatten), so
only their totals are compared.

BatchNorm folding (the exporter's default): a BatchNorm whose input is a conv's output alone
is folded into that conv, which keeps its shape and MACs and gains a bias of C values where
it had none. Per folded BatchNorm of C channels the learnable params drop by its 2·C (γ, β)
less the C bias values added where the conv had no bias (so by C, or by 2·C when the conv
had a bias), and the non-trainable params by its 2·C running statistics. A folded BatchNorm
is, in the YAML's rows, a batchnorm row right after a conv row of the same container.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("onnx")

import onnx_exports as ox

from convcalc import LayerRow, Report, SpecError, analyze, load_network, parse_network, zoo
from convcalc.loader import network_from_data
from convcalc.onnx_import import import_onnx

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCHEMA = ROOT / "docs" / "convcalc.schema.json"

TWINS = [("examples", name) for name in sorted(ox.EXAMPLE_TWINS)] + [
    ("zoo", name) for name in sorted(ox.ZOO_TWINS)]
"""Every twin: (where its YAML lives, its name)."""

LARGE_WITHOUT_BATCHNORM = {"alexnet", "vgg16"}
"""Twins without a BatchNorm whose folded export is not made: the exporter has nothing to
fold (tests/onnx_exports.has_batchnorm is False), and each file is hundreds of MB. LeNet-5 and
SqueezeNet, also BatchNorm-free, are exported both ways to show that the two agree then."""


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory) -> ox.ExportCache:
    """One directory of exported files for the whole session, each file written once."""
    return ox.ExportCache(tmp_path_factory.mktemp("onnx-exports"))


def _twin(where: str, name: str) -> ox.Twin:
    return (ox.EXAMPLE_TWINS if where == "examples" else ox.ZOO_TWINS)[name]


def yaml_report(where: str, name: str) -> Report:
    """Return the report of the YAML file the twin is the twin of, at the twin's input."""
    twin = _twin(where, name)
    if where == "examples":
        network = load_network(EXAMPLES / f"{name}.yaml").network
    else:
        network = zoo.source(name).network
    return analyze(network.model_copy(update={"input": twin.input_shape}))


def imported(path: Path) -> tuple[Any, Report]:
    """Return the import of ``path`` and the report of the network it gives."""
    result = import_onnx(path, name=path.name)
    network = network_from_data(result.network, path.name).network
    return result, analyze(network)


@functools.cache
def imported_export(path: Path) -> tuple[Any, Report]:
    """Return ``imported(path)`` for a file of the session's export cache, once per file
    (such a file is written once and never changed)."""
    return imported(path)


def weighted(report: Report) -> list[LayerRow]:
    """Return the rows that pair up: leaves with parameters, outside auxiliary heads."""
    return [row for row in report.layers if not row.container and not row.aux and row.params]


def _key(row: LayerRow) -> tuple[Any, ...]:
    return (row.type, row.params, row.non_trainable_params, row.macs, row.output_shape,
            row.receptive_field)


def assert_rows_pair(expected: list[tuple[Any, ...]], report: Report, label: str) -> None:
    """Assert the import's weighted rows equal ``expected`` (keys as ``_key``), pairwise in
    order, naming the first pair that differs."""
    got = [_key(row) for row in weighted(report)]
    names = [row.name for row in weighted(report)]
    for index, (want, have) in enumerate(zip(expected, got, strict=False)):
        assert have == want, f"{label}: weighted row {index} ({names[index]})"
    assert len(got) == len(expected), f"{label}: {len(got)} weighted rows, not {len(expected)}"


def folded_batchnorms(report: Report) -> list[tuple[LayerRow, LayerRow]]:
    """Return the (conv, batchnorm) row pairs the exporter folds: a batchnorm row right after
    a conv row of the same container, both outside auxiliary heads."""
    pairs = []
    for before, row in zip(report.layers, report.layers[1:], strict=False):
        if (row.type == "batchnorm" and before.type == "conv" and not before.container
                and not row.aux and _parent(row.name) == _parent(before.name)):
            pairs.append((before, row))
    return pairs


def batchnorm_nodes(path: Path) -> int:
    """Return the number of BatchNormalization nodes in the ONNX file ``path``."""
    import onnx

    return sum(node.op_type == "BatchNormalization" for node in onnx.load(path).graph.node)


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def without_aux(report: Report) -> tuple[int, int]:
    """Return the YAML's (params, non-trainable params) outside its auxiliary heads."""
    aux = report.totals.aux
    return (report.totals.params - (aux.params if aux else 0),
            report.totals.non_trainable_params - (aux.non_trainable_params if aux else 0))


# --------------------------------------------------------------------------- (a) preserved


@pytest.mark.parametrize(("where", "name"), TWINS)
def test_preserved_export_matches_yaml(exports: ox.ExportCache, where: str, name: str) -> None:
    """With BatchNorm preserved, the import has the YAML's weighted rows (type, params, MACs,
    output shape, receptive field, pairwise in order), params, MACs, output shape and the
    output's receptive field; the batch is the file's (1, or symbolic: None)."""
    twin = _twin(where, name)
    expected = yaml_report(where, name)
    result, report = imported_export(exports.path(twin, ox.Mode.PRESERVE))
    assert result.batch == (None if twin.dynamic_batch else 1)
    assert not result.unknown_ops
    assert_rows_pair([_key(row) for row in weighted(expected)], report, name)
    assert (report.totals.params, report.totals.non_trainable_params) == without_aux(expected)
    assert report.totals.macs == expected.totals.macs
    assert report.input_shape == expected.input_shape
    assert report.output_shape == expected.output_shape
    assert report.layers[-1].receptive_field == _main_output(expected).receptive_field


def _main_output(report: Report) -> LayerRow:
    """Return the last row outside the auxiliary heads: the network's output."""
    return [row for row in report.layers if not row.aux][-1]


# --------------------------------------------------------------------------- (b) folded


@pytest.mark.parametrize(("where", "name"),
                         [twin for twin in TWINS if twin[1] not in LARGE_WITHOUT_BATCHNORM])
def test_folded_export_differs_by_what_folding_removes(exports: ox.ExportCache, where: str,
                                                       name: str) -> None:
    """With the exporter's default (BatchNorm folded), MACs and shapes are the YAML's, the
    folded batchnorm rows are gone, their convs carry C more params where they had no bias,
    and the totals' params drop by exactly 2·C less the added biases per folded BatchNorm."""
    twin = _twin(where, name)
    expected = yaml_report(where, name)
    pairs = folded_batchnorms(expected)
    preserved, folded = exports.path(twin, ox.Mode.PRESERVE), exports.path(twin, ox.Mode.FOLDED)
    assert len(pairs) == batchnorm_nodes(preserved) - batchnorm_nodes(folded)
    removed = {id(bn) for _, bn in pairs}
    added = {id(conv): bn.output_shape[0] for conv, bn in pairs if not conv.bias_params}
    keys = []
    for row in weighted(expected):
        if id(row) not in removed:
            kind, params, *rest = _key(row)
            keys.append((kind, params + added.get(id(row), 0), *rest))

    _, report = imported_export(folded)
    assert_rows_pair(keys, report, name)
    learnable = sum(bn.params - (0 if conv.bias_params else bn.output_shape[0])
                    for conv, bn in pairs)
    statistics = sum(bn.non_trainable_params for _, bn in pairs)
    params, non_trainable = without_aux(expected)
    assert report.totals.params == params - learnable
    assert report.totals.non_trainable_params == non_trainable - statistics
    assert report.totals.macs == expected.totals.macs
    assert report.output_shape == expected.output_shape


# --------------------------------------------------------------------------- round trip

ROUND_TRIP = [twin for twin in TWINS if twin[1] not in LARGE_WITHOUT_BATCHNORM]
"""Every twin but the two largest files: a U-Net's skips, residuals, DenseNet's growing
concatenations, ShuffleNet's channel split and shuffle, Inception's branches, ConvNeXt's
channels-last blocks, squeeze-and-excitation."""


@pytest.mark.parametrize(("where", "name"), ROUND_TRIP)
def test_imported_network_round_trips_through_yaml(exports: ox.ExportCache, where: str,
                                                   name: str) -> None:
    """The network the import gives, dumped as YAML, validates against the shipped JSON
    Schema and reads back to the same report."""
    jsonschema = pytest.importorskip("jsonschema")

    path = exports.path(_twin(where, name), ox.Mode.PRESERVE)
    result, report = imported_export(path)
    text = yaml.safe_dump(result.network, sort_keys=False)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    errors = [error.message for error in validator.iter_errors(yaml.safe_load(text))]
    assert not errors, errors[:3]
    again = analyze(parse_network(text, f"{name}.yaml").network)
    assert again.model_dump(mode="json") == report.model_dump(mode="json")


# --------------------------------------------------------------------------- done when


def _totals(output: str) -> list[str]:
    """Return the printed table's lines from its Total row on, each with its runs of spaces
    made one (the name column is as wide as the longest row name, which differs)."""
    lines = [" ".join(line.split()) for line in output.splitlines()]
    start = next(index for index, line in enumerate(lines) if re.match(r"Total\b", line))
    return lines[start:]


def test_net_on_resnet18_onnx_prints_the_zoo_totals(exports: ox.ExportCache,
                                                    run_cli: Callable[..., Any],
                                                    tmp_path: Path) -> None:
    """`convcalc net resnet18.onnx` (the twin, BatchNorm preserved) prints the same totals as
    `convcalc net zoo:resnet18`."""
    model = tmp_path / "resnet18.onnx"
    model.write_bytes(exports.path(ox.EXAMPLE_TWINS["resnet18"], ox.Mode.PRESERVE).read_bytes())
    from_onnx = run_cli("net", str(model))
    from_zoo = run_cli("net", "zoo:resnet18")
    assert from_onnx.exit_code == 0, from_onnx.stderr
    assert from_zoo.exit_code == 0, from_zoo.stderr
    assert "11,689,512" in from_zoo.stdout
    assert _totals(from_onnx.stdout) == _totals(from_zoo.stdout)
    as_json = [json.loads(run_cli("net", source, "--format", "json").stdout)["totals"]
               for source in (str(model), "zoo:resnet18")]
    assert as_json[0] == as_json[1]


# --------------------------------------------------------------------------- auxiliary head


def test_eval_export_has_no_auxiliary_head(exports: ox.ExportCache) -> None:
    """Inception v3's eval export has no auxiliary head (torchvision runs AuxLogits only in
    training; the twin's eval-time head feeds no output and the exporter drops it): the
    import has no AuxLogits row, the YAML's head params are missing from its params, and its
    MACs are the YAML's, whose totals leave the head's MACs out."""
    expected = yaml_report("zoo", "inception_v3")
    aux = expected.totals.aux
    # By hand: conv0 1x1 768->128 and its BN, conv1 5x5 128->768 and its BN, fc 768->1000.
    head = 768 * 128 + 2 * 128 + 128 * 768 * 25 + 2 * 768 + 768 * 1000 + 1000
    assert aux is not None and aux.params == head == 3_326_696
    assert any(row.name.startswith("AuxLogits") for row in expected.layers)
    _, report = imported_export(exports.path(ox.ZOO_TWINS["inception_v3"], ox.Mode.PRESERVE))
    assert not [row.name for row in report.layers if "AuxLogits" in row.name]
    assert report.totals.params == expected.totals.params - aux.params
    assert report.totals.macs == expected.totals.macs


def test_training_export_with_its_auxiliary_head_is_refused(tmp_path: Path) -> None:
    """Inception v3 exported in training mode returns the auxiliary head's output as a second
    graph output: the import refuses it in one line naming the file and both outputs, rather
    than dropping the head's parameters."""
    import onnx
    import torch
    import torch_zoo

    torch.manual_seed(0)
    path = ox.export(torch_zoo.Inception3(), (3, 299, 299), tmp_path / "inception-train.onnx",
                     ox.Mode.TRAINING, dynamic_batch=True)
    outputs = [output.name for output in onnx.load(path, load_external_data=False).graph.output]
    assert len(outputs) == 2
    with pytest.raises(SpecError) as refused:
        import_onnx(path, name=path.name)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("inception-train.onnx: ")
    assert all(repr(output) in message for output in outputs)


# --------------------------------------------------------------------------- known gaps


def test_unfolded_transpose_of_a_large_weight_imports(tmp_path: Path) -> None:
    """ConvNeXt exported with constant folding off keeps each Linear's weight Transpose as a
    node on the initializer; the import gives the same params and MACs as the folded file."""
    import torch
    import torch_zoo

    torch.manual_seed(0)
    twin = ox.ZOO_TWINS["convnext_tiny"]
    path = ox.export(torch_zoo.convnext_tiny(), twin.input_shape, tmp_path / "convnext.onnx",
                     ox.Mode.PRESERVE, dynamic_batch=True, constant_folding=False)
    expected = yaml_report("zoo", "convnext_tiny")
    _, report = imported(path)
    assert report.totals.params == expected.totals.params
    assert report.totals.macs == expected.totals.macs


# --------------------------------------------------------------------------- single layers


def test_preserve_needs_the_model_in_eval(tmp_path: Path) -> None:
    """PRESERVE exports in the model's own mode: a model left in train() writes BatchNorm
    with training_mode=1 (batch statistics), which the import refuses naming the node."""
    import onnx
    import torch
    from torch import nn

    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU()).train()
    path = tmp_path / "train.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(2, 3, 8, 8),), str(path), dynamo=False,
                          training=torch.onnx.TrainingMode.PRESERVE)
    norms = [node for node in onnx.load(path).graph.node if node.op_type == "BatchNormalization"]
    assert [a.i for node in norms for a in node.attribute if a.name == "training_mode"] == [1]
    with pytest.raises(SpecError, match=r"^train\.onnx: node '[^']+' \(BatchNormalization\): "
                                        r"training_mode=1"):
        import_onnx(path, name=path.name)


def test_conv_transpose_counts_each_input_element_once(tmp_path: Path) -> None:
    """A 32→1 3×3 ConvTranspose on a 1×1 input, as torch exports it: each of the 32 input
    elements meets the whole 3×3 kernel once, 32·9 = 288 MACs (the count by output positions
    would be 3·3·9 = 81), with 288 weights and a 1×3×3 output."""
    from torch import nn

    path = ox.export(nn.ConvTranspose2d(32, 1, 3, bias=False), (32, 1, 1),
                     tmp_path / "conv_transpose.onnx", ox.Mode.PRESERVE)
    _, report = imported(path)
    assert (report.totals.macs, report.totals.params, report.output_shape) == (
        32 * 9, 32 * 1 * 3 * 3, (1, 3, 3))


# --------------------------------------------------------------------------- every tensor's shape


@pytest.mark.parametrize(("where", "name"),
                         [twin for twin in TWINS if twin[1] not in LARGE_WITHOUT_BATCHNORM])
def test_every_tensor_agrees_with_onnx_shape_inference(exports: ox.ExportCache,
                                                       tmp_path: Path, where: str,
                                                       name: str) -> None:
    """torch writes no value_info; ONNX's own shape inference (onnx.shape_inference, an
    independent implementation) adds one per inferred tensor, and the import, which checks
    each against its own rules, reads the inferred file to the same report."""
    import onnx

    path = exports.path(_twin(where, name), ox.Mode.PRESERVE)
    inferred = tmp_path / path.name  # the same name: the network is named after the file
    onnx.shape_inference.infer_shapes_path(str(path), str(inferred))
    graph = onnx.load(inferred, load_external_data=False).graph
    assert len(graph.value_info) >= len(weighted(yaml_report(where, name)))
    _, plain = imported_export(path)
    _, checked = imported(inferred)
    assert checked.model_dump(mode="json") == plain.model_dump(mode="json")


def test_a_wrong_inferred_shape_is_refused_naming_the_node(exports: ox.ExportCache,
                                                           tmp_path: Path) -> None:
    """The same check catches a file whose stated shape is wrong: ResNet-18's first conv
    output stated one row taller than it is stops the import, naming the conv."""
    import onnx

    model = onnx.shape_inference.infer_shapes(
        onnx.load(exports.path(ox.EXAMPLE_TWINS["resnet18"], ox.Mode.PRESERVE)))
    conv = next(node for node in model.graph.node if node.op_type == "Conv")
    info = next(info for info in model.graph.value_info if info.name == conv.output[0])
    assert [dim.dim_value for dim in info.type.tensor_type.shape.dim] == [1, 64, 112, 112]
    info.type.tensor_type.shape.dim[2].dim_value = 113
    path = tmp_path / "wrong.onnx"
    onnx.save(model, path)
    with pytest.raises(SpecError, match=rf"^wrong\.onnx: node {re.escape(repr(conv.name))} "
                                        r"\(Conv\): the file says output .* 1×64×113×112, "
                                        r"convcalc's rules give 1×64×112×112"):
        import_onnx(path, name=path.name)


# --------------------------------------------------------------------------- external data


def test_external_weights_are_never_read(exports: ox.ExportCache, tmp_path: Path) -> None:
    """ResNet-18's export saved with its weights as external data imports to the report of
    the inline file, and still does once the weights file is gone: only shapes are read."""
    import onnx

    inline = exports.path(ox.EXAMPLE_TWINS["resnet18"], ox.Mode.PRESERVE)
    path = tmp_path / inline.name
    onnx.save(onnx.load(inline), path, save_as_external_data=True, location="weights.bin",
              size_threshold=0)
    weights = tmp_path / "weights.bin"
    assert path.stat().st_size < 100_000 < weights.stat().st_size
    _, expected = imported_export(inline)
    assert imported(path)[1].model_dump(mode="json") == expected.model_dump(mode="json")
    weights.unlink()
    assert imported(path)[1].model_dump(mode="json") == expected.model_dump(mode="json")
