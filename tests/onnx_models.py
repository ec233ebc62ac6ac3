"""ONNX files written by torch's exporter from the plain-torch twins (tests/torch_models.py),
for the tests of the ONNX import and for examples/lenet5.onnx.

``python tests/onnx_models.py`` writes examples/lenet5.onnx again: LeNet-5's twin with
seeded weights, exported by the TorchScript exporter (``dynamo=False``) at a batch of 1,
BatchNorm and every other node kept as they are (``TrainingMode.PRESERVE``).

Import this module only after ``pytest.importorskip("torch")`` and ``("onnx")``.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
import torch_models
from torch import nn

__all__ = ["EXAMPLE", "export_bytes", "write_example"]

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lenet5.onnx"
"""The committed model the README's transcript imports."""


def export_bytes(model: nn.Module, shape: tuple[int, ...], *, batch: int = 1,
                 dynamic_batch: bool = False, preserve: bool = True) -> bytes:
    """Return ``model`` exported to ONNX by torch at an input of ``batch × shape``
    (the batch symbolic with ``dynamic_batch``), its nodes kept as they are with
    ``preserve`` (BatchNorm a node of its own) or folded as the exporter does by default."""
    model.eval()
    buffer = io.BytesIO()
    torch.onnx.export(
        model, (torch.zeros(batch, *shape),), buffer, dynamo=False, input_names=["input"],
        output_names=["output"], opset_version=17,
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None,
        training=torch.onnx.TrainingMode.PRESERVE if preserve else torch.onnx.TrainingMode.EVAL,
        do_constant_folding=not preserve)
    return buffer.getvalue()


def write_example(path: Path = EXAMPLE) -> int:
    """Write LeNet-5's twin, weights seeded, as ``path``; return its size in bytes."""
    torch.manual_seed(0)
    data = export_bytes(torch_models.lenet5(), torch_models.INPUT_SHAPES["lenet5"])
    path.write_bytes(data)
    return len(data)


if __name__ == "__main__":
    print(f"wrote {EXAMPLE} ({write_example():,} bytes)")
