"""How many bytes `verify`'s arrays need at once, estimated before anything is allocated.

Two passes run one after the other, so the need is the larger of the two:

* the value pass, on real arrays: the activations alive at once (a container keeps its
  input and its finished branches until the merge), the running layer's parameters, and
  its kernel's scratch (a convolution copies its input padded and channels last, and
  its weights channels last; a transposed convolution builds its output uncropped);
* the receptive-field probe, one channel per input position ("slab"), run in chunks of
  slabs that fit the limit; its need is given per slab.

Float32 throughout. Pure: no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.dense import Flatten
from convcalc.layers.elementwise import Activation, BatchNorm, Dropout, LeakyRelu
from convcalc.reference.plan import Block, Leaf, Merge, Node, per_dim, window_options
from convcalc.results import Report

__all__ = ["ELEMENT_BYTES", "MemoryEstimate", "estimate_memory"]

ELEMENT_BYTES = 4
"""Every array verify allocates is float32."""


class MemoryEstimate(BaseModel):
    """The bytes verify's arrays need at once.

    Attributes:
        value_bytes: the value pass's peak: activations, one layer's parameters, scratch.
        parameter_bytes: the largest layer's parameters (part of ``value_bytes``).
        slab_bytes: the probe's peak for one slab (one input position along one dim).
        slabs: the most slabs one probe pass has: the input's longest spatial side.
    """

    model_config = ConfigDict(frozen=True)

    value_bytes: int
    parameter_bytes: int
    slab_bytes: int
    slabs: int

    def slabs_per_chunk(self, limit: int) -> int:
        """Return how many slabs one probe chunk takes so the probe stays within ``limit``."""
        if self.slab_bytes == 0:
            return max(self.slabs, 1)
        return max(1, min(self.slabs, limit // self.slab_bytes))

    def peak(self, limit: int) -> int:
        """Return the estimated peak of the whole run with probe chunks sized for ``limit``."""
        return max(self.value_bytes, self.slabs_per_chunk(limit) * self.slab_bytes)


# (bytes of a new output array, or None when the output is the input or a view of it;
#  scratch bytes; parameter bytes)
Cost = tuple[int | None, int, int]

_ELEMENTWISE = (Activation, LeakyRelu, BatchNorm, Dropout)


def _conv_scratch(leaf: Leaf, channels: int, batch: int) -> int:
    """Return the bytes of a convolution's padded channels-last input and its own scratch."""
    layer = leaf.layer
    dims = leaf.row.input_shape[1:]
    options = window_options(layer, dims)  # type: ignore[arg-type]
    if isinstance(layer, ConvTranspose):
        full = [
            (size - 1) * s + d * (k - 1) + 1 + extra
            for size, k, s, d, extra in zip(
                dims,
                options.kernel,
                options.stride,
                options.dilation,
                per_dim(layer.output_padding, len(dims)),
                strict=True,
            )
        ]
        return batch * channels * math.prod(full) * ELEMENT_BYTES
    padded = [
        size + before + after
        for size, before, after in zip(dims, options.pad_before, options.pad_after, strict=True)
    ]
    return 2 * batch * channels * math.prod(padded) * ELEMENT_BYTES


def _value_cost(batch: int) -> Callable[[Leaf | Merge], Cost]:
    def cost(step: Leaf | Merge) -> Cost:
        row = step.row
        out = batch * math.prod(row.output_shape) * ELEMENT_BYTES
        if isinstance(step, Merge):
            return out, 0, 0
        layer = step.layer
        parameters = (row.params + row.non_trainable_params) * ELEMENT_BYTES
        if isinstance(layer, Flatten):
            return None, 0, 0
        if isinstance(layer, Conv):
            # plus the weights' channels-last copy
            scratch = _conv_scratch(step, row.input_shape[0], batch) + parameters
            return out, scratch, parameters
        if isinstance(layer, ConvTranspose):
            return out, _conv_scratch(step, row.output_shape[0], batch), parameters
        return out, 0, parameters

    return cost


def _probe_cost(step: Leaf | Merge) -> Cost:
    """Return one slab's cost: one channel, elementwise layers pass their input on."""
    row = step.row
    if len(row.output_shape) < 2 or (isinstance(step, Leaf) and row.receptive_field is None):
        return 0, 0, 0  # positions are mixed: the probe stops here
    spatial = math.prod(row.output_shape[1:]) * ELEMENT_BYTES
    # reading the supports makes a bool array a quarter the size of the output
    reading = spatial // ELEMENT_BYTES
    if isinstance(step, Merge):
        return spatial, reading, 0
    if isinstance(step.layer, _ELEMENTWISE):
        return None, 0, 0
    if isinstance(step.layer, Conv | ConvTranspose):
        return spatial, _conv_scratch(step, 1, 1) + reading, 0
    return spatial, reading, 0


class _Peak:
    """The largest number of bytes alive at once over one pass, walked like the executor."""

    def __init__(self, cost: Callable[[Leaf | Merge], Cost]) -> None:
        self.cost = cost
        self.peak = 0

    def nodes(self, nodes: Sequence[Node], current: int, held: int, pinned: int) -> int:
        """Return the output's bytes; ``held`` is alive around, ``pinned`` is the input kept
        by the enclosing block (counted once it is no longer the current array)."""
        extra = 0
        for node in nodes:
            if isinstance(node, Block):
                out = self.block(node, current, held + extra)
            else:
                new, scratch, parameters = self.cost(node)
                self.peak = max(
                    self.peak, held + extra + current + (new or 0) + scratch + parameters
                )
                out = current if new is None else new
            current, extra = out, pinned
        return current

    def block(self, block: Block, current: int, held: int) -> int:
        outputs = 0
        for body in block.bodies:
            if body:
                outputs += self.nodes(body, current, held + outputs, current)
        if block.merge is None:
            return outputs or current
        new, scratch, _ = self.cost(block.merge)
        self.peak = max(self.peak, held + current + outputs + (new or 0) + scratch)
        return new or current


def estimate_memory(plan: Sequence[Node], report: Report) -> MemoryEstimate:
    """Return the bytes verify's passes over ``plan`` need at once (``report`` gives shapes)."""
    batch = report.batch
    # the caller keeps the network input alive for the whole pass
    inputs = batch * math.prod(report.input_shape) * ELEMENT_BYTES
    value = _Peak(_value_cost(batch))
    value.nodes(plan, inputs, 0, inputs)
    leaves = [node for node in _leaves(plan)]
    parameters = max(
        ((leaf.row.params + leaf.row.non_trainable_params) * ELEMENT_BYTES for leaf in leaves),
        default=0,
    )
    spatial = report.input_shape[1:]
    if not spatial:
        return MemoryEstimate(
            value_bytes=value.peak, parameter_bytes=parameters, slab_bytes=0, slabs=0
        )
    slab = math.prod(spatial) * ELEMENT_BYTES
    probe = _Peak(_probe_cost)
    probe.nodes(plan, slab, 0, slab)
    return MemoryEstimate(
        value_bytes=value.peak,
        parameter_bytes=parameters,
        slab_bytes=probe.peak,
        slabs=max(spatial),
    )


def _leaves(plan: Sequence[Node]) -> list[Leaf]:
    found: list[Leaf] = []
    for node in plan:
        if isinstance(node, Leaf):
            found.append(node)
        else:
            for body in node.bodies:
                found.extend(_leaves(body))
    return found
