"""convcalc: exact shapes, parameters, MACs, FLOPs, memory and receptive fields of CNNs.

The library is usable without the command line::

    from convcalc import analyze, parse_network
    report = analyze(parse_network(open("examples/resnet18.yaml").read()).network)
    report.totals.macs
"""

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
    "VerificationFailed",
    "__version__",
    "analyze",
    "load_network",
    "parse_network",
]
