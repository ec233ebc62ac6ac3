"""What convcalc computed: frozen result models. Their JSON is the documented contract.

``Report.model_dump_json()`` is what ``--format json`` prints (docs/json.md). Fields marked
``exclude=True`` are for the renderers and the explanation, not part of the contract; nor is
``Report.plan``, the analysis's plan tree (a private attribute, outside the model's fields).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr

from convcalc.common import Frozen

if TYPE_CHECKING:  # convcalc.plan annotates with the rows defined here
    from convcalc.layers import LayerSpec
    from convcalc.plan import Plan

    LayerOfRow = LayerSpec | None
else:
    # A row's layer is set by the analysis, never read from input, and left out of the
    # JSON; typed as the layer base class only for mypy, so that importing the results
    # (DType, for the command lines' --dtype) does not import the whole layer library.
    LayerOfRow = Any

__all__ = ["AuxTotals", "DType", "LayerRow", "LayerWarning", "ReceptiveField", "Report",
           "Totals"]

SCHEMA_VERSION: Literal[1] = 1


class DType(StrEnum):
    """The element type used for the memory columns."""

    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"
    float64 = "float64"
    int8 = "int8"

    @property
    def bytes(self) -> int:
        """Return the size of one element in bytes."""
        return {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}[self.value]


class ReceptiveField(Frozen):
    """The receptive field of one layer's output units, one entry per spatial dim.

    Attributes:
        size: the most network-input positions any unit sees, first to last.
        stride: input positions between neighbouring units (a fraction after upsampling).
        padding: how far before input position 0 the field of unit 0 starts.
    """

    size: tuple[int, ...]
    stride: tuple[int | float, ...]
    padding: tuple[int, ...]


class LayerRow(Frozen):
    """One row of the report: a layer, a merge, or a container's subtotal.

    Attributes:
        name: the full name, nested names joined by dots.
        type: the layer type (``add``/``concat`` for a merge row).
        depth: 0 for top-level layers, one more per container.
        container: True for a container's subtotal row (after its children).
        input_shape: the input shape, batch not included.
        output_shape: the output shape, batch not included.
        params: learnable parameters (a container: its subtree's).
        non_trainable_params: stored statistics (BatchNorm running mean and variance).
        macs: weight multiply-accumulates for the whole batch.
        flops: floating-point operations for the whole batch.
        activation_bytes: bytes of this layer's output for the whole batch.
        receptive_field: the field of an output unit, or None once positions are mixed.
            After a ``mul`` that broadcast a branch along a spatial dim, the local field:
            the union over the branches not broadcast along each dim.
        aux: True for the rows of an auxiliary head (an ``aux`` container and everything
            in it): counted in the parameters, not in the totals' MACs, FLOPs or memory.
        global_context: True when this row's output depends on the output of a ``mul``
            merge that broadcast a branch along a spatial dim (that merge's row included;
            a container's row: its output's). Such an output also depends on every input
            position through the broadcast (pooled) scale, beyond ``receptive_field``.
        unknown: True for an ``unknown`` row (an operator convcalc does not know, counted
            as zero), and for a container's row when a row under it is one: its counts
            are then lower bounds.
        fields_in, fields_out: the receptive-field walk's state before and after this row
            (per-dim ``AxisField`` tuples, or ``"global"``/``"untracked"``), for the
            explanation; not in the JSON.
        branch_shapes: a merge row's branch outputs, for the explanation; not in the JSON.
    """

    name: str
    type: str
    depth: int
    container: bool
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    non_trainable_params: int
    macs: int
    flops: int
    activation_bytes: int
    receptive_field: ReceptiveField | None
    aux: bool = False
    global_context: bool = False
    unknown: bool = False
    bias_params: int = Field(0, exclude=True)
    location: tuple[str | int, ...] = Field((), exclude=True)
    spec: LayerOfRow = Field(None, exclude=True)
    fields_in: Any = Field(None, exclude=True)
    fields_out: Any = Field(None, exclude=True)
    branch_shapes: tuple[tuple[int, ...], ...] = Field((), exclude=True)


class AuxTotals(Frozen):
    """Sums over the rows of the auxiliary heads (``aux: true``) that are not containers.

    Attributes:
        params: learnable parameters (also in ``Totals.params``).
        non_trainable_params: stored statistics (also in ``Totals.non_trainable_params``).
        macs: multiply-accumulates for the batch (not in ``Totals.macs``).
        flops: floating-point operations for the batch (not in ``Totals.flops``).
        activation_bytes: bytes of the heads' outputs for the batch (not in
            ``Totals.activation_bytes``).
    """

    params: int
    non_trainable_params: int
    macs: int
    flops: int
    activation_bytes: int


class Totals(Frozen):
    """Sums over the rows that are not containers, as torchvision counts: parameters over
    every such row, MACs, FLOPs and activation memory over those not in an auxiliary head
    (frameworks run auxiliary heads in training only).

    Attributes:
        params: learnable parameters.
        non_trainable_params: stored statistics.
        macs: multiply-accumulates for the batch.
        flops: floating-point operations for the batch.
        activation_bytes: bytes of every layer output for the batch.
        param_bytes: bytes of all parameters, trainable or not.
        aux: the auxiliary heads' own sums; None when the network has none.
        lower_bound: True when a row is ``unknown``: what it counts is not known and is
            counted as 0, so every total is a lower bound.
    """

    params: int
    non_trainable_params: int
    macs: int
    flops: int
    activation_bytes: int
    param_bytes: int
    aux: AuxTotals | None = None
    lower_bound: bool = False


class LayerWarning(Frozen):
    """Something the user should know that is not an error.

    Attributes:
        layer: the layer's full name, when it concerns one.
        message: what happened, with the numbers.
    """

    layer: str | None
    message: str


class Report(Frozen):
    """Everything convcalc computed for one network.

    Attributes:
        schema_version: the JSON contract's version.
        name: the network's name.
        input_shape: the input shape, batch not included.
        output_shape: the final output shape.
        batch: the batch size MACs, FLOPs and activation memory are for.
        dtype: the element type of the memory columns.
        layers: the rows, in execution order; containers after their children.
        totals: sums over the non-container rows.
        warnings: rows dropped by non-whole divisions and the like.
        plan: the plan tree the analysis built with these rows; not in the JSON.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str | None
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    batch: int
    dtype: DType
    layers: tuple[LayerRow, ...]
    totals: Totals
    warnings: tuple[LayerWarning, ...]
    _plan: Plan | None = PrivateAttr(None)  # set by convcalc.analysis.analyze alone

    def folded(self, depth: int | None) -> Report:
        """Return the report with the rows deeper than ``depth`` folded away (``--depth``):
        a container at ``depth`` keeps its subtotal row, which stands for its subtree; the
        totals stay. ``None`` returns the report itself."""
        if depth is None:
            return self
        folded = self.model_copy(update={"layers": tuple(row for row in self.layers
                                                        if row.depth <= depth)})
        folded._plan = self._plan
        return folded

    @property
    def plan(self) -> Plan | None:
        """Return the plan tree ``analyze`` built with these rows; None for a report made
        otherwise (read from JSON, say). A copy keeps its original's plan, and its rows
        may since differ: ``convcalc.reference.plan.build_plan`` pairs them again."""
        return self._plan
