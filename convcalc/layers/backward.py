"""What a layer's backward pass costs and what autograd keeps for it: the types each layer
class's ``backward`` rule returns, and the pieces the rules share.

A rule is written for one sample, as ``apply`` is, and in the same written arithmetic
(``Term``), so that ``--explain`` prints the very terms the numbers come from. It says
what PyTorch's CPU eager kernels save for the layer's backward (docs/training.md, measured
with ``torch.autograd.graph.saved_tensors_hooks``): the layer's input, its output, or a
tensor of its own (max pooling's indices, batchnorm's mean). ``convcalc.training`` walks
the plan, names each value once, and counts a value kept by two layers at the first.

A rule is asked only when the layer takes part in the backward pass: its input needs a
gradient, or it has parameters. ``input_grad`` says whether its input needs one; a rule
called with ``input_grad`` False counts the weight gradient alone.

A layer type with no parameters, whose backward does nothing elementwise and keeps
nothing (a reshape, a copy), is one line: ``def backward(...): return PASS_THROUGH``.
"""

from __future__ import annotations

from typing import NamedTuple

from convcalc.layers.base import Shape
from convcalc.layers.worked import Term, number, product

__all__ = ["INPUT", "OUTPUT", "PASS_THROUGH", "VIEW", "Backward", "Saved", "branch",
           "branch_index", "elementwise", "per_element"]

INPUT = "input"
"""``Saved.what`` of the layer's input, the very tensor the layer before gave."""
OUTPUT = "output"
"""``Saved.what`` of the layer's output, the very tensor the layer after receives."""


def branch(index: int) -> str:
    """Return ``Saved.what`` of a merge's branch ``index`` (0 first), the very tensor it gave."""
    return f"branch {index}"


def branch_index(what: str) -> int | None:
    """Return the branch a merge's ``Saved.what`` names, None for any other tensor."""
    head, _, index = what.partition(" ")
    return int(index) if head == "branch" and index.isdigit() else None


class Saved(NamedTuple):
    """One tensor autograd keeps from the forward for a layer's backward.

    Attributes:
        what: ``INPUT``, ``OUTPUT`` (tensors other layers may keep too, counted once) or
            the name of a tensor of the layer's own (``indices``, ``mask``, ``mean``, …).
        shape: its shape for one sample (the whole batch when ``batched`` is False).
        dtype: ``activation`` (the run's element type), ``int64`` or ``float32``.
        batched: whether the tensor has one such slice per sample.
    """

    what: str
    shape: Shape
    dtype: str = "activation"
    batched: bool = True


class Backward(NamedTuple):
    """A layer's backward pass for one sample, as written.

    Attributes:
        input_macs: the input gradient's multiply-accumulates (dX); None when there are
            none (no weights, or an input that needs no gradient).
        weight_macs: the weight gradient's multiply-accumulates (dW); None without weights.
        flops: the elementwise FLOPs beyond two per MAC (bias gradients, activation
            derivatives, normalisation); None when there are none.
        flops_note: what ``flops`` counts.
        saved: what autograd keeps for this layer's backward.
        view: the output is the input's storage seen anew (flatten, slice, the identity):
            a tensor saved through it is the input's.
        strided: the view is not contiguous (a slice of some of the channels, with more
            than one sample in the batch).
        needs_contiguous: the layer works on a contiguous tensor: a strided input is
            copied first (groupnorm, instancenorm, a channel shuffle that moves nothing),
            and the copy is its input for what it keeps and what its view shares.
    """

    input_macs: Term | None = None
    weight_macs: Term | None = None
    flops: Term | None = None
    flops_note: str = ""
    saved: tuple[Saved, ...] = ()
    view: bool = False
    strided: bool = False
    needs_contiguous: bool = False


PASS_THROUGH = Backward()
"""The backward of a layer that only moves values: the gradient is moved back, nothing is
kept, nothing is computed (pad, upsample's copy, channel shuffle, a merge by concat)."""

VIEW = Backward(view=True)
"""The backward of a layer whose output is its input's storage (flatten, a slice of every
channel, the identity): nothing kept or computed, and its output is its input for what later
layers keep."""


def per_element(count: int, shape: Shape) -> Term:
    """Return ``count·C·H·W``, or ``C·H·W`` for one per element."""
    elements = product(list(shape))
    return elements if count == 1 else number(count) * elements


def elementwise(shape: Shape, input_grad: bool, saved: tuple[Saved, ...], count: int = 1,
                note: str = "the derivative times the gradient, one per element"
                ) -> Backward:
    """Return the backward of a parameterless elementwise layer: ``count`` FLOPs per
    element for the input gradient, ``saved`` kept (nothing when its input needs no
    gradient: autograd records nothing then)."""
    if not input_grad:
        return PASS_THROUGH
    flops = per_element(count, shape) if count else None
    return Backward(flops=flops, flops_note=note if count else "", saved=saved)
