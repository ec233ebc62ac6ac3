"""The example networks reproduce the published numbers, and agree with torch layer by layer."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from conftest import EXAMPLES

from convcalc import analyze, load_network
from convcalc.results import Report

# torchvision's model cards (parameters; "GFLOPS", which count conv+linear MACs).
PUBLISHED = {
    "alexnet": (61_100_840, 0.71),
    "vgg16": (138_357_544, 15.47),
    "resnet18": (11_689_512, 1.81),
    "resnet50": (25_557_032, 4.09),
    "mobilenet_v2": (3_504_872, 0.30),
}


def report_of(stem: str) -> Report:
    """Return convcalc's report of examples/STEM.yaml."""
    return analyze(load_network(EXAMPLES / f"{stem}.yaml").network)


@pytest.mark.parametrize("stem", sorted(PUBLISHED))
def test_published_params_and_gmacs(stem: str) -> None:
    """Parameters equal torchvision's exactly; MACs round to its GMACs to the digits given."""
    params, gmacs = PUBLISHED[stem]
    report = report_of(stem)
    assert report.totals.params == params
    assert round(report.totals.macs / 1e9, 2) == gmacs


def test_mobilenet_v1_paper() -> None:
    """MobileNetV1 1.0-224: 4.2 M parameters (4,231,976 with BN and the classifier), 569 M
    mult-adds, as Howard et al. (2017) Table 8 gives."""
    report = report_of("mobilenet_v1")
    assert report.totals.params == 4_231_976
    assert round(report.totals.macs / 1e6) == 569


def test_lenet5_by_hand() -> None:
    """LeNet-5 (avgpool/tanh): 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706 parameters."""
    report = report_of("lenet5")
    assert report.totals.params == 156 + 2_416 + 48_120 + 10_164 + 850
    assert report.output_shape == (10,)


def test_every_example_runs_without_warnings() -> None:
    """Every example loads and analyses cleanly, with no dropped rows."""
    for path in sorted(EXAMPLES.glob("*.yaml")):
        report = analyze(load_network(path).network, strict=True)
        assert report.layers, path


def _torch_rows(stem: str) -> dict[str, dict[str, Any]]:
    """Return, per parametrized module of the example's twin, its params, shape and MACs."""
    pytest.importorskip("torch")
    import torch_models

    return torch_rows(torch_models.BUILDERS[stem](), torch_models.INPUT_SHAPES[stem])


def torch_rows(model: Any, input_shape: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """Return, per parametrized module of ``model`` run on one zero sample of
    ``input_shape``, its parameter count, output shape and MACs."""
    torch = pytest.importorskip("torch")

    model = model.eval()
    rows: dict[str, dict[str, Any]] = {}
    hooks = []
    for name, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if not own:
            continue

        def hook(module: Any, inputs: Any, output: Any, name: str = name, own: int = own) -> None:
            macs = None
            if isinstance(module, torch.nn.modules.conv._ConvNd):
                kernel = math.prod(module.kernel_size)
                if isinstance(module, torch.nn.modules.conv._ConvTransposeNd):
                    macs = inputs[0].numel() * module.out_channels // module.groups * kernel
                else:
                    macs = output.numel() * module.in_channels // module.groups * kernel
            elif isinstance(module, torch.nn.Linear):
                macs = module.in_features * module.out_features
            rows[name] = {"params": own, "shape": tuple(output.shape[1:]), "macs": macs}

        hooks.append(module.register_forward_hook(hook))
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    for handle in hooks:
        handle.remove()
    return rows



def assert_rows_match(expected_rows: dict[str, dict[str, Any]], report: Report,
                      rename: Callable[[str], str] = lambda name: name) -> None:
    """Assert each torch module's row (by its name, after ``rename``) has its params, output
    shape and MACs, and that the totals' params are the modules' sum."""
    rows = {rename(row.name): row for row in report.layers if not row.container}
    assert expected_rows, "no torch modules"
    for module, expected in expected_rows.items():
        row = rows[module]
        assert row.params == expected["params"], module
        assert row.output_shape == expected["shape"], module
        if expected["macs"] is not None:
            assert row.macs == expected["macs"], module
    assert report.totals.params == sum(r["params"] for r in expected_rows.values())

@pytest.mark.parametrize("stem", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_rows_match_torch_modules(stem: str) -> None:
    """Each parametrized torch module has a convcalc row of the same name with equal params,
    output shape and MACs."""
    assert_rows_match(_torch_rows(stem), report_of(stem))
