"""The cost of a training step: the backward pass and the memory PyTorch's autograd holds.

``training_of(plan, batch, spec)`` walks the analysis's plan tree once, in execution
order, and gives every row its ``RowTraining`` (backward MACs and FLOPs, the bytes kept
for its backward) and the network its ``TrainingTotals`` (parameters, gradients,
optimizer state, saved activations and the peak). Each layer type's rule is its class's
``backward`` (``convcalc.layers.backward``); what is left here is what they share:

* Which tensors need a gradient. The network's input does not; a layer's output does when
  its input does or it has parameters; a merge's when any branch's does. A layer whose
  input needs no gradient and that has no parameters is not recorded by autograd: no
  backward, nothing kept (so the rows before the first weighted layer cost nothing, and
  the first weighted layer computes no input gradient).
* Which tensor is which. Every value of the forward (the network's input, each layer's
  and merge's output) is named once; a view (flatten, slice, the identity, an empty
  branch) is its input's value. A value kept by two rows (a ReLU's output that the next
  conv keeps as its input) is counted once, at the first, with its storage's bytes.
* The largest transient: while a row's backward runs, its output's gradient and the
  input gradient it makes are alive together (``transient_bytes``; a view, add and
  concat make none, they hand the gradient on); the peak adds the largest.

Auxiliary heads are counted: they run while training. Pure: no torch, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from convcalc.common import Frozen, shape_text
from convcalc.errors import LayerError
from convcalc.layers.backward import INPUT, OUTPUT, Backward, Saved, branch
from convcalc.layers.base import LayerSpec, numel
from convcalc.layers.containers import GRAPH_INPUT
from convcalc.layers.merges import merge_definition
from convcalc.layers.worked import Term, equation, number, scaled
from convcalc.plan import GraphTurn, Group, Leaf, Merge, Plan, PlanNode
from convcalc.results import (
    DType,
    LayerRow,
    Optimizer,
    RowTraining,
    SavedTensor,
    TrainingTotals,
)

__all__ = ["Optimizer", "TrainingSpec", "backward_lines", "training_of"]


class TrainingSpec(Frozen):
    """What a training step is counted for.

    Attributes:
        optimizer: whose state is counted.
        dtype: the element type of parameters, gradients and activations; None: the
            analysis's ``dtype``. float16 and bfloat16 mean mixed precision: the optimizer
            state and a master copy of the weights are float32.
    """

    optimizer: Optimizer = Optimizer.sgd
    dtype: DType | None = None


_MIXED = (DType.float16, DType.bfloat16)
_DTYPE_BYTES = {"int64": 8, "float32": 4}


@dataclass(frozen=True)
class _Value:
    """One tensor of the forward: its name (for "kept by") and its storage's bytes."""

    ident: int
    nbytes: int
    grad: bool
    contiguous: bool = True


@dataclass
class _Sums:
    """Running sums over the leaf and merge rows, for the container rows' subtotals."""

    macs: int = 0
    flops: int = 0
    saved: int = 0


@dataclass
class _Walk:
    batch: int
    dtype: DType
    rows: dict[int, RowTraining] = field(default_factory=dict)
    kept: dict[int, str] = field(default_factory=dict)  # value -> the row that counts it
    sums: _Sums = field(default_factory=_Sums)
    values: int = 0
    transient: tuple[int, str | None] = (0, None)
    # Networks repeat themselves: an equal layer on an equal input gives the same rule.
    rules: dict[tuple[object, tuple[int, ...], bool], Backward] = field(default_factory=dict)

    def backward(self, layer: LayerSpec, shape: tuple[int, ...], input_grad: bool) -> Backward:
        """Return ``layer.backward(shape, input_grad)``, once per equal layer and input."""
        key = (layer, shape, input_grad)
        rule = self.rules.get(key)
        if rule is None:
            rule = self.rules[key] = layer.backward(shape, input_grad)
        return rule

    def value(self, shape: Sequence[int], grad: bool) -> _Value:
        """Return a new value of ``shape`` (one sample) in the run's element type."""
        self.values += 1
        return _Value(self.values, numel(tuple(shape)) * self.batch * self.dtype.bytes, grad)

    def nbytes(self, saved: Saved) -> int:
        element = _DTYPE_BYTES.get(saved.dtype, self.dtype.bytes)
        return numel(saved.shape) * (self.batch if saved.batched else 1) * element

    def record(self, row: LayerRow, backward: Backward, sources: dict[str, _Value],
               out: _Value, out_grad_bytes: int, in_grad_bytes: int) -> None:
        """Give ``row`` its training numbers: ``backward`` scaled by the batch, and each
        tensor kept, named by ``sources`` (``input``, ``output``, ``branch i``)."""
        batch = self.batch
        input_macs = backward.input_macs.value if backward.input_macs else 0
        weight_macs = backward.weight_macs.value if backward.weight_macs else 0
        macs = (input_macs + weight_macs) * batch
        flops = 2 * macs + (backward.flops.value * batch if backward.flops else 0)
        kept, saved_bytes = [], 0
        for saved in backward.saved:
            source = sources.get(saved.what)
            if source is None:
                self.values += 1
                ident, nbytes = self.values, self.nbytes(saved)
            else:
                ident, nbytes = source.ident, source.nbytes
            if ident not in self.kept:
                self.kept[ident] = row.name
                saved_bytes += nbytes
            dtype = saved.dtype if saved.dtype in _DTYPE_BYTES else self.dtype.value
            kept.append(SavedTensor.model_construct(
                what=saved.what, shape=saved.shape, dtype=dtype, batched=saved.batched,
                nbytes=nbytes, counted_at=self.kept[ident]))
        self.rows[id(row)] = RowTraining.model_construct(
            backward_macs=macs, backward_flops=flops, saved_bytes=saved_bytes,
            saved=tuple(kept), backward=backward, batch=batch)
        self.sums.macs += macs
        self.sums.flops += flops
        self.sums.saved += saved_bytes
        if out.grad and out_grad_bytes + in_grad_bytes > self.transient[0]:
            self.transient = (out_grad_bytes + in_grad_bytes, row.name)

    def nothing(self, row: LayerRow) -> None:
        self.rows[id(row)] = RowTraining.model_construct(backward_macs=0, backward_flops=0,
                                                         saved_bytes=0, batch=self.batch)

    # ------------------------------------------------------------------ the tree

    def nodes(self, nodes: Sequence[PlanNode], value: _Value) -> _Value:
        for node in nodes:
            value = self.leaf(node, value) if isinstance(node, Leaf) else self.group(node, value)
        return value

    def leaf(self, leaf: Leaf, value: _Value) -> _Value:
        row = leaf.row
        backward = self.backward(leaf.layer, row.input_shape, value.grad)
        takes_part = value.grad or row.params > 0
        if backward.needs_contiguous and not value.contiguous:
            value = self.value(row.input_shape, value.grad)  # the layer's contiguous copy
        if backward.view:
            strided = backward.strided and self.batch > 1
            out = _Value(value.ident, value.nbytes, takes_part,
                         value.contiguous and not strided)
        else:
            out = self.value(row.output_shape, takes_part)
        if not takes_part:
            self.nothing(row)
            return out
        element = self.batch * self.dtype.bytes
        # a view's input gradient is a view of its output's
        made = value.grad and not backward.view
        self.record(row, backward, {INPUT: value, OUTPUT: out}, out,
                    numel(row.output_shape) * element,
                    numel(row.input_shape) * element if made else 0)
        return out

    def merge(self, merge: Merge, inputs: Sequence[_Value]) -> _Value:
        row = merge.row
        grads = [value.grad for value in inputs]
        out = self.value(row.output_shape, any(grads))
        if not any(grads):
            self.nothing(row)
            return out
        backward = merge_definition(merge.kind).backward(row.branch_shapes, grads)
        sources = {branch(i): value for i, value in enumerate(inputs)}
        element = self.batch * self.dtype.bytes
        # add hands its gradient to every branch as it is, concat as views of it: only a
        # product makes a new gradient per branch
        made = sum(numel(shape) * element for shape, grad
                   in zip(row.branch_shapes, grads, strict=True) if grad) if backward.flops else 0
        self.record(row, backward, sources, out, numel(row.output_shape) * element, made)
        return out

    def group(self, group: Group, value: _Value) -> _Value:
        start = (self.sums.macs, self.sums.flops, self.sums.saved)
        given = value
        for turn in group.turns:
            turn_start = (self.sums.macs, self.sums.flops, self.sums.saved)
            if isinstance(turn, GraphTurn):
                env = {GRAPH_INPUT: value}
                for step in turn.steps:
                    if isinstance(step.node, Merge):
                        env[step.name] = self.merge(step.node, [env[r] for r in step.reads])
                    else:
                        env[step.name] = self.nodes((step.node,), env[step.reads[0]])
                out = env[turn.output]
            else:
                outputs = [self.nodes(body, value) for body in turn.bodies]
                out = outputs[0] if turn.merge is None else self.merge(turn.merge, outputs)
                out = self.nodes(turn.after, out)
            if turn.row is not None:
                self.subtotal(turn.row, turn_start)
            value = out
        self.subtotal(group.row, start)
        return given if group.layer.aux else value

    def subtotal(self, row: LayerRow, start: tuple[int, int, int]) -> None:
        macs, flops, saved = start
        self.rows[id(row)] = RowTraining.model_construct(
            backward_macs=self.sums.macs - macs, backward_flops=self.sums.flops - flops,
            saved_bytes=self.sums.saved - saved, batch=self.batch)


def backward_lines(training: RowTraining, name: str) -> list[str]:
    """Return the worked backward formulas of the row called ``name`` and what it keeps,
    batch included (``--explain``); none for a row that takes no part in the backward."""
    backward: Backward | None = training.backward
    if backward is None:
        return []
    batch, kept = training.batch, training.saved
    macs = training.backward_macs
    elementwise = training.backward_flops - 2 * macs
    flops = training.backward_flops
    note = f"batch {batch}" if batch > 1 else ""

    def scale(term: Term) -> Term:
        return scaled(batch, term) if batch > 1 else term

    lines = []
    if backward.weight_macs is not None:
        if backward.input_macs is None:
            lines.append("dX: none (the input needs no gradient)")
        else:
            lines.append(equation("dX MACs", scale(backward.input_macs), note))
        lines.append(equation("dW MACs", scale(backward.weight_macs), note))
    total = number(2) * Term(f"{macs:,}", macs) if macs else None
    if backward.flops is not None:
        extra = scale(backward.flops)
        what = "; ".join(n for n in (backward.flops_note, note) if n)
        if total is None:
            lines.append(equation("backward FLOPs", extra, what))
        else:
            lines.append(equation("backward FLOPs", total + Term(f"{elementwise:,}",
                                                                 elementwise),
                                  f"2 per MAC; {backward.flops_note}"))
    elif total is not None:
        lines.append(equation("backward FLOPs", total, "2 per MAC"))
    for tensor in kept:
        samples = f", {batch} samples" if tensor.batched and batch > 1 else ""
        where = "" if tensor.counted_at == name else f", kept already by {tensor.counted_at}"
        lines.append(f"saved: {tensor.what} {shape_text(tensor.shape)} {tensor.dtype}"
                     f"{samples} = {tensor.nbytes:,} bytes{where}")
    if not kept and flops:
        lines.append("saved: nothing")
    return lines


def training_of(plan: Plan, rows: Sequence[LayerRow], batch: int, spec: TrainingSpec,
                dtype: DType) -> tuple[dict[int, RowTraining], TrainingTotals]:
    """Return each row's training numbers (keyed by ``id`` of the row) and the totals.

    ``plan`` is the analysis's tree, ``rows`` the report's rows; ``dtype`` is used where
    ``spec.dtype`` is None. Raises LayerError for an integer dtype.
    """
    dtype = spec.dtype or dtype
    if dtype is DType.int8:
        raise LayerError("training needs a floating-point dtype (float32, float16, bfloat16 "
                         "or float64), got int8", field_name="dtype")
    walk = _Walk(batch, dtype)
    walk.nodes(plan.nodes, walk.value(tuple(plan.network.input), False))
    leaves = [row for row in rows if not row.container]
    params = sum(row.params for row in leaves)
    statistics = sum(row.non_trainable_params for row in leaves)
    counters = sum(1 for row in leaves if row.type == "batchnorm" or
                   (row.type == "instancenorm" and row.non_trainable_params))
    state_bytes = 8 if dtype is DType.float64 else 4
    param_bytes = params * dtype.bytes
    buffer_bytes = statistics * dtype.bytes + 8 * counters
    optimizer_bytes = spec.optimizer.state_copies * params * state_bytes
    master_bytes = params * 4 if dtype in _MIXED else 0
    saved = walk.sums.saved
    transient, transient_layer = walk.transient
    totals = TrainingTotals(
        optimizer=spec.optimizer, dtype=dtype, backward_macs=walk.sums.macs,
        backward_flops=walk.sums.flops, saved_bytes=saved, param_bytes=param_bytes,
        buffer_bytes=buffer_bytes, grad_bytes=param_bytes, optimizer_bytes=optimizer_bytes,
        master_bytes=master_bytes, transient_bytes=transient, transient_layer=transient_layer,
        peak_bytes=(param_bytes + buffer_bytes + param_bytes + optimizer_bytes + master_bytes
                    + saved + transient),
    )
    return walk.rows, totals
