"""The public API: ``convcalc.__all__`` is exactly the documented list, and it all imports."""

from __future__ import annotations

import importlib
import importlib.metadata

import pytest

import convcalc
from convcalc.layers import REGISTRY

PUBLIC = [
    "LAYER_TYPES",
    "MAX_LAYERS",
    "ConvcalcError",
    "DType",
    "InputError",
    "Layer",
    "LayerError",
    "LayerRow",
    "Network",
    "NetworkFileError",
    "NetworkSource",
    "ReceptiveField",
    "Report",
    "SpecError",
    "Totals",
    "TrainingSpec",
    "VerificationFailed",
    "__version__",
    "analyze",
    "load_network",
    "parse_network",
]


def test_all_is_exactly_the_documented_list() -> None:
    """convcalc.__all__ holds exactly the documented public names, in sorted order."""
    assert convcalc.__all__ == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_imports(name: str) -> None:
    """Each public name can be imported from the package itself."""
    module = importlib.import_module("convcalc")
    assert getattr(module, name) is not None
    namespace: dict[str, object] = {}
    exec(f"from convcalc import {name}", namespace)
    assert namespace[name] is getattr(convcalc, name)


def test_star_import_gives_the_public_names() -> None:
    """``from convcalc import *`` binds exactly the public names."""
    namespace: dict[str, object] = {}
    exec("from convcalc import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(PUBLIC)


def test_version_matches_the_installed_package() -> None:
    """convcalc.__version__ is the version the package was installed with."""
    assert convcalc.__version__ == importlib.metadata.version("convcalc")


def test_errors_form_the_documented_tree() -> None:
    """The public errors subclass as errors.py draws them: InputError under ConvcalcError."""
    assert issubclass(convcalc.InputError, convcalc.ConvcalcError)
    for error in (convcalc.NetworkFileError, convcalc.SpecError, convcalc.LayerError):
        assert issubclass(error, convcalc.InputError)
    assert issubclass(convcalc.VerificationFailed, convcalc.ConvcalcError)
    assert not issubclass(convcalc.VerificationFailed, convcalc.InputError)


def test_layer_types_lists_every_type() -> None:
    """LAYER_TYPES is the sorted list of every layer type name the format accepts."""
    assert tuple(sorted(REGISTRY)) == convcalc.LAYER_TYPES
    assert {"conv", "conv_transpose", "linear", "sequential", "residual", "parallel"} <= set(
        convcalc.LAYER_TYPES)


def test_library_use_without_the_command_line() -> None:
    """The docstring's library use works: parse a network, analyze it, read the totals."""
    source = convcalc.parse_network(
        "input: 3x32x32\nlayers:\n  - {type: conv, filters: 10, kernel: 5, padding: 2}\n")
    report = convcalc.analyze(source.network)
    assert isinstance(report, convcalc.Report)
    assert report.totals.params == 760
    assert report.totals.macs == 768_000
