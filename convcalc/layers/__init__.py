"""One module per family of layer types; importing this package registers them all.

``Layer``, the union of every layer type, is defined with the containers, which import
every family module.
"""

from convcalc.layers.base import REGISTRY, Cost, LayerSpec, Shape, Step
from convcalc.layers.containers import (
    LAYER_CLASSES,
    Container,
    Layer,
    Parallel,
    Residual,
    Sequential,
)

__all__ = [
    "LAYER_CLASSES",
    "REGISTRY",
    "Container",
    "Cost",
    "Layer",
    "LayerSpec",
    "Parallel",
    "Residual",
    "Sequential",
    "Shape",
    "Step",
]
