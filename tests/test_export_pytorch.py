"""The exported PyTorch source builds networks with convcalc's shapes, parameters and names.

The generated file is run as it is (``exec``), its ``build()`` called, and the module it
returns compared with convcalc's report of the same network: parameter and running-
statistics counts, output shapes for a batch of one and of two, and each parametrized
row's name and count against the module path holding the parameters. For the example
networks the torch twins in ``torch_models`` (written by hand, torchvision's names) lend
their weights to the export, and both must compute the same function.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import numpy as np
import torch_models
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from convcalc import LayerError, SpecError, analyze
from convcalc.export import to_pytorch
from convcalc.export.pytorch import TORCH_RESERVED_NAMES
from convcalc.layers import REGISTRY, Container, LayerSpec
from convcalc.layers.merges import MERGES
from convcalc.layers.pool import AvgPool, MaxPool
from convcalc.loader import load_network, network_from_data
from convcalc.results import Report

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def generate(data: dict[str, Any]) -> tuple[Report, nn.Module, str]:
    """Return convcalc's report of ``data``, the exported module built, and its source."""
    network = network_from_data(data, "<test>").network
    source = to_pytorch(network)
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)
    return analyze(network), namespace["build"]().eval(), source


def run(model: nn.Module, shape: tuple[int, ...], batch: int = 1,
        device: str = "cpu") -> tuple[int, ...]:
    """Return the output shape of ``model`` for a batch of zeros, batch dim dropped."""
    with torch.no_grad():
        out = model(torch.zeros(batch, *shape, device=device))
    if isinstance(out, tuple):  # a network with aux heads: (main, *heads)
        out = out[0]
    assert out.shape[0] == batch
    return tuple(out.shape[1:])


def parametrized_rows(report: Report) -> dict[str, int]:
    """Return convcalc's parametrized leaf rows: full name -> parameter count."""
    return {row.name: row.params for row in report.layers if not row.container and row.params}


def module_params(model: nn.Module) -> dict[str, int]:
    """Return the parameter count of each module path that holds parameters itself."""
    counts: dict[str, int] = {}
    for name, parameter in model.named_parameters():
        owner = name.rsplit(".", 1)[0]
        counts[owner] = counts.get(owner, 0) + parameter.numel()
    return counts


def statistics(model: nn.Module) -> int:
    """Return how many running-statistics elements (BatchNorm mean and variance) it keeps."""
    return sum(buffer.numel() for name, buffer in model.named_buffers()
               if name.endswith(("running_mean", "running_var")))


def check_against_report(report: Report, model: nn.Module, device: str = "cpu") -> None:
    """Assert counts, names and output shapes (batch 1 and 2) equal convcalc's."""
    assert sum(p.numel() for p in model.parameters()) == report.totals.params
    assert statistics(model) == report.totals.non_trainable_params
    assert module_params(model) == parametrized_rows(report)
    assert run(model, report.input_shape, 1, device) == report.output_shape
    assert run(model, report.input_shape, 2, device) == report.output_shape


# --------------------------------------------------------------------------- examples


# Inputs for comparing with the twins: small where global or adaptive pooling allows it,
# so the forward passes stay quick (VGG-16 at 224×224 is 15 GMACs).
TWIN_INPUTS = {name: (3, 64, 64) for name in torch_models.INPUT_SHAPES} | {
    "lenet5": (1, 32, 32),
    "unet_small": (1, 32, 32),
}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_example_matches_report_and_torch_twin(path: Path) -> None:
    """Every example exports to a module with convcalc's numbers and its twin's function.

    The numbers are checked on the meta device (shapes without arithmetic) at the file's
    input size; the function with the twin's weights loaded, on a small input.
    """
    source = load_network(path)
    text = to_pytorch(source.network, source=str(path))
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile(text, str(path), "exec"), namespace)
    report = analyze(source.network)
    assert namespace["INPUT_SHAPE"] == report.input_shape
    assert namespace["PARAMETERS"] == report.totals.params
    with torch.device("meta"):
        check_against_report(report, namespace["build"]().eval(), device="meta")
    torch.manual_seed(0)
    twin = torch_models.BUILDERS[path.stem]().eval()
    model = namespace["build"]().eval()
    # The same state_dict keys (parameters and BN buffers): the twin's weights load as
    # they are, and then both must compute the same function.
    model.load_state_dict(twin.state_dict(), strict=True)
    x = torch.randn(2, *TWIN_INPUTS[path.stem])
    with torch.no_grad():
        torch.testing.assert_close(model(x), twin(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("path", sorted((EXAMPLES.parent / "docs" / "examples").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_docs_example_matches_report(path: Path) -> None:
    """The networks the docs use export to modules with convcalc's numbers and names."""
    source = load_network(path)
    report, model, _ = generate(source.network.model_dump(exclude_none=True))
    check_against_report(report, model)


def test_header_names_source_version_and_totals() -> None:
    """The header says where the file came from and the numbers it must reproduce."""
    network = load_network(EXAMPLES / "resnet18.yaml").network
    lines = to_pytorch(network, source="examples/resnet18.yaml").splitlines()
    assert lines[:11] == [
        "# A network as a PyTorch module, generated by convcalc 0.1.0.",
        "#",
        "# network   resnet18",
        "# file      examples/resnet18.yaml",
        "#",
        "# convcalc's numbers for one 3x224x224 input, which build() reproduces:",
        "#   parameters      11,689,512",
        "#   non-trainable   9,600 (running statistics: buffers, not parameters)",
        "#   output shape    1000",
        "#   MACs            1,814,073,344",
        "#   FLOPs           3,637,806,568 (convcalc's convention)",
    ]
    assert "NAME = 'resnet18'" in lines
    assert "INPUT_SHAPE = (3, 224, 224)" in lines
    assert "def build() -> nn.Sequential:" in lines


def test_script_prints_its_check(tmp_path: Path) -> None:
    """Run as a script, the file builds the network and prints torch's and convcalc's counts."""
    import subprocess
    import sys

    network = load_network(EXAMPLES / "lenet5.yaml").network
    script = tmp_path / "lenet5.py"
    script.write_text(to_pytorch(network))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            check=True)
    assert result.stdout == ("parameters   61,706 (convcalc: 61,706)\n"
                             "output shape (10,) (convcalc: (10,))\n")


# --------------------------------------------------------------------------- every layer

CASES: dict[str, tuple[str, list[Any]]] = {
    # convolutions, by rank and padding form
    "conv1d same stride 2": ("2x11", [{"type": "conv", "filters": 3, "kernel": 4,
                                       "stride": 2, "padding": "same"}]),
    "conv2d same even kernel": ("3x9x9", [{"type": "conv", "filters": 4, "kernel": 4,
                                           "padding": "same"}]),
    "conv2d per side": ("3x8x7", [{"type": "conv", "filters": 2, "kernel": 3,
                                   "padding": [[0, 1], [2, 0]], "bias": False}]),
    "conv2d per dim": ("4x9x12", [{"type": "conv", "filters": 6, "kernel": [3, 5],
                                   "padding": [1, 2], "dilation": [2, 1], "groups": 2}]),
    "conv2d valid stride": ("3x10x10", [{"type": "conv", "filters": 5, "kernel": 3,
                                         "stride": [2, 3], "padding": "valid"}]),
    "conv3d same": ("2x5x6x7", [{"type": "conv", "filters": 3, "kernel": [3, 1, 2],
                                 "stride": [1, 2, 1], "padding": "same"}]),
    "conv_transpose1d": ("4x7", [{"type": "conv_transpose", "filters": 2, "kernel": 3,
                                  "stride": 2, "padding": 1, "output_padding": 1}]),
    "conv_transpose2d": ("4x5x6", [{"type": "conv_transpose", "filters": 6, "kernel": [3, 2],
                                    "stride": [2, 3], "padding": [1, 0], "dilation": [1, 2],
                                    "groups": 2, "bias": False}]),
    "conv_transpose3d": ("2x3x4x5", [{"type": "conv_transpose", "filters": 3, "kernel": 2,
                                      "stride": 2}]),
    # pooling
    "maxpool ceil": ("2x10x10", [{"type": "maxpool", "kernel": 3, "stride": 2,
                                  "ceil_mode": True}]),
    "maxpool padded ceil": ("2x10x11", [{"type": "maxpool", "kernel": 3, "stride": 2,
                                         "padding": 1, "ceil_mode": True}]),
    "maxpool same even": ("2x7x9", [{"type": "maxpool", "kernel": 2, "stride": 2,
                                     "padding": "same"}]),
    "maxpool per side ceil": ("2x9x8", [{"type": "maxpool", "kernel": 3, "stride": 2,
                                         "padding": [[0, 1], [1, 0]], "ceil_mode": True}]),
    "maxpool same dilated": ("1x12x11", [{"type": "maxpool", "kernel": 3, "stride": 1,
                                          "padding": "same", "dilation": 2}]),
    "maxpool dilated": ("1x12x12", [{"type": "maxpool", "kernel": 2, "stride": 2,
                                     "padding": 1, "dilation": 3, "ceil_mode": True}]),
    "maxpool drops last window": ("1x3", [{"type": "maxpool", "kernel": 3, "stride": 3,
                                           "padding": [[0, 1]], "ceil_mode": True}]),
    "maxpool1d": ("3x17", [{"type": "maxpool", "kernel": 4, "stride": 3, "ceil_mode": True}]),
    "maxpool3d per side": ("2x5x6x7", [{"type": "maxpool", "kernel": 2,
                                        "padding": [[1, 0], [0, 1], [1, 1]]}]),
    "avgpool exclude pad": ("2x9x9", [{"type": "avgpool", "kernel": 3, "stride": 2,
                                       "padding": 1, "count_include_pad": False}]),
    "avgpool per side include": ("2x8x8", [{"type": "avgpool", "kernel": 3, "stride": 2,
                                            "padding": [[0, 1], [1, 1]]}]),
    "avgpool per side exclude": ("2x8x8", [{"type": "avgpool", "kernel": 3, "stride": 2,
                                            "padding": [[0, 1], [1, 1]],
                                            "count_include_pad": False}]),
    "avgpool per side ceil": ("2x9x10", [{"type": "avgpool", "kernel": 3, "stride": 2,
                                          "padding": [[1, 0], [0, 1]], "ceil_mode": True}]),
    "avgpool same ceil exclude": ("1x7", [{"type": "avgpool", "kernel": 4, "stride": 3,
                                           "padding": "same", "ceil_mode": True,
                                           "count_include_pad": False}]),
    "avgpool3d ceil": ("1x5x5x5", [{"type": "avgpool", "kernel": 2, "ceil_mode": True}]),
    "avgpool3d input under kernel": ("2x1x2x4", [{"type": "avgpool", "kernel": 3, "stride": 1,
                                                  "padding": 1, "count_include_pad": False}]),
    "adaptive pools": ("3x10x7", [{"type": "adaptive_avgpool", "output": [4, 3]},
                                  {"type": "adaptive_maxpool", "output": 2}]),
    "adaptive pools 1d 3d": ("2x4x9x9", [{"type": "adaptive_maxpool", "output": [2, 3, 4]}]),
    "global avg 1d": ("5x9", ["global_avgpool", {"type": "linear", "units": 3}]),
    "global max 3d": ("3x2x3x4", ["global_maxpool", {"type": "linear", "units": 2,
                                                      "bias": False}]),
    # dense, normalisation, elementwise
    "flatten linear": ("2x3x4", ["flatten", {"type": "linear", "units": 5}, "batchnorm",
                                 {"type": "dropout", "p": 0.2}, "softmax"]),
    "flat input": ("7", [{"type": "linear", "units": 4}, "flatten", "relu"]),
    "batchnorm by rank": ("3x5", [{"type": "batchnorm", "eps": 0.001},
                                  {"type": "upsample", "scale": 2}]),
    "batchnorm 3d": ("2x3x3x3", ["batchnorm", "dropout"]),
    "activations": ("2x4x4", ["relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish",
                              "identity", {"type": "leaky_relu", "negative_slope": 0.2},
                              "leaky_relu"]),
    # padding and resampling layers
    "pad forms": ("1x4x5", [{"type": "pad", "padding": 1}, {"type": "pad", "padding": [0, 2]},
                            {"type": "pad", "padding": [[1, 0], [0, 3]]}]),
    "pad 1d 3d": ("1x2x3x4", [{"type": "pad", "padding": [[0, 1], [2, 0], [1, 1]]}]),
    "upsample nearest": ("2x3x5", [{"type": "upsample", "scale": [2, 3]},
                                   {"type": "upsample", "size": [7, 16]}]),
    "upsample linear 1d": ("2x5", [{"type": "upsample", "scale": 3, "mode": "linear"}]),
    "upsample bilinear": ("2x3x4", [{"type": "upsample", "size": [5, 9], "mode": "linear"}]),
    "upsample trilinear": ("1x2x3x2", [{"type": "upsample", "scale": [1, 2, 3],
                                        "mode": "linear"}]),
    # containers
    "residual with shortcut": ("4x8x8", [{
        "type": "residual", "name": "block",
        "layers": [{"type": "conv", "filters": 8, "kernel": 3, "stride": 2, "padding": 1},
                   "relu"],
        "shortcut": [{"type": "conv", "filters": 8, "kernel": 1, "stride": 2}]}]),
    "parallel add with identity": ("4x6x6", [{
        "type": "parallel", "merge": "add",
        "branches": [[], [{"type": "conv", "filters": 4, "kernel": 3, "padding": "same"}],
                     [{"type": "conv", "filters": 4, "kernel": 2, "padding": "same"}]]}]),
    "parallel concat pools": ("3x7x7", [{
        "type": "parallel",
        "branches": [[{"type": "maxpool", "kernel": 3, "stride": 1, "padding": 1}],
                     [{"type": "conv", "filters": 2, "kernel": 1}]]}]),
    "repeat with a first turn apart": ("3x8x8", [{
        "type": "sequential", "name": "stage", "repeat": 4,
        "layers": [{"type": "conv", "filters": 5, "kernel": 3, "padding": 1}, "relu"]}]),
    "repeat residual nested": ("2x6x6", [{
        "type": "residual", "repeat": 3,
        "layers": [{"type": "sequential", "name": "inner",
                    "layers": [{"type": "conv", "filters": 2, "kernel": 3, "padding": 1},
                               "batchnorm"]}]}]),
    "empty sequential": ("2x3x3", [{"type": "sequential", "layers": []}, "relu"]),
    # modern activations, layer scale, stochastic depth
    "modern activations": ("2x4x4", ["hardsigmoid", "mish", "elu", {"type": "elu", "alpha": 0.5},
                                     "prelu", {"type": "prelu", "per_channel": True,
                                               "init": 0.1}]),
    "prelu 3d flat": ("3x2x3x4", [{"type": "prelu", "per_channel": True},
                                     {"type": "conv", "filters": 2, "kernel": [2, 3, 4]},
                                     "flatten", {"type": "prelu", "per_channel": True},
                                     {"type": "linear", "units": 5}, "prelu"]),
    "layer scale and stochastic depth": ("4x5x5", [{
        "type": "residual", "name": "block",
        "layers": [{"type": "conv", "filters": 4, "kernel": 3, "padding": 1},
                   {"type": "layer_scale", "init": 0.5},
                   {"type": "stochastic_depth", "p": 0.1}]},
        {"type": "stochastic_depth", "p": 1.0, "mode": "batch"}]),
    "layer scale prelu 1d flat": ("3x7", [{"type": "layer_scale"},
                                          {"type": "prelu", "per_channel": True},
                                          "global_avgpool",
                                          {"type": "layer_scale", "init": -2.0}]),
    "parallel mul squeeze-excite": ("4x5x5", [{
        "type": "parallel", "name": "se", "merge": "mul",
        "branches": [[], [{"type": "adaptive_avgpool", "output": 1},
                          {"type": "conv", "filters": 2, "kernel": 1}, "relu",
                          {"type": "conv", "filters": 4, "kernel": 1}, "sigmoid"]],
        "after": [{"type": "batchnorm", "name": "bn"}]}]),
    "residual after and aux": ("2x6x6", [
        {"type": "residual", "name": "0",
         "layers": [{"type": "conv", "name": "conv1", "filters": 2, "kernel": 3,
                     "padding": 1}],
         "after": [{"type": "relu", "name": "relu"}]},
        {"type": "aux", "name": "AuxLogits",
         "layers": ["global_avgpool", {"type": "linear", "name": "fc", "units": 3}]},
        {"type": "conv", "filters": 1, "kernel": 3}]),
}

# channel layers and depthwise convs: ShuffleNetV2's block in 2-D, the others by rank
CASES |= {
    "shuffle block 2d": ("8x6x6", [{
        "type": "parallel",
        "branches": [[{"type": "slice", "channels": [0, 4]}],
                     [{"type": "slice", "channels": [4, 8]},
                      {"type": "conv", "filters": 4, "kernel": 3, "padding": 1,
                       "groups": "depthwise", "bias": False}]]},
        {"type": "channel_shuffle", "groups": 2}]),
    "channel shuffle 1d 3d": ("6x3x4x2", [{"type": "channel_shuffle", "groups": 3},
                                           {"type": "slice", "channels": [1, 6]}]),
    "channel shuffle 1d": ("6x5", [{"type": "channel_shuffle", "groups": 2}]),
    "slice flat": ("9", [{"type": "slice", "channels": [2, 7]},
                         {"type": "linear", "units": 3}]),
    "depthwise transpose 1d": ("3x7", [{"type": "conv_transpose", "filters": 6, "kernel": 3,
                                        "stride": 2, "groups": "depthwise"}]),
}


# The normalisation layers, every option, in 1-D, 2-D, 3-D and flat.
CASES.update({
    "layernorm 2d flat": ("3x4x5", [{"type": "layernorm", "eps": 1e-6},
                                    {"type": "layernorm", "bias": False},
                                    {"type": "layernorm", "affine": False}, "global_avgpool",
                                    {"type": "layernorm"}, {"type": "layernorm", "bias": False}]),
    "layernorm 3d": ("2x3x2x3", [{"type": "conv", "filters": 4, "kernel": 1}, "layernorm"]),
    "groupnorm by rank": ("6x5", [{"type": "groupnorm", "groups": 3},
                                  {"type": "groupnorm", "groups": 6, "affine": False,
                                   "eps": 0.001}, "flatten",
                                  {"type": "groupnorm", "groups": 5}]),
    "groupnorm 3d": ("4x2x3x2", [{"type": "groupnorm", "groups": 2}]),
    "instancenorm options": ("4x3x5", ["instancenorm", {"type": "instancenorm", "affine": True},
                                       {"type": "instancenorm", "track_running_stats": True},
                                       {"type": "instancenorm", "affine": True,
                                        "track_running_stats": True, "eps": 0.01}]),
    "instancenorm 1d": ("3x7", ["instancenorm", {"type": "upsample", "scale": 2}]),
    "instancenorm 3d": ("2x3x3x3", [{"type": "instancenorm", "affine": True}]),
})

# A graph: a skip read twice, a padded layer (its pad module is a step of its own) and a
# merge whose name torch reserves.
CASES["graph"] = ("3x9x9", [{"type": "graph", "name": "g", "nodes": [
    {"type": "conv", "name": "a", "filters": 4, "kernel": 2, "padding": [[1, 0], [0, 1]]},
    {"type": "conv", "name": "b", "filters": 3, "kernel": 3, "padding": 1, "from": ["input"]},
    {"type": "concat", "name": "forward", "from": ["a", "input", "b"]},
    {"type": "maxpool", "name": "p", "kernel": 2, "from": ["forward"]}]}])


REFUSED = {"unknown"}
"""The types export refuses (an operator convcalc does not know): tested below instead."""


def test_export_refuses_an_unknown_row() -> None:
    """A network with an ``unknown`` row is refused, naming the row, its place in the file
    and its operator: there is no module to write for it."""
    network = network_from_data({"input": [3, 8, 8], "layers": [
        {"type": "conv", "filters": 4, "kernel": 3},
        {"type": "residual", "name": "r", "layers": [
            {"type": "unknown", "name": "f1", "op": "com.acme:Frob", "output": [4, 6, 6]}]}]},
        "test.yaml").network
    with pytest.raises(LayerError) as refused:
        to_pytorch(network)
    assert refused.value.describe() == (
        "layers[1].layers[0]: layer 'r.f1': export cannot write operator com.acme:Frob: "
        "convcalc does not know what it computes (an unknown row); replace the row with the "
        "layers it stands for")


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_case_matches_report(name: str) -> None:
    """Each layer type and padding form exports to modules with convcalc's shapes and counts."""
    shape, layers = CASES[name]
    report, model, _ = generate({"input": shape, "layers": layers})
    check_against_report(report, model)


def test_cases_cover_every_layer_type() -> None:
    """The cases above use every layer type of the format, and each leaf type writes its
    own module (a ``to_pytorch`` of its own)."""
    used: set[str] = set()

    def collect(layers: list[Any]) -> None:
        for layer in layers:
            kind = layer if isinstance(layer, str) else layer["type"]
            used.add(kind)
            if isinstance(layer, dict):
                for key in ("layers", "shortcut", "after"):
                    collect(layer.get(key) or [])
                for branch in layer.get("branches", []):
                    collect(branch)

    for _, layers in CASES.values():
        collect(layers)
    assert used == set(REGISTRY) - REFUSED
    missing = sorted(name for name, cls in REGISTRY.items() if not issubclass(cls, Container)
                     and cls.to_pytorch is LayerSpec.to_pytorch)
    assert missing == []


@pytest.mark.parametrize("name", sorted(MERGES))
def test_merges_compute_their_shape_in_torch(name: str) -> None:
    """Each merge's PyTorch source, as an expression and as a forward's lines, gives the
    shape its own rule gives (3 branches), and the two forms agree."""
    merge = MERGES[name]
    shapes = [(3, 4, 4), (3, 4, 4), (3, 4, 4)]
    tensors = [torch.randn(2, *shape) for shape in shapes]
    names = [f"t{i}" for i in range(len(tensors))]
    given = dict(zip(names, tensors, strict=True))
    joined = eval(merge.torch_expression(names), {"torch": torch, **given})
    body = "".join(f"    {line}\n" for line in merge.torch_statements("outputs"))
    namespace: dict[str, Any] = {"torch": torch}
    exec(f"def forward(outputs):\n{body}", namespace)
    folded = namespace["forward"](tensors)
    assert tuple(joined.shape[1:]) == tuple(folded.shape[1:]) == merge.apply(shapes)[0]
    assert torch.equal(joined, folded)


POOL_CASES = [name for name in CASES if name.startswith(("maxpool", "avgpool"))]


@pytest.mark.parametrize("name", POOL_CASES)
def test_pool_values_match_reference(name: str) -> None:
    """Pools over explicit padding and ceil_mode compute what convcalc's reference kernels do."""
    from convcalc.reference import kernels

    shape, (layer,) = CASES[name]
    report, model, _ = generate({"input": shape, "layers": [layer]})
    spec = report.layers[0].spec
    assert isinstance(spec, MaxPool | AvgPool)
    window = spec.window(report.input_shape)
    before = [b for b, _ in window.pads]
    after = [a for _, a in window.pads]
    x = np.random.default_rng(0).standard_normal((2, *report.input_shape)).astype(np.float32)
    if isinstance(spec, MaxPool):
        expected = kernels.max_pool(x, window.kernel, window.stride, window.dilation, before,
                                    after, window.ceil_mode)
    else:
        expected = kernels.avg_pool(x, window.kernel, window.stride, before, after,
                                    window.ceil_mode, spec.count_include_pad)
    with torch.no_grad():
        actual = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_explicit_padding_is_a_named_pad_module() -> None:
    """Per-side padding becomes nn.ZeroPad2d before the conv, named <layer>_pad."""
    _, model, source = generate({"input": "3x8x7", "layers": [
        {"type": "conv", "name": "c", "filters": 2, "kernel": 3, "padding": [[0, 1], [2, 0]]}]})
    assert "('c_pad', nn.ZeroPad2d((2, 0, 0, 1)))," in source
    assert "('c', nn.Conv2d(3, 2, kernel_size=3)),  # 2x7x7" in source
    assert [name for name, _ in model.named_children()] == ["c_pad", "c"]
    assert ("# Padding that PyTorch's own layers cannot express is a <layer>_pad module just "
            "before\n# the layer: c.\n") in source


def test_max_pool_pads_with_minus_infinity() -> None:
    """A max pool's explicit padding is -inf, so a window of negatives keeps its maximum."""
    _, model, source = generate({"input": "1x1x3", "layers": [
        {"type": "maxpool", "kernel": 2, "stride": 2, "padding": "same"}]})
    assert 'nn.ConstantPad2d((0, 1, 0, 1), float("-inf"))' in source
    with torch.no_grad():
        out = model(torch.tensor([[[[-3.0, -2.0, -5.0]]]]))
    assert out.tolist() == [[[[-2.0, -5.0]]]]


def test_repeat_turns_alike_are_one_loop() -> None:
    """repeat: 4 writes turn 0 apart (3 input channels) and turns 1-3 as one loop."""
    _, model, source = generate({"input": "3x8x8", "layers": [CASES[
        "repeat with a first turn apart"][1][0]]})
    assert "for turn in range(1, 4)" in source
    assert source.count("nn.Conv2d(") == 2
    names = [name for name, _ in model.named_parameters()]
    assert names == [f"stage.{turn}.conv1.{kind}" for turn in range(4)
                     for kind in ("weight", "bias")]


def test_reserved_names_get_an_underscore() -> None:
    """Layers named as torch's own attributes (forward, float) are renamed, and say so."""
    report, model, source = generate({"input": "2x4x4", "layers": [
        {"type": "conv", "name": "forward", "filters": 2, "kernel": 1},
        {"type": "residual", "name": "float",
         "layers": [{"type": "conv", "name": "training", "filters": 2, "kernel": 1}]},
        {"type": "conv", "name": "forward_", "filters": 2, "kernel": 1}]})
    assert [name for name, _ in model.named_parameters()] == [
        "forward__.weight", "forward__.bias", "float_.training_.weight", "float_.training_.bias",
        "forward_.weight", "forward_.bias"]
    assert "# Renamed, as torch reserves the name: forward is forward__ here." in source
    assert "# Renamed, as torch reserves the name: float.training is training_ here." in source
    assert sum(p.numel() for p in model.parameters()) == report.totals.params


def test_reserved_names_cover_torch() -> None:
    """Every attribute add_module would refuse on the generated containers is renamed."""
    _, model, _ = generate({"input": "2x4x4", "layers": [
        {"type": "residual", "layers": ["relu"]},
        {"type": "parallel", "branches": [[], []]}]})
    attributes = set(dir(model)) | set(dir(nn.ModuleDict()))
    for child in model.children():
        attributes |= set(dir(child)) | set(vars(child))
    attributes = {a for a in attributes if not (a.startswith("__") and a.endswith("__"))}
    attributes -= {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    assert attributes <= TORCH_RESERVED_NAMES


# --------------------------------------------------------------------------- property

DIMS = st.integers(1, 3)


@st.composite
def windowed_networks(draw: st.DrawFn) -> dict[str, Any]:
    """Draw an input of rank 1 to 3 and one or two windowed layers with any padding form."""
    rank = draw(DIMS)
    shape = [draw(st.integers(1, 4)), *(draw(st.integers(1, 9)) for _ in range(rank))]

    def per_dim(values: st.SearchStrategy[int]) -> Any:
        return draw(st.one_of(values, st.lists(values, min_size=rank, max_size=rank)))

    def padding() -> Any:
        return draw(st.one_of(
            st.sampled_from(["same", "valid"]), st.integers(0, 2),
            st.lists(st.integers(0, 2), min_size=rank, max_size=rank),
            st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=rank,
                     max_size=rank)))

    layers: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["conv", "conv_transpose", "maxpool", "avgpool", "pad"]))
        layer: dict[str, Any] = {"type": kind}
        if kind == "pad":
            layer["padding"] = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                             min_size=rank, max_size=rank))
        elif kind == "conv_transpose":
            layer |= {"filters": draw(st.integers(1, 3)), "kernel": per_dim(st.integers(1, 4)),
                      "stride": per_dim(st.integers(1, 3)), "padding": draw(st.integers(0, 1)),
                      "dilation": per_dim(st.integers(1, 2))}
        else:
            layer |= {"kernel": per_dim(st.integers(1, 4)), "stride": per_dim(st.integers(1, 3)),
                      "padding": padding()}
            if kind == "conv":
                layer |= {"filters": draw(st.integers(1, 3)),
                          "dilation": per_dim(st.integers(1, 2))}
            else:
                layer["ceil_mode"] = draw(st.booleans())
            if kind == "maxpool":
                layer["dilation"] = per_dim(st.integers(1, 2))
            if kind == "avgpool":
                layer["count_include_pad"] = draw(st.booleans())
        layers.append(layer)
    return {"input": shape, "layers": layers}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(windowed_networks())
def test_windowed_layers_match_report(data: dict[str, Any]) -> None:
    """Random convolutions, pools and pads export to modules with convcalc's shapes."""
    try:
        report, model, _ = generate(data)
    except (LayerError, SpecError):
        assume(False)
        raise
    check_against_report(report, model)


# ------------------------------------------------------------------ normalisation


@pytest.mark.parametrize("shape", [(4, 9), (4, 3, 5), (4, 2, 3, 2)])
def test_exported_layernorm_normalises_the_channels(shape: tuple[int, ...]) -> None:
    """The exported ChannelLayerNorm equals nn.LayerNorm(C) applied with the channels last
    (ConvNeXt's LayerNorm2d), holds C + C parameters under torchvision's names, and its
    source carries eps and the affine options."""
    report, model, source = generate({"input": "x".join(map(str, shape)), "layers": [
        {"type": "layernorm", "name": "norm", "eps": 1e-6}]})
    assert "ChannelLayerNorm(4, eps=1e-06)" in source
    assert [name for name, _ in model.named_parameters()] == ["norm.weight", "norm.bias"]
    reference = nn.LayerNorm(4, eps=1e-6)
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in (*model.parameters(), *reference.parameters()):
            parameter.copy_(torch.arange(4.0) / 4 + 0.5)
        x = torch.randn(2, *shape)
        torch.testing.assert_close(model(x), reference(x.movedim(1, -1)).movedim(-1, 1))
    assert report.totals.params == 8


def test_exported_norm_sources() -> None:
    """Each norm type writes its nn module with only the options that differ from PyTorch's."""
    _, _, source = generate({"input": "8x4x4", "layers": [
        {"type": "layernorm", "affine": False}, {"type": "layernorm", "bias": False},
        {"type": "groupnorm", "groups": 4}, {"type": "groupnorm", "groups": 2, "affine": False},
        "instancenorm", {"type": "instancenorm", "affine": True, "track_running_stats": True,
                         "eps": 0.001},
        "global_avgpool", {"type": "layernorm"}]})
    for call in ("ChannelLayerNorm(8, elementwise_affine=False)",
                 "ChannelLayerNorm(8, bias=False)", "nn.GroupNorm(4, 8)",
                 "nn.GroupNorm(2, 8, affine=False)", "nn.InstanceNorm2d(8)",
                 "nn.InstanceNorm2d(8, eps=0.001, affine=True, track_running_stats=True)",
                 "nn.LayerNorm(8)"):
        assert call in source, call
    assert source.count("class ChannelLayerNorm(nn.LayerNorm):") == 1
# --------------------------------------------------------------------------- modern elementwise


def test_prelu_and_layer_scale_start_from_their_init() -> None:
    """The exported prelu and layer scale start at ``init`` and compute what the reference
    kernels do with those values; layer scale's parameter is (C, 1, 1), as torchvision's."""
    from convcalc.reference import kernels

    report, model, source = generate({"input": "3x4x5", "layers": [
        {"type": "prelu", "name": "act", "per_channel": True, "init": -0.5},
        {"type": "layer_scale", "name": "scale", "init": 0.25}]})
    assert "('act', nn.PReLU(num_parameters=3, init=-0.5))," in source
    assert "('scale', LayerScale(3, 2, init=0.25))," in source
    assert model.scale.weight.shape == (3, 1, 1)
    assert model.scale.weight.flatten().tolist() == [0.25] * 3
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5)).astype(np.float32)
    expected = kernels.layer_scale(kernels.prelu(x, np.full(3, -0.5, np.float32)),
                                   np.full(3, 0.25, np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(x)).numpy(), expected, rtol=1e-6)
    assert sum(p.numel() for p in model.parameters()) == report.totals.params == 6


def test_stochastic_depth_is_the_identity_in_eval_and_drops_while_training() -> None:
    """The exported stochastic depth is the identity in eval mode; training at p = 1 zeroes
    every row; mode batch keeps or drops the whole batch, scaled by 1/(1 − p)."""
    _, model, source = generate({"input": "2x3", "layers": [
        {"type": "stochastic_depth", "name": "drop", "p": 1.0},
        {"type": "stochastic_depth", "name": "whole", "p": 0.5, "mode": "batch"}]})
    assert "('drop', StochasticDepth(1.0))," in source
    assert "('whole', StochasticDepth(0.5, mode='batch'))," in source
    assert "torchvision" not in source.replace("torchvision's", "")
    x = torch.randn(6, 2, 3)
    with torch.no_grad():
        assert torch.equal(model(x), x)
        model.drop.train()
        assert torch.equal(model.drop(x), torch.zeros_like(x))
        model.whole.train()
        torch.manual_seed(0)
        outcomes = {round(float((model.whole(x) / x).mean()), 4) for _ in range(20)}
    assert outcomes == {0.0, 2.0}

def _random_input(report: Report) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((2, *report.input_shape)).astype(np.float32)


def _output(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(model(torch.from_numpy(x)).numpy())


@pytest.mark.parametrize("name", ["channel shuffle 1d 3d", "channel shuffle 1d"])
def test_channel_layers_compute_what_the_reference_kernels_do(name: str) -> None:
    """The exported nn.ChannelShuffle and ChannelSlice move the values as convcalc's
    reference kernels do, value for value, in 1-D and 3-D."""
    from convcalc.reference import kernels

    shape, layers = CASES[name]
    report, model, _ = generate({"input": shape, "layers": layers})
    x = _random_input(report)
    expected = kernels.channel_shuffle(x, layers[0]["groups"])
    if len(layers) > 1:
        expected = kernels.channel_slice(expected, *layers[1]["channels"])
    np.testing.assert_array_equal(_output(model, x), expected)


def test_shuffle_block_computes_what_the_reference_kernels_do() -> None:
    """ShuffleNetV2's block exported (two slices, a depthwise conv, concat, shuffle)
    computes the reference kernels' result given the same weights; the depthwise conv is
    nn.Conv2d with groups=4, its input channels."""
    from convcalc.reference import kernels

    shape, layers = CASES["shuffle block 2d"]
    report, model, source = generate({"input": shape, "layers": layers})
    assert "groups=4" in source
    x = _random_input(report)
    weight = dict(model.named_parameters())["parallel1.conv1.weight"].detach().numpy()
    convolved = kernels.conv(kernels.channel_slice(x, 4, 8), weight, None, 1, 1, 1, 1, 4)[0]
    expected = kernels.channel_shuffle(
        np.concatenate([kernels.channel_slice(x, 0, 4), convolved], axis=1), 2)
    np.testing.assert_allclose(_output(model, x), expected, rtol=1e-5, atol=1e-5)


def test_slice_of_a_flat_input_keeps_those_features() -> None:
    """slice [2, 7] of a flat 9-vector is x[:, 2:7] in the exported module too."""
    report, model, _ = generate({"input": "9", "layers": [{"type": "slice",
                                                          "channels": [2, 7]}]})
    x = _random_input(report)
    np.testing.assert_array_equal(_output(model, x), x[:, 2:7])
# ------------------------------------------------------ mul broadcasting, after and aux


def test_after_layers_are_children_of_the_block() -> None:
    """after layers are modules of the block, so their keys read as convcalc's rows
    (``0.relu``, ``se.bn.weight``), and the block runs them on the merged output."""
    report, model, _ = generate({"input": "4x5x5", "layers": [
        *CASES["parallel mul squeeze-excite"][1],
        {"type": "residual", "name": "0", "layers": ["relu"],
         "after": [{"type": "relu", "name": "relu"}]}]})
    modules = dict(model.named_modules())
    assert isinstance(modules["se.bn"], nn.BatchNorm2d)
    assert isinstance(modules["0.relu"], nn.ReLU)
    assert "se.bn.weight" in model.state_dict()
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        se = modules["se"]
        gate = torch.sigmoid(se.get_submodule("conv2")(torch.relu(
            se.get_submodule("conv1")(x.mean((2, 3), keepdim=True)))))
        merged = se.get_submodule("bn")(x * gate)
        expected = torch.relu(torch.relu(merged) + merged)
        assert torch.allclose(model(x), expected, atol=1e-6)
    check_against_report(report, model)


def test_aux_heads_are_returned_after_the_main_output() -> None:
    """A network with an aux head returns (main, head): the head's output has the aux
    row's shape, the main path goes on with the head's input, and the head's parameters
    are the model's and convcalc's."""
    report, model, source = generate({"input": "2x6x6",
                                      "layers": CASES["residual after and aux"][1]})
    with torch.no_grad():
        main, head = model(torch.zeros(3, 2, 6, 6))
    rows = {row.name: row for row in report.layers}
    assert tuple(head.shape) == (3, *rows["AuxLogits"].output_shape) == (3, 3)
    assert tuple(main.shape[1:]) == report.output_shape == (1, 4, 4)
    assert sum(p.numel() for p in model.get_submodule("AuxLogits").parameters()) == 9
    assert "AUX_OUTPUT_SHAPES = ((3,),)" in source
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    # run alone, outside the network, a head passes its input on and keeps nothing
    with torch.no_grad():
        x = torch.randn(1, 2, 6, 6)
        assert torch.equal(model.get_submodule("AuxLogits")(x), x)


def test_aux_heads_in_repeated_blocks_return_one_output_per_turn() -> None:
    """A head inside a block repeated twice runs twice: two head outputs, in order."""
    _, model, _ = generate({"input": "2x4", "layers": [{
        "type": "sequential", "name": "stage", "repeat": 2, "layers": [
            {"type": "conv", "filters": 2, "kernel": 1},
            {"type": "aux", "layers": ["global_avgpool"]}]}]})
    with torch.no_grad():
        outputs = model(torch.zeros(1, 2, 4))
    assert len(outputs) == 3 and all(tuple(o.shape) == (1, 2) for o in outputs[1:])


def test_exported_script_prints_the_aux_shapes(tmp_path: Path) -> None:
    """Run as a script, a file with aux heads prints the main and the heads' shapes."""
    network = network_from_data({"input": "2x6x6", "layers": CASES["residual after and aux"][1]},
                                "<test>").network
    script = tmp_path / "net.py"
    script.write_text(to_pytorch(network))
    printed = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             check=True).stdout
    assert "aux outputs  [(3,)] (convcalc: ((3,),))" in printed


def test_reserved_names_cover_the_aux_and_after_helpers() -> None:
    """Every attribute of the Aux, WithAux and after-taking containers is renamed too."""
    _, model, _ = generate({"input": "2x4x4", "layers": [
        {"type": "residual", "layers": ["relu"], "after": ["relu"]},
        {"type": "parallel", "merge": "mul", "branches": [[], []], "after": ["relu"]},
        {"type": "aux", "layers": ["relu"]}]})
    attributes = set(dir(model)) | set(dir(nn.ModuleDict()))
    for child in model.children():
        attributes |= set(dir(child)) | set(vars(child))
    attributes = {a for a in attributes if not (a.startswith("__") and a.endswith("__"))}
    attributes -= {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    assert attributes <= TORCH_RESERVED_NAMES
