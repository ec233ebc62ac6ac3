"""One module per family of layer types; importing this package registers them all."""

from convcalc.layers import conv, dense, elementwise, pool, resample  # noqa: F401
from convcalc.layers.base import REGISTRY, Cost, LayerSpec, Shape, Step
from convcalc.layers.containers import Container, Parallel, Residual, Sequential

__all__ = [
    "REGISTRY",
    "Container",
    "Cost",
    "LayerSpec",
    "Parallel",
    "Residual",
    "Sequential",
    "Shape",
    "Step",
]
