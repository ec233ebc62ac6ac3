"""The reference ops by name, for callers that take them all from one place (tests, benchmarks).

``kernels.conv`` is the op the layer definitions point at with
``"convcalc.reference.ops.conv:conv"``: the names come from the registry's pointers, so a
new layer type or merge is here without an edit. Each op's module is imported on first
use, so importing this module compiles and loads nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__: list[str] = []  # every name is looked up by __getattr__ below


@cache
def _pointers() -> dict[str, str]:
    """Return each op's name (the part after ``:``) -> its pointer, for every type and merge."""
    from convcalc.layers import REGISTRY
    from convcalc.layers.merges import MERGES

    pointers = [cls.reference_op_of(name) for name, cls in REGISTRY.items() if not cls.container]
    pointers += [merge.reference_op for merge in MERGES.values()]
    return {pointer.rpartition(":")[2]: pointer for pointer in pointers}


def __getattr__(name: str) -> Any:
    pointer = _pointers().get(name)
    if pointer is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from convcalc.reference.lookup import op_at

    return op_at(pointer)
