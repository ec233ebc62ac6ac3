"""What changed between two networks: row by row and in total, for "what did my change cost".

Rows are matched by their full name (``layer2.0.conv1``). A name only in the first report is
removed, only in the second added; a matched row is changed when its type, shapes, counts,
memory or receptive field differ. Rows come in the second network's order, each removed
row placed after the row that preceded it in the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from convcalc.common import Frozen
from convcalc.results import SCHEMA_VERSION, DType, LayerRow, ReceptiveField, Report

__all__ = ["COMPARED", "TRAINING_QUANTITIES", "AuxTotalsChange", "NetworkDiff", "RowChange",
           "RowState", "TotalChange", "TotalsChange", "TrainingChange", "diff_reports"]

COMPARED = ("type", "input_shape", "output_shape", "params", "non_trainable_params", "macs",
            "flops", "activation_bytes", "receptive_field")
"""The fields of a row whose difference makes it changed."""

Status = Literal["added", "removed", "changed", "unchanged"]


class RowState(Frozen):
    """One side of a compared row: what the report says about it.

    Attributes:
        type: the layer type.
        depth: 0 for top-level layers, one more per container.
        container: True for a container's subtotal row.
        input_shape: the input shape, batch not included.
        output_shape: the output shape, batch not included.
        params: learnable parameters.
        non_trainable_params: stored statistics.
        macs: multiply-accumulates for the batch.
        flops: floating-point operations for the batch.
        activation_bytes: bytes of the output for the batch.
        receptive_field: the field of an output unit, None once positions are mixed.
    """

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


class RowChange(Frozen):
    """A row of either network and how it changed.

    Attributes:
        name: the full name.
        status: added, removed, changed or unchanged.
        a: the row in the first network, None when added.
        b: the row in the second network, None when removed.
        changed: the fields that differ (of COMPARED), empty unless changed.
    """

    name: str
    status: Status
    a: RowState | None
    b: RowState | None
    changed: tuple[str, ...]


class TotalChange(Frozen):
    """One total in both networks and the difference.

    Attributes:
        before: the first network's total.
        after: the second network's total.
        change: after − before.
        relative: (after − before)/before, None when before is 0.
    """

    before: int
    after: int
    change: int
    relative: float | None

    @classmethod
    def of(cls, before: int, after: int) -> TotalChange:
        """Return the change from ``before`` to ``after``."""
        return cls(before=before, after=after, change=after - before,
                   relative=(after - before) / before if before else None)


AUX_QUANTITIES = ("params", "non_trainable_params", "macs", "flops", "activation_bytes")
"""The keys of the report's ``totals.aux`` (results.AuxTotals)."""
QUANTITIES = (*AUX_QUANTITIES, "param_bytes")
"""The keys of the report's totals (results.Totals), ``aux`` aside."""


class AuxTotalsChange(Frozen):
    """The auxiliary heads' sums (``totals.aux``) in both networks: results.AuxTotals's
    keys, each a TotalChange; a network without heads counts 0 for each."""

    params: TotalChange
    non_trainable_params: TotalChange
    macs: TotalChange
    flops: TotalChange
    activation_bytes: TotalChange


TRAINING_QUANTITIES = ("peak_bytes", "param_bytes", "buffer_bytes", "grad_bytes",
                       "optimizer_bytes", "master_bytes", "saved_bytes", "transient_bytes",
                       "backward_macs", "backward_flops")
"""The counts of the report's ``totals.training`` (results.TrainingTotals) a diff compares,
the peak first."""


class TrainingChange(Frozen):
    """A training step's totals (``--training``) in both networks, each a TotalChange.

    Attributes:
        peak_bytes, param_bytes, buffer_bytes, grad_bytes, optimizer_bytes, master_bytes,
            saved_bytes, transient_bytes, backward_macs, backward_flops: each total
            before, after and the change.
    """

    peak_bytes: TotalChange
    param_bytes: TotalChange
    buffer_bytes: TotalChange
    grad_bytes: TotalChange
    optimizer_bytes: TotalChange
    master_bytes: TotalChange
    saved_bytes: TotalChange
    transient_bytes: TotalChange
    backward_macs: TotalChange
    backward_flops: TotalChange

    def items(self) -> tuple[tuple[str, TotalChange], ...]:
        """Return (key, change) for each training total, the peak first."""
        return tuple((quantity, getattr(self, quantity)) for quantity in TRAINING_QUANTITIES)


class TotalsChange(Frozen):
    """The report's totals in both networks: results.Totals's keys, each a TotalChange.

    Attributes:
        params, non_trainable_params, macs, flops, activation_bytes, param_bytes: each
            total before, after and the change.
        aux: the auxiliary heads' sums; None when neither network has an ``aux`` container.
    """

    params: TotalChange
    non_trainable_params: TotalChange
    macs: TotalChange
    flops: TotalChange
    activation_bytes: TotalChange
    param_bytes: TotalChange
    aux: AuxTotalsChange | None

    def items(self) -> tuple[tuple[str, TotalChange], ...]:
        """Return (key, change) for each total but ``aux``, in the report's order."""
        return tuple((quantity, getattr(self, quantity)) for quantity in QUANTITIES)


class NetworkDiff(Frozen):
    """Everything that differs between two reports.

    Attributes:
        a_name: the first network's name.
        b_name: the second network's name.
        batch: the batch size both were analysed for.
        dtype: the element type of the memory figures.
        input_shapes: the input shape of each network.
        output_shapes: the output shape of each network.
        receptive_fields: each network's receptive field at its last layer that has one.
        rows: every row of either network, in order, with its status.
        totals: each total in both networks and the change, keyed as the report's.
        training: the training step's totals in both networks (``--training``), else None.
        schema_version: the JSON contract's version (docs/json.md).
    """

    schema_version: Literal[1] = SCHEMA_VERSION

    a_name: str | None
    b_name: str | None
    batch: int
    dtype: DType
    input_shapes: tuple[tuple[int, ...], tuple[int, ...]]
    output_shapes: tuple[tuple[int, ...], tuple[int, ...]]
    receptive_fields: tuple[ReceptiveField | None, ReceptiveField | None]
    rows: tuple[RowChange, ...]
    totals: TotalsChange
    training: TrainingChange | None = None

    def shown(self, everything: bool = False) -> tuple[RowChange, ...]:
        """Return the rows to show: all with ``everything``, else all but the unchanged."""
        return self.rows if everything else tuple(r for r in self.rows
                                                  if r.status != "unchanged")

    def count(self, status: Status) -> int:
        """Return how many rows have ``status``."""
        return sum(1 for row in self.rows if row.status == status)


def _state(row: LayerRow) -> RowState:
    return RowState(
        type=row.type, depth=row.depth, container=row.container, input_shape=row.input_shape,
        output_shape=row.output_shape, params=row.params,
        non_trainable_params=row.non_trainable_params, macs=row.macs, flops=row.flops,
        activation_bytes=row.activation_bytes, receptive_field=row.receptive_field,
    )


def _compare(name: str, a: LayerRow | None, b: LayerRow | None) -> RowChange:
    if a is None or b is None:
        status: Status = "added" if a is None else "removed"
        return RowChange(name=name, status=status, a=_state(a) if a else None,
                         b=_state(b) if b else None, changed=())
    changed = tuple(f for f in COMPARED if getattr(a, f) != getattr(b, f))
    return RowChange(name=name, status="changed" if changed else "unchanged", a=_state(a),
                     b=_state(b), changed=changed)


def _ordered(a_rows: Sequence[LayerRow], b_rows: Sequence[LayerRow]) -> list[RowChange]:
    """Return the rows in B's order, each row only in A after its predecessor in A."""
    in_a = {row.name: row for row in a_rows}
    in_b = {row.name for row in b_rows}
    after: dict[str | None, list[LayerRow]] = {}
    anchor: str | None = None
    for row in a_rows:
        if row.name in in_b:
            anchor = row.name
        else:
            after.setdefault(anchor, []).append(row)
    changes = [_compare(row.name, row, None) for row in after.get(None, [])]
    for row in b_rows:
        changes.append(_compare(row.name, in_a.get(row.name), row))
        changes += [_compare(gone.name, gone, None) for gone in after.get(row.name, [])]
    return changes


def _last_field(report: Report) -> ReceptiveField | None:
    return next((row.receptive_field for row in reversed(report.layers)
                 if row.receptive_field is not None), None)


def diff_reports(a: Report, b: Report) -> NetworkDiff:
    """Return the row-by-row and total differences from report ``a`` to report ``b``.

    Both should be analysed with the same batch and dtype; the first one's are reported.
    """
    totals = {quantity: TotalChange.of(getattr(a.totals, quantity), getattr(b.totals, quantity))
              for quantity in QUANTITIES}
    aux = None
    if a.totals.aux is not None or b.totals.aux is not None:
        aux = AuxTotalsChange(**{
            quantity: TotalChange.of(getattr(a.totals.aux, quantity, 0),
                                     getattr(b.totals.aux, quantity, 0))
            for quantity in AUX_QUANTITIES})
    training = None
    if a.totals.training is not None and b.totals.training is not None:
        training = TrainingChange(**{
            quantity: TotalChange.of(getattr(a.totals.training, quantity),
                                     getattr(b.totals.training, quantity))
            for quantity in TRAINING_QUANTITIES})
    return NetworkDiff(
        a_name=a.name, b_name=b.name, batch=a.batch, dtype=a.dtype, training=training,
        input_shapes=(a.input_shape, b.input_shape),
        output_shapes=(a.output_shape, b.output_shape),
        receptive_fields=(_last_field(a), _last_field(b)),
        rows=tuple(_ordered(a.layers, b.layers)), totals=TotalsChange(**totals, aux=aux),
    )
