"""Compare convcalc's counts of ONNX files with onnx-tool's, on the same files.

This script documents how the comparison table in docs/onnx.md was made. onnx-tool is not a
dependency of convcalc; the script says so and exits 0 when it is not installed (nor torch,
which writes the files). Run from the repository root::

    pip install onnx-tool==1.0.1
    python benchmarks/compare_onnx_tool.py

The files are written by torch's TorchScript exporter (tests/onnx_exports.py) into a
temporary directory:

- a ConvTranspose 32→1, 3×3, no bias, on a 1×1 input (the case issue 11 quotes: each of the
  32 input elements meets the whole 3×3 kernel once, 288 MACs; counting by output positions
  as for a Conv gives 3·3 outputs × 1·3·3 = 81);
- ResNet-18's twin (tests/torch_models.py) with BatchNorm preserved and folded, its
  BatchNorm weights and statistics randomised as a trained model's are. A freshly built
  model's BatchNorms all hold γ = 1, β = 0, mean 0, variance 1, and the exporter stores each
  distinct tensor once, the others reading it through Identity nodes; the row "fresh
  weights" shows what that does to onnx-tool's parameter count.

onnx-tool's MACs are its ``Graph.macs`` after ``shape_infer`` and ``profile``: every node's,
bias additions, BatchNorm, ReLU, pooling and additions included; the column "Conv+Gemm"
keeps only its Conv, ConvTranspose and Gemm nodes. convcalc's MACs are weight
multiply-accumulates (conv, transposed conv, linear; docs/conventions.md), its params the
learnable ones, the BatchNorm statistics apart.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import warnings
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence onnx-tool's and the exporter's prints and warnings."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def onnx_tool_counts(path: Path) -> tuple[int, int, int]:
    """Return onnx-tool's (MACs, MACs of Conv/ConvTranspose/Gemm nodes, params) of ``path``."""
    import onnx_tool

    with quiet():
        graph = onnx_tool.Model(str(path)).graph
        graph.shape_infer()
        graph.profile()
    weighted = sum(node.macs[0] for node in graph.nodemap.values()
                   if node.op_type in WEIGHTED_OPS)
    return int(graph.macs[0]), int(weighted), int(graph.params)


def convcalc_counts(path: Path) -> tuple[int, int, int]:
    """Return convcalc's (MACs, params, non-trainable params) of ``path``, imported."""
    from convcalc import analyze
    from convcalc.loader import network_from_data
    from convcalc.onnx_import import import_onnx

    imported = import_onnx(path, name=path.name)
    report = analyze(network_from_data(imported.network, path.name).network)
    totals = report.totals
    return totals.macs, totals.params, totals.non_trainable_params


def randomise_batchnorm(model: object) -> None:
    """Give every BatchNorm of ``model`` distinct random γ, β, mean and variance."""
    import torch
    from torch import nn

    assert isinstance(model, nn.Module)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                for tensor in (module.weight, module.bias, module.running_mean):
                    tensor.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)


def files(directory: Path) -> list[tuple[str, Path]]:
    """Write the compared files into ``directory``; return them with their labels."""
    import onnx_exports
    import torch
    import torch_models
    from torch import nn

    torch.manual_seed(0)
    made = []
    transposed = directory / "conv_transpose.onnx"
    with quiet():
        onnx_exports.export(nn.ConvTranspose2d(32, 1, 3, bias=False), (32, 1, 1), transposed,
                            onnx_exports.Mode.PRESERVE)
    made.append(("ConvTranspose 32→1 3×3, no bias, 1×1 input", transposed))
    shape = torch_models.INPUT_SHAPES["resnet18"]
    for mode, label in ((onnx_exports.Mode.PRESERVE, "BatchNorm preserved"),
                        (None, "BatchNorm preserved, fresh weights"),
                        (onnx_exports.Mode.FOLDED, "BatchNorm folded (default export)")):
        torch.manual_seed(0)
        model = torch_models.resnet18()
        if mode is not None:
            randomise_batchnorm(model)
        path = directory / f"resnet18-{mode or 'fresh'}.onnx"
        with quiet():
            onnx_exports.export(model, shape, path, mode or onnx_exports.Mode.PRESERVE)
        made.append((f"ResNet-18, {label}", path))
    return made


def main() -> int:
    """Print the Markdown table of docs/onnx.md; exit 0 with a note when a tool is absent."""
    try:
        tool_version = version("onnx-tool")
        import torch  # noqa: F401  (writes the files)
    except (PackageNotFoundError, ImportError) as missing:
        print(f"skipped: {missing} (onnx-tool and torch are not dependencies of convcalc)")
        return 0
    print(f"onnx-tool {tool_version}, torch {version('torch')}, onnx {version('onnx')}")
    print()
    print("| file | onnx-tool MACs | onnx-tool Conv+Gemm MACs | convcalc MACs "
          "| onnx-tool params | convcalc params (+ BN statistics) |")
    print("|---|--:|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory(prefix="convcalc-onnx-tool-") as folder:
        for label, path in files(Path(folder)):
            tool_macs, tool_weighted, tool_params = onnx_tool_counts(path)
            macs, params, statistics = convcalc_counts(path)
            print(f"| {label} | {tool_macs:,} | {tool_weighted:,} | {macs:,} | "
                  f"{tool_params:,} | {params:,} (+ {statistics:,}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
