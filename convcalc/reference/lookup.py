"""Finding a layer's or a merge's reference op by the pointer its definition names.

The op module is imported the first time a layer of its family is met, so a network
compiles only the kernels it uses.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from convcalc.layers import LayerSpec
from convcalc.layers.merges import merge_definition
from convcalc.reference.ops._op import MergeOp, Op

__all__ = ["layer_op", "merge_op", "op_at"]


@cache
def op_at(pointer: str) -> Op[..., Any] | MergeOp:
    """Return the object ``"module:name"`` names; raises LookupError if there is none."""
    module_name, _, name = pointer.partition(":")
    found = getattr(importlib.import_module(module_name), name, None)
    if not isinstance(found, Op | MergeOp):
        raise LookupError(f"{pointer} is not a reference op")
    return found


def layer_op(layer: LayerSpec) -> Op[..., Any]:
    """Return the reference op of ``layer``'s type."""
    op = op_at(type(layer).reference_op_of(layer.type))
    if not isinstance(op, Op):
        raise LookupError(f"{layer.type}: its reference op is a merge's")
    return op


def merge_op(kind: str) -> MergeOp:
    """Return the reference op of merge ``kind``; raises for an unknown merge."""
    op = op_at(merge_definition(kind).reference_op)
    if not isinstance(op, MergeOp):
        raise LookupError(f"merge {kind}: its reference op is a layer's")
    return op
