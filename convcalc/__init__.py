"""convcalc: exact shapes, parameters, MACs, FLOPs, memory and receptive fields of CNNs.

The library is usable without the command line::

    from convcalc import analyze, parse_network
    report = analyze(parse_network(open("examples/resnet18.yaml").read()).network)
    report.totals.macs
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convcalc.analysis import MAX_LAYERS, analyze
    from convcalc.errors import (
        ConvcalcError,
        InputError,
        LayerError,
        NetworkFileError,
        SpecError,
        VerificationFailed,
    )
    from convcalc.loader import NetworkSource, load_network, parse_network
    from convcalc.results import DType, LayerRow, ReceptiveField, Report, Totals
    from convcalc.spec import LAYER_TYPES, Layer, Network
    from convcalc.training import TrainingSpec

# Where each public name lives: importing ``convcalc`` (as ``convcalc --help`` does) loads
# none of them until one is used, so the command line starts without the whole core.
_HOME = {
    "MAX_LAYERS": "analysis", "analyze": "analysis",
    "ConvcalcError": "errors", "InputError": "errors", "LayerError": "errors",
    "NetworkFileError": "errors", "SpecError": "errors", "VerificationFailed": "errors",
    "NetworkSource": "loader", "load_network": "loader", "parse_network": "loader",
    "DType": "results", "LayerRow": "results", "ReceptiveField": "results",
    "Report": "results", "Totals": "results",
    "LAYER_TYPES": "spec", "Layer": "spec", "Network": "spec",
    "TrainingSpec": "training",
}


def __getattr__(name: str) -> Any:
    """Return a public name, importing its module on first use (PEP 562)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'convcalc' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"convcalc.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


__version__ = "0.1.0"

__all__ = [
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
