"""ONNX files written by torch's TorchScript exporter (``dynamo=False``) from the plain-torch
twins of every example network (tests/torch_models.py) and of every zoo family
(tests/torch_zoo.py), for the oracle tests of the ONNX import (tests/test_onnx_torch.py).

Three ways to export (:class:`Mode`):

- ``preserve``: the model in ``eval()``, ``training=TrainingMode.PRESERVE``: the exporter
  exports in the model's own mode and keeps every BatchNorm as a ``BatchNormalization``
  node with its running statistics (``training_mode`` 0). Constant folding stays on (the
  default): it folds the ``Transpose`` of a ``Linear``'s weight, not the BatchNorms.
- ``folded``: the exporter's default (``TrainingMode.EVAL``, constant folding on): each
  BatchNorm whose input is a conv's output is folded into that conv, which gains a bias of
  C values where it had none; a BatchNorm after anything else stays a node.
- ``training``: the model in ``train()`` and ``TrainingMode.TRAINING``: what a training
  export of Inception v3 looks like, its auxiliary head a second graph output.

The examples are exported at their own input size and a fixed batch of 1; the zoo twins at
the reduced input tests/test_zoo_torch.py uses (299x299 for Inception v3) with a symbolic
batch (``dynamic_axes``), as people export for serving. Weights are seeded, so a file is the
same from run to run. :class:`ExportCache` writes each file once per test session.

Import this module only after ``pytest.importorskip("torch")`` and ``("onnx")``.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch_models
import torch_zoo
from torch import nn

__all__ = ["EXAMPLE_TWINS", "ZOO_INPUT", "ZOO_TWINS", "ExportCache", "Mode", "Twin",
           "export", "has_batchnorm"]

ZOO_INPUT = (3, 64, 64)
"""The zoo twins' input, as tests/test_zoo_torch.py runs them (each accepts it)."""

ZOO_INPUTS = {"inception_v3": (3, 299, 299)}
"""Inputs that differ: Inception v3's auxiliary head needs 299x299."""


class Mode(enum.StrEnum):
    """How the exporter is asked to write the model (see the module docstring)."""

    PRESERVE = "preserve"
    FOLDED = "folded"
    TRAINING = "training"


class Twin:
    """A plain-torch twin of a convcalc network and the input it is exported at.

    Attributes:
        name: the example's stem or the zoo entry's name.
        build: makes the torch module.
        input_shape: (C, H, W), batch not included.
        dynamic_batch: whether the exported batch dimension is symbolic.
    """

    def __init__(self, name: str, build: Callable[[], nn.Module], input_shape: tuple[int, ...],
                 dynamic_batch: bool) -> None:
        self.name = name
        self.build = build
        self.input_shape = input_shape
        self.dynamic_batch = dynamic_batch

    def __repr__(self) -> str:
        return f"Twin({self.name!r})"


EXAMPLE_TWINS = {name: Twin(name, build, torch_models.INPUT_SHAPES[name], dynamic_batch=False)
                 for name, build in torch_models.BUILDERS.items()}
"""One twin per examples/*.yaml, keyed by its stem."""

ZOO_TWINS = {name: Twin(name, build, ZOO_INPUTS.get(name, ZOO_INPUT), dynamic_batch=True)
             for name, build in torch_zoo.BUILDERS.items()}
"""One twin per zoo family, keyed by the zoo entry it is the twin of."""


def has_batchnorm(model: nn.Module) -> bool:
    """Return whether ``model`` has a BatchNorm module (else folding has nothing to fold)."""
    return any(isinstance(module, nn.modules.batchnorm._BatchNorm) for module in model.modules())


def export(model: nn.Module, input_shape: tuple[int, ...], path: Path, mode: Mode, *,
           dynamic_batch: bool = False, constant_folding: bool = True) -> Path:
    """Write ``model`` exported to ONNX as ``path`` in ``mode``, the batch symbolic (named
    ``batch``) with ``dynamic_batch``, constants folded unless ``constant_folding`` is off
    (in training mode they never are); return ``path``. The traced input is ``1 ×
    input_shape``, or ``2 × input_shape`` in training mode (a BatchNorm in training needs
    more than one value per channel, and Inception's auxiliary head pools to 1×1)."""
    if mode is Mode.TRAINING:
        model.train()
        training = torch.onnx.TrainingMode.TRAINING
    else:
        model.eval()
        training = (torch.onnx.TrainingMode.PRESERVE if mode is Mode.PRESERVE
                    else torch.onnx.TrainingMode.EVAL)
    axes = {"input": {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings():
        # The exporter's notes on training-mode exports and on the deprecated TorchScript
        # path say nothing about the graph it writes.
        warnings.simplefilter("ignore")
        sample = torch.zeros(2 if mode is Mode.TRAINING else 1, *input_shape)
        torch.onnx.export(model, (sample,), str(path), dynamo=False,
                          input_names=["input"], dynamic_axes=axes, training=training,
                          do_constant_folding=constant_folding and mode is not Mode.TRAINING)
    return path


class ExportCache:
    """Exports twins into one directory, each (twin, mode) once.

    Attributes:
        directory: where the files go (a session's temporary directory in the tests).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._paths: dict[tuple[str, Mode], Path] = {}

    def path(self, twin: Twin, mode: Mode) -> Path:
        """Return the file of ``twin`` exported in ``mode``, exporting it on first use."""
        key = (twin.name, mode)
        if key not in self._paths:
            torch.manual_seed(0)
            model = twin.build()
            target = self.directory / f"{twin.name}-{mode}.onnx"
            self._paths[key] = export(model, twin.input_shape, target, mode,
                                      dynamic_batch=twin.dynamic_batch)
        return self._paths[key]
