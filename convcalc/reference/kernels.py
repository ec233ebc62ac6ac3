"""The reference ops by name, for callers that take them all from one place.

Each name is looked up in its family's module (`convcalc.reference.ops`) on first use,
so importing this module compiles and loads nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_FAMILIES = {
    "conv": ("conv", "conv_transpose"),
    "pool": ("adaptive_avg_pool", "adaptive_max_pool", "avg_pool", "global_avg_pool",
             "global_max_pool", "max_pool"),
    "dense": ("linear",),
    "elementwise": ("batchnorm", "gelu", "hardswish", "identity", "leaky_relu", "relu",
                    "relu6", "sigmoid", "silu", "softmax", "tanh"),
    "resample": ("pad", "upsample"),
    "merge": ("add", "concat"),
}
_MODULE_OF = {name: family for family, names in _FAMILIES.items() for name in names}

# built, not written out: every name is looked up by __getattr__ below
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    family = _MODULE_OF.get(name)
    if family is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"convcalc.reference.ops.{family}"), name)
