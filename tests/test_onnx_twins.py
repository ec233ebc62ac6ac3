"""torch.onnx.export of the plain-torch twins, imported: the zoo's numbers exactly.

Each twin is exported with BatchNorm kept as a node (``TrainingMode.PRESERVE``) at an opset
where torch writes the idioms the importer fuses (GELU and LayerNorm decomposed at 13,
native at 17); the import, analysed as the DAG it produced, gives the zoo entry's
parameters, MACs, FLOPs and output shape. With the default export (BatchNorm folded into
the conv before it) the MACs are the same and the parameters lose what folding removes.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from onnx_graphs import analysed

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import torch_models  # after the skip: it imports torch
import torch_zoo

from convcalc import zoo
from convcalc.analysis import analyze

TWINS: dict[str, Callable[[], Any]] = {
    "resnet18": torch_models.resnet18,
    "mobilenet_v3_small": torch_zoo.mobilenet_v3_small,
    "shufflenet_v2_x0_5": torch_zoo.shufflenet_v2_x0_5,
    "mnasnet0_5": torch_zoo.mnasnet0_5,
    "convnext_tiny": torch_zoo.convnext_tiny,
}


def _export(module: Any, opset: int, preserve: bool = True) -> bytes:
    buffer = io.BytesIO()
    mode = torch.onnx.TrainingMode.PRESERVE if preserve else torch.onnx.TrainingMode.EVAL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), torch.randn(1, 3, 224, 224), buffer, dynamo=False,
                          opset_version=opset, training=mode, input_names=["x"],
                          dynamic_axes={"x": {0: "N"}})
    return buffer.getvalue()


_NO_ROW_IN_ONNX = {"dropout", "stochastic_depth"}  # the exporter drops them at inference


def _leaf_rows(report: Any) -> list[tuple[Any, ...]]:
    """Return each leaf layer's numbers (merges, dropout and stochastic depth left out),
    sorted: the exporter orders a block's shortcut before its main path.

    ONNX's GlobalAveragePool keeps N×C×1×1 and a Flatten follows, where some zoo files
    write one ``global_avgpool``: a pooling to one position is compared by its channels
    and FLOPs alone, and flatten rows (no cost) are left out.
    """
    rows = []
    for row in report.layers:
        if row.container or row.type in {"add", "concat", "mul", "flatten"} | _NO_ROW_IN_ONNX:
            continue
        if row.type in ("global_avgpool", "adaptive_avgpool") and \
                all(size == 1 for size in row.output_shape[1:]):
            rows.append(("pool to one position", row.output_shape[0], row.flops))
            continue
        rows.append((row.type, tuple(row.output_shape), row.params, row.macs, row.flops,
                     str(row.receptive_field)))
    return sorted(rows, key=repr)


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("name", sorted(TWINS))
def test_twin_export_gives_the_zoo_numbers(name: str, opset: int) -> None:
    """The exported twin imports to the zoo entry's params, MACs, FLOPs and output, and
    its layers to the zoo's rows (shapes, counts and receptive fields)."""
    report = analysed(_export(TWINS[name](), opset))
    expected = analyze(zoo.source(name).network)
    assert (report.totals.params, report.totals.non_trainable_params, report.totals.macs,
            report.totals.flops, tuple(report.output_shape)) == (
        expected.totals.params, expected.totals.non_trainable_params, expected.totals.macs,
        expected.totals.flops, tuple(expected.output_shape))
    assert _leaf_rows(report) == _leaf_rows(expected)


def test_folded_batchnorm_keeps_the_macs() -> None:
    """With BatchNorm folded by the exporter, MACs are unchanged and the parameters are
    the zoo's less each BatchNorm's 2·C, plus a bias per folded conv's filter."""
    module = torch_models.resnet18()
    report = analysed(_export(module, 17, preserve=False))
    expected = analyze(zoo.source("resnet18").network)
    batchnorm = [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    removed = sum(2 * m.num_features for m in batchnorm)  # γ and β
    added = sum(m.num_features for m in batchnorm)  # the bias each conv gains
    assert report.totals.macs == expected.totals.macs
    assert report.totals.params == expected.totals.params - removed + added
    assert report.totals.non_trainable_params == 0


def _plain(value: Any) -> bool:
    """Return whether ``value`` is built of str, int, float, bool, list and dict only."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return type(value) in (str, int, float, bool)


def test_imported_layers_are_plain_data() -> None:
    """Every layer mapping of an exported ConvNeXt (norms, layer scales, 1×1 convs from
    MatMul, GELU) is plain data, as a YAML file holds it."""
    from onnx_graphs import dag
    walked = dag(_export(torch_zoo.convnext_tiny(), 13))
    assert all(_plain(node.layer) for node in walked.nodes if node.layer is not None)
    assert all(type(d) is int for d in walked.input_shape)
