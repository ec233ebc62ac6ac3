"""The walk over an ONNX graph: constants, computed tensors, and the DAG it builds.

``Graph`` reads the nodes in the file's order. A node whose inputs are all constant is
evaluated (``values.fold``); ``Shape`` of a computed tensor is a constant too, since the
importer knows every computed tensor's shape. Every other node is handed to its
operator's rule (``model.OPERATORS``, from ``ops``, ``ops_elementwise`` and
``ops_shape``), which emits a convcalc layer or merge, folds
into the layer before it (a MatMul's bias), passes its input through (Identity), or
refuses one line naming the node and attribute. Shapes are convcalc's: each emitted
layer's output shape comes from its own class's rules, and is checked against the
file's ``value_info`` where the file states one.

A computed tensor is tracked channels first, as convcalc's shapes are; a tensor that a
Transpose moved channels last (the ConvNeXt block torch exports) keeps its channels-first
shape with ``channels_last`` set, until the Transpose back. Two other exporter idioms
pass through a reshaped *view* of a tensor, which only the next node of the idiom may
read: torch's GroupNorm below opset 18 (Reshape to N×G×(C/G·H·W), InstanceNormalization,
Reshape back) and ShuffleNet's channel shuffle (Reshape to N×G×(C/G)×H×W, Transpose of
the two channel axes, Reshape back).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from convcalc.common import shape_text
from convcalc.errors import ConvcalcError, SpecError
from convcalc.layers import REGISTRY
from convcalc.layers.merges import merge_definition
from convcalc.onnx_import.dag import INPUT, Node
from convcalc.onnx_import.names import RowNames
from convcalc.onnx_import.patterns import Op, fuse
from convcalc.onnx_import.values import FOLDABLE, Const, FoldError, fold
from convcalc.textsafe import echo

__all__ = ["Graph", "Refused", "Tensor"]

Shape = tuple[int, ...]


class Refused(Exception):
    """A node convcalc cannot represent: the message names the attribute and why."""


@dataclass(frozen=True)
class Tensor:
    """A computed tensor.

    Attributes:
        node: the DAG node that produces it, or ``"input"``.
        shape: convcalc's shape, channels first, batch not included.
        channels_last: the file holds it channels last (after a Transpose to NHWC).
        view: ``""``, or the reshaped view the file holds: ``"groups"`` (N×G×rest,
            GroupNorm's), ``"shuffle"`` (N×G×(C/G)×H×W) or ``"shuffled"`` (N×(C/G)×G×H×W).
        groups: G of a view.
    """

    node: str
    shape: Shape
    channels_last: bool = False
    view: str = ""
    groups: int = 0

    @property
    def spatial(self) -> Shape:
        """Return the spatial sizes (empty for a flat tensor)."""
        return self.shape[1:]

    def onnx_dims(self, batch: int) -> list[int]:
        """Return the tensor's dims as the file holds them, batch first."""
        channels, groups = self.shape[0], self.groups
        if self.view == "groups":
            return [batch, groups, math.prod(self.shape) // groups]
        if self.view == "shuffle":
            return [batch, groups, channels // groups, *self.shape[1:]]
        if self.view == "shuffled":
            return [batch, channels // groups, groups, *self.shape[1:]]
        if self.channels_last:
            return [batch, *self.shape[1:], self.shape[0]]
        return [batch, *self.shape]


@dataclass
class Unknown:
    """The nodes of one unsupported op type, for the one-line error or the warnings."""

    first: Op
    feeds: str
    count: int = 0
    problem: str = ""


@dataclass
class Graph:
    """The state of one import: constants, computed tensors and the DAG so far.

    Attributes:
        name: the file name that every message starts with.
        opset: the default domain's opset version.
        batch: the input's batch as the file fixes it, or None when symbolic.
        allow_unknown: unsupported ops with an output shape in the file become
            ``unknown`` rows instead of an error.
    """

    name: str
    opset: int
    batch: int | None
    allow_unknown: bool
    consts: dict[str, Const] = field(default_factory=dict)
    tensors: dict[str, Tensor] = field(default_factory=dict)
    file_dims: dict[str, list[int | None]] = field(default_factory=dict)
    consumers: dict[str, list[Op]] = field(default_factory=dict)
    graph_outputs: set[str] = field(default_factory=set)
    nodes: dict[str, Node] = field(default_factory=dict)
    unknown: dict[str, Unknown] = field(default_factory=dict)
    poisoned: set[str] = field(default_factory=set)
    pending_bias: set[str] = field(default_factory=set)
    names: RowNames = field(default_factory=RowNames)
    current: Op | None = None

    # ----------------------------------------------------------------------- messages

    def error(self, message: str, op: Op | None = None) -> SpecError:
        """Return the one-line SpecError about ``op`` (or the graph)."""
        if op is not None:
            message = f"node {echo(op.label)} ({op.op_type}): {message}"
        return SpecError(message, source=self.name)

    # ----------------------------------------------------------------------- inputs

    def data(self, op: Op, index: int = 0, *, view: bool = False) -> Tensor:
        """Return input ``index`` of ``op`` as a computed tensor, or refuse.

        A reshaped view (module doc) is refused unless ``view`` says the rule reads it.
        """
        name = op.input(index)
        if name in self.tensors:
            tensor = self.tensors[name]
            if tensor.view and not view:
                raise Refused(f"input {index + 1} ({echo(name)}) is a reshape "
                              f"({dims_text(tensor.onnx_dims(1)[1:])} per sample) that "
                              "convcalc follows only into GroupNorm's InstanceNormalization "
                              "or a channel shuffle's Transpose and Reshape back")
            return tensor
        if name in self.consts:
            raise Refused(f"input {index + 1} ({echo(name)}) is a constant where convcalc "
                          "needs the computed tensor")
        raise Refused(f"input {index + 1} ({echo(name)}) is not produced by an earlier node")

    def const(self, op: Op, index: int) -> Const | None:
        """Return input ``index`` of ``op`` as a constant, None if absent, or refuse."""
        name = op.input(index)
        if not name:
            return None
        if name in self.consts:
            return self.consts[name]
        what = "a computed tensor" if name in self.tensors else "not produced by any node"
        raise Refused(f"input {index + 1} ({echo(name)}) must be a constant, it is {what}")

    def values(self, op: Op, index: int) -> np.ndarray | None:
        """Return the values of constant input ``index``, None if absent, or refuse."""
        const = self.const(op, index)
        if const is None:
            return None
        try:
            return const.value()
        except FoldError as error:
            raise Refused(str(error)) from None

    def ints(self, op: Op, index: int) -> list[int] | None:
        """Return constant input ``index`` as a list of ints, None if absent."""
        value = self.values(op, index)
        return None if value is None else [int(v) for v in value.reshape(-1)]

    def consumer_count(self, tensor: str) -> int:
        """Return how many nodes read ``tensor`` (and 1 more if it is a graph output)."""
        return len(self.consumers.get(tensor, ())) + (tensor in self.graph_outputs)

    def used(self, tensor: str) -> bool:
        """Return whether anything reads ``tensor``."""
        return bool(tensor) and self.consumer_count(tensor) > 0

    # ----------------------------------------------------------------------- outputs

    def layer_shape(self, layer: Mapping[str, Any], shape: Shape) -> Shape:
        """Return the output shape of ``layer`` on ``shape``, by the layer class's rules."""
        cls = REGISTRY.get(str(layer["type"]))
        if cls is None:  # a type this build does not have (the `unknown` rows' own shape)
            return tuple(int(d) for d in layer.get("output", shape))
        try:
            spec = cls.model_validate(dict(layer))
        except ValidationError as error:  # a value from the file past convcalc's rules
            deepest = max(error.errors(), key=lambda e: len(e["loc"]))
            key = str(deepest["loc"][0]) if deepest["loc"] else "a value"
            raise Refused(f"convcalc's {layer['type']} cannot take {key}="
                          f"{echo(layer.get(key))}: {deepest['msg']}") from None
        return tuple(spec.apply(shape).output_shape)

    def emit(self, op: Op, layer: dict[str, Any], source: Tensor, *,
             output: str | None = None, channels_last: bool | None = None,
             view: str = "", groups: int = 0) -> Tensor:
        """Add a leaf node for ``op`` reading ``source``; return its output tensor
        (held in the file as the reshaped ``view``, if given)."""
        try:
            shape = self.layer_shape(layer, source.shape)
        except ConvcalcError as error:
            raise Refused(error.message) from None
        node = Node(self.row_name(op), (source.node,), layer=layer)
        self.nodes[node.name] = node
        cl = source.channels_last if channels_last is None else channels_last
        tensor = Tensor(node.name, shape, cl, view, groups)
        self.bind(op, output or op.outputs[0], tensor)
        return tensor

    def emit_merge(self, op: Op, kind: str, sources: Sequence[Tensor]) -> Tensor:
        """Add a merge node of ``sources``; return its output tensor."""
        layouts = {source.channels_last for source in sources}
        if len(layouts) > 1:
            raise Refused("merges a channels-last tensor with a channels-first one")
        try:
            shape, _ = merge_definition(kind).apply([source.shape for source in sources])
        except ConvcalcError as error:
            raise Refused(error.message) from None
        node = Node(self.row_name(op),
                    tuple(source.node for source in sources), merge=kind)
        self.nodes[node.name] = node
        tensor = Tensor(node.name, shape, layouts.pop())
        self.bind(op, op.outputs[0], tensor)
        return tensor

    def row_name(self, op: Op) -> str:
        """Return a new row name for ``op``, from its name in the file."""
        return self.names.unique(op.name, op.named_as or op.op_type)

    def bind(self, op: Op, output: str, tensor: Tensor) -> None:
        """Make ``output`` of ``op`` the computed ``tensor``, checked against the file."""
        self.tensors[output] = tensor
        stated = self.file_dims.get(output)
        if stated is None:
            return
        ours = tensor.onnx_dims(self.batch or 0)
        agree = len(stated) == len(ours) and all(
            mine == theirs or theirs is None or (index == 0 and self.batch is None)
            for index, (mine, theirs) in enumerate(zip(ours, stated, strict=True)))
        if not agree:
            file_text = "×".join("?" if d is None else str(d) for d in stated)
            our_text = "×".join(["N" if self.batch is None else str(ours[0])]
                                + [str(d) for d in ours[1:]])
            raise self.error(f"the file says output {echo(output)} is {file_text}, "
                             f"convcalc's rules give {our_text}", op)

    # ----------------------------------------------------------------------- the walk

    def run(self, ops: Sequence[Op], operators: Mapping[str, Callable[[Graph, Op], None]])\
            -> None:
        """Walk ``ops`` in order, building the DAG; raise SpecError at a refused node."""
        ops = self.live(fuse(ops, self.consts, self.consumers_of(ops), self.graph_outputs))
        self.consumers = self.consumers_of(ops)
        for op in ops:
            self.current = op
            if op.domain not in ("", "ai.onnx"):
                self.unsupported(op)
                continue
            inputs = [name for name in op.inputs if name]
            if any(name in self.poisoned for name in inputs):
                if op.op_type not in operators and op.op_type not in FOLDABLE:
                    self.unsupported(op)
                self.poisoned.update(op.outputs)
                continue
            try:
                if op.op_type == "Constant":
                    self.consts[op.outputs[0]] = self.constant_node(op)
                elif (op.op_type in FOLDABLE and inputs
                      and all(name in self.consts for name in inputs)):
                    self.fold(op)
                elif op.op_type in operators:
                    operators[op.op_type](self, op)
                else:
                    self.unsupported(op)
            except Refused as refused:
                raise self.error(str(refused), op) from None
            except FoldError as error:
                raise self.error(str(error), op) from None
            except (ValueError, TypeError, KeyError, IndexError, AttributeError,
                    OverflowError, ZeroDivisionError) as error:  # attributes of a form
                # the specification does not allow (a string for pads, too few values)
                detail = " ".join(str(error).split())[:100]
                raise self.error(f"cannot read its inputs or attributes ({type(error).__name__}"
                                 f"{': ' + detail if detail else ''}); is the file valid "
                                 "ONNX?", op) from None

    def live(self, ops: Sequence[Op]) -> list[Op]:
        """Return the nodes the graph output depends on: a node in a dead branch is
        neither counted nor refused."""
        needed = set(self.graph_outputs)
        kept: list[Op] = []
        for op in reversed(ops):
            if any(output in needed for output in op.outputs):
                kept.append(op)
                needed.update(name for name in op.inputs if name)
        return kept[::-1]

    def consumers_of(self, ops: Iterable[Op]) -> dict[str, list[Op]]:
        """Return, for each tensor name, the nodes that read it."""
        consumers: dict[str, list[Op]] = {}
        for op in ops:
            for name in dict.fromkeys(op.inputs):
                if name:
                    consumers.setdefault(name, []).append(op)
        return consumers

    def fold(self, op: Op) -> None:
        """Evaluate ``op`` on its constant inputs."""
        if op.op_type == "Identity":  # a deduplicated weight: no need for its values
            self.consts[op.outputs[0]] = self.consts[op.inputs[0]]
            return
        if op.op_type == "Transpose" and len(op.inputs) == 1:
            # a weight transposed in the graph (an export with constant folding off): its
            # dims are permuted now, its values only if a shape computation reads them
            source = self.consts[op.inputs[0]]
            perm = op.attrs.get("perm")
            order = (tuple(reversed(range(len(source.dims)))) if perm is None
                     else tuple(int(axis) for axis in perm))
            if sorted(order) != list(range(len(source.dims))):
                raise Refused(f"a Transpose with perm {list(order)} on a tensor of rank "
                              f"{len(source.dims)}")
            self.consts[op.outputs[0]] = Const(
                tuple(source.dims[axis] for axis in order), op.label,
                loader=lambda: np.transpose(source.value(), order),
                initializer=source.initializer)
            return
        arrays: list[np.ndarray | None] = []
        for name in op.inputs:
            arrays.append(self.consts[name].value() if name else None)
        for output, const in zip(op.outputs, fold(op.op_type, op.attrs, arrays, op.label),
                                 strict=False):
            self.consts[output] = const

    def constant_node(self, op: Op) -> Const:
        """Return the value of a Constant node."""
        for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
            if key in op.attrs:
                if isinstance(op.attrs[key], Const):  # a large tensor, loaded when needed
                    return op.attrs[key]  # type: ignore[no-any-return]  # attrs are Any
                value = np.asarray(op.attrs[key])
                if key == "value_float" or key == "value_floats":
                    value = value.astype(np.float32)
                elif key != "value":
                    value = value.astype(np.int64)
                return Const.of(value, op.label)
        raise Refused(f"a Constant with {', '.join(sorted(op.attrs)) or 'no value'}; "
                      "convcalc reads value, value_float(s) and value_int(s)")

    def unsupported(self, op: Op) -> None:
        """Count an op convcalc does not know: an error at the end, or an ``unknown`` row."""
        label = op.op_type if op.domain in ("", "ai.onnx") else f"{op.domain}.{op.op_type}"
        record = self.unknown.get(label)
        if record is None:
            record = self.unknown[label] = Unknown(op, self.feeds(op))
        record.count += 1
        sources = [self.tensors[name] for name in op.inputs if name in self.tensors]
        stated = self.file_dims.get(op.outputs[0]) if op.outputs else None
        poisoned = any(name in self.poisoned for name in op.inputs)
        problem = ""
        if len(sources) != 1:
            problem = f"reads {len(sources)} computed tensors, not one"
        elif len([o for o in op.outputs if self.used(o)]) > 1:
            problem = f"{len(op.outputs)} outputs are read, not one"
        elif stated is None or len(stated) < 2 or any(d is None for d in stated[1:]):
            problem = "no output shape in the file"
        if not self.allow_unknown or poisoned or problem:
            if self.allow_unknown and not poisoned and not record.problem:
                record.problem = problem
            self.poisoned.update(op.outputs)
            return
        assert stated is not None
        output = [int(d) for d in stated[1:] if d is not None]
        layer = {"type": "unknown", "op": op.op_type, "output": output}
        node = Node(self.row_name(op), (sources[0].node,), layer=layer)
        self.nodes[node.name] = node
        self.tensors[op.outputs[0]] = Tensor(node.name, tuple(output))

    def feeds(self, op: Op) -> str:
        """Return what the first output of ``op`` feeds: the first reader's name."""
        for output in op.outputs:
            readers = self.consumers.get(output)
            if readers:
                return f"feeds {echo(readers[0].label)}"
            if output in self.graph_outputs:
                return "feeds the graph output"
        return "feeds nothing"

    def check_unknown(self) -> dict[str, int]:
        """Raise the one-line error for unsupported ops; return the op counts imported."""
        if not self.unknown:
            return {}
        missing = {op: record for op, record in self.unknown.items() if record.problem}
        if self.allow_unknown and not missing and not any(
                name in self.poisoned for name in self.graph_outputs):
            return {op: record.count for op, record in self.unknown.items()}
        if missing and all(r.problem == "no output shape in the file" for r in missing.values()):
            raise SpecError("unsupported operators without an output shape in the file, "
                            f"which `allow_unknown` needs: {self.listed(missing, False)}",
                            source=self.name)
        if missing:
            raise SpecError("unsupported operators that `allow_unknown` cannot count: "
                            f"{self.listed(missing, True)}", source=self.name)
        raise SpecError(f"unsupported operators: {self.listed(self.unknown, False)}",
                        source=self.name)

    @staticmethod
    def listed(records: Mapping[str, Unknown], problems: bool) -> str:
        """Return the op types of ``records`` as the one-line error lists them."""
        parts = []
        for op, record in records.items():
            why = f": {record.problem}" if problems else ""
            if record.count == 1:
                parts.append(f"{op} (node {echo(record.first.label)}, {record.feeds}{why})")
            else:
                parts.append(f"{op} ({record.count} nodes, first "
                             f"{echo(record.first.label)}{why})")
        return ", ".join(parts)

    def finish(self, output: str) -> list[Node]:
        """Return the nodes that the graph output depends on, in order."""
        tensor = self.tensors.get(output)
        if tensor is None:
            what = "a constant" if output in self.consts else "not computed from the input"
            raise SpecError(f"the graph output {echo(output)} is {what}", source=self.name)
        if tensor.node == INPUT:
            raise SpecError("the graph computes nothing: its output is its input",
                            source=self.name)
        if tensor.channels_last:
            raise SpecError(f"the graph output {echo(output)} is channels last (after a "
                            "Transpose to NHWC); convcalc's output shapes are channels first",
                            source=self.name)
        live = {tensor.node}
        kept: list[Node] = []
        for node in reversed(list(self.nodes.values())):
            if node.name in live:
                kept.append(node)
                live.update(node.inputs)
        kept.reverse()
        return kept


def per_dim(values: Sequence[int]) -> int | list[int]:
    """Return one int when every dim has the same value, else the list."""
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def padding_value(before: Sequence[int], after: Sequence[int]) -> Any:
    """Return a network file's padding for per-side pads: int, per dim, or pairs."""
    if list(before) == list(after):
        return per_dim(before)
    return [[int(b), int(a)] for b, a in zip(before, after, strict=True)]


def dims_text(dims: Sequence[int]) -> str:
    """Return dims as ``64×56×56``."""
    return shape_text(tuple(int(d) for d in dims)) if dims else "a scalar"


def is_close(value: float, target: float) -> bool:
    """Return whether ``value`` is ``target`` up to float32 rounding."""
    return math.isclose(float(value), target, rel_tol=1e-5, abs_tol=1e-7)
