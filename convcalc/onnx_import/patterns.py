"""ONNX nodes as plain data, and the exporters' spellings of one activation as several nodes.

Before the walk, each of these subgraphs is replaced by one node of the activation it
computes, placed where its last node was:

- GELU as torch writes ``nn.GELU()`` below opset 20: ``x·0.5·(1 + erf(x/√2))``, as
  Div(x, √2) (or Mul(x, 1/√2)) → Erf → Add 1 → two Muls by x and 0.5, in either order;
- Mish below opset 18: Softplus(x) → Tanh → Mul(x, ·);
- SiLU: Sigmoid(x) → Mul(x, ·) (torch has no SiLU op in ONNX);
- HardSwish below opset 14: HardSigmoid(x) → Mul(x, ·);
- softmax over the channels below opset 13 (whose Softmax flattens from its axis on):
  Transpose swapping the channels and the last axis → Softmax on the last → the same
  Transpose back;
- LayerNorm below opset 17 over the last axis, as torch writes ``F.layer_norm``:
  ReduceMean → Sub → Pow 2 → ReduceMean → Add eps → Sqrt → Div, then Mul by γ and Add
  β where the module has them.

A subgraph is fused only when each of its inner tensors is read by the next node of the
pattern alone (not by another node, nor a graph output), so nothing else sees the parts.
A Sigmoid gating another tensor (squeeze-and-excitation) is not SiLU: its Mul reads two
different tensors, and stays a ``mul`` merge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convcalc.onnx_import.values import Const

__all__ = ["CHANNEL_SOFTMAX", "SILU", "Op", "fuse"]

SILU = "convcalc.SiLU"
"""The op type of a fused SiLU (ONNX has no such operator; the dot keeps it apart)."""
CHANNEL_SOFTMAX = "convcalc.ChannelSoftmax"
"""The op type of a fused softmax over the channels."""


@dataclass(frozen=True)
class Op:
    """One ONNX node.

    Attributes:
        index: its position in the file's node list.
        name: its name in the file (may be empty).
        op_type: ``Conv``, ``Relu``, …
        domain: its operator set's domain (``""`` for ONNX's own).
        inputs: input tensor names (``""`` for an omitted optional input).
        outputs: output tensor names.
        attrs: its attributes as Python values (strings decoded, tensors as numpy arrays).
        named_as: for a fused node, the op type of the node whose name it took (the name
            drops that suffix, as torch's ``/act/Mul``).
    """

    index: int
    name: str
    op_type: str
    domain: str = ""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    named_as: str = ""

    @property
    def label(self) -> str:
        """Return how a message names the node: its name, or its first output's."""
        if self.name:
            return self.name
        return f"#{self.index} (output {self.outputs[0]})" if self.outputs else f"#{self.index}"

    def input(self, index: int) -> str:
        """Return input ``index``'s tensor name, or ``""`` when it is not given."""
        return self.inputs[index] if index < len(self.inputs) else ""


class _Matcher:
    """The graph's wiring, as a pattern needs it."""

    def __init__(self, ops: Sequence[Op], consts: Mapping[str, Const],
                 consumers: Mapping[str, list[Op]], graph_outputs: set[str]) -> None:
        self.producer = {output: op for op in ops for output in op.outputs}
        self.consts = consts
        self.consumers = consumers
        self.graph_outputs = graph_outputs

    def scalar(self, name: str) -> float | None:
        """Return the value of a one-element constant (initializer or Constant node)."""
        const = self.consts.get(name)
        value: Any = None
        if const is not None and const.size == 1:
            try:
                value = const.value()
            except Exception:  # external or malformed data: not a known scalar
                return None
        else:
            op = self.producer.get(name)
            if op is not None and op.op_type == "Constant":
                value = op.attrs.get("value", op.attrs.get("value_float"))
        if value is None or isinstance(value, Const):
            return None
        flat = np.asarray(value).reshape(-1)
        if flat.size != 1 or not np.issubdtype(flat.dtype, np.number):
            return None
        return float(flat[0])

    def is_const(self, name: str | None) -> bool:
        """Return whether ``name`` is an initializer or reaches one through Identity nodes
        (how torch's exporter shares a deduplicated weight) or is a Constant node's."""
        for _ in range(100):
            if name is None:
                return False
            if name in self.consts:
                return True
            op = self.producer.get(name)
            if op is None or op.op_type not in ("Identity", "Constant"):
                return False
            if op.op_type == "Constant":
                return True
            name = op.input(0)
        return False

    def only_reader(self, tensor: str) -> Op | None:
        """Return the one node that reads ``tensor``, if exactly one does and it is internal."""
        readers = self.consumers.get(tensor, [])
        if len(readers) != 1 or tensor in self.graph_outputs:
            return None
        return readers[0]

    def other(self, op: Op, tensor: str) -> str | None:
        """Return the other input of a binary ``op`` that reads ``tensor``."""
        if len(op.inputs) != 2 or tensor not in op.inputs:
            return None
        first, second = op.inputs
        return second if first == tensor else first

    def is_scalar(self, name: str | None, target: float) -> bool:
        value = self.scalar(name) if name else None
        return value is not None and math.isclose(value, target, rel_tol=1e-4)

    def gelu(self, erf: Op) -> tuple[str, list[Op]] | None:
        """Return x and the nodes of torch's erf GELU around ``erf``."""
        divide = self.producer.get(erf.input(0))
        if divide is None or self.only_reader(divide.outputs[0]) is not erf:
            return None
        if divide.op_type == "Div" and self.is_scalar(divide.input(1), math.sqrt(2)):
            x = divide.input(0)
        elif divide.op_type == "Mul":
            found = next((name for name in divide.inputs
                          if self.is_scalar(self.other(divide, name), 1 / math.sqrt(2))), None)
            if found is None:
                return None
            x = found
        else:
            return None
        plus = self.only_reader(erf.outputs[0])
        if plus is None or plus.op_type != "Add" \
                or not self.is_scalar(self.other(plus, erf.outputs[0]), 1.0):
            return None
        first = self.only_reader(plus.outputs[0])
        if first is None or first.op_type != "Mul":
            return None
        partner = self.other(first, plus.outputs[0])
        if partner == x:  # x·(1 + erf) then ·0.5
            last = self.only_reader(first.outputs[0])
            if last is None or last.op_type != "Mul" \
                    or not self.is_scalar(self.other(last, first.outputs[0]), 0.5):
                return None
            return x, [divide, erf, plus, first, last]
        if self.is_scalar(partner, 0.5):  # (1 + erf)·0.5 then ·x
            last = self.only_reader(first.outputs[0])
            if last is None or last.op_type != "Mul" or self.other(last, first.outputs[0]) != x:
                return None
            return x, [divide, erf, plus, first, last]
        half = self.producer.get(partner) if partner else None  # (x·0.5)·(1 + erf)
        if half is not None and half.op_type == "Mul" and x in half.inputs \
                and self.is_scalar(self.other(half, x), 0.5) \
                and self.only_reader(half.outputs[0]) is first:
            return x, [half, divide, erf, plus, first]
        return None

    def gated(self, gate: Op) -> tuple[str, list[Op]] | None:
        """Return x and the nodes of ``x · gate(x)`` (SiLU, HardSwish)."""
        x = gate.input(0)
        mul = self.only_reader(gate.outputs[0])
        if mul is None or mul.op_type != "Mul" or self.other(mul, gate.outputs[0]) != x:
            return None
        return x, [gate, mul]

    def last_axis_mean(self, op: Op) -> bool:
        """Return whether ``op`` is a ReduceMean over the last axis alone, keeping it."""
        axes = op.attrs.get("axes")
        if axes is None and op.input(1):
            const = self.consts.get(op.input(1))
            try:
                axes = None if const is None else list(const.value().reshape(-1))
            except Exception:  # external or malformed data: not a known axis
                return False
        return (op.op_type == "ReduceMean" and axes is not None and list(axes) == [-1]
                and op.attrs.get("keepdims", 1) == 1)

    def layer_norm(self, mean: Op) -> tuple[Op, list[Op]] | None:
        """Return the fused LayerNormalization and the nodes of torch's decomposition."""
        if not self.last_axis_mean(mean):
            return None
        x = mean.input(0)
        sub = self.only_reader(mean.outputs[0])
        if sub is None or sub.op_type != "Sub" or sub.inputs != (x, mean.outputs[0]):
            return None
        readers = self.consumers.get(sub.outputs[0], [])
        power = next((r for r in readers if r.op_type == "Pow"), None)
        divide = next((r for r in readers if r.op_type == "Div"), None)
        if len(readers) != 2 or power is None or divide is None \
                or sub.outputs[0] in self.graph_outputs \
                or not self.is_scalar(power.input(1), 2.0):
            return None
        variance = self.only_reader(power.outputs[0])
        if variance is None or not self.last_axis_mean(variance):
            return None
        plus = self.only_reader(variance.outputs[0])
        eps = self.scalar(self.other(plus, variance.outputs[0]) or "") if plus else None
        if plus is None or plus.op_type != "Add" or eps is None:
            return None
        root = self.only_reader(plus.outputs[0])
        if root is None or root.op_type != "Sqrt" or self.only_reader(root.outputs[0]) \
                is not divide or divide.inputs != (sub.outputs[0], root.outputs[0]):
            return None
        parts = [mean, sub, power, variance, plus, root, divide]
        inputs, last = [x], divide
        scale = self.only_reader(divide.outputs[0])
        gamma = self.other(scale, divide.outputs[0]) if scale is not None else None
        if scale is not None and scale.op_type == "Mul" and gamma and self.is_const(gamma):
            parts.append(scale)
            inputs.append(gamma)
            last = scale
            shift = self.only_reader(scale.outputs[0])
            beta = self.other(shift, scale.outputs[0]) if shift is not None else None
            if shift is not None and shift.op_type == "Add" and beta and self.is_const(beta):
                parts.append(shift)
                inputs.append(beta)
                last = shift
        fused = Op(last.index, last.name, "LayerNormalization", "", tuple(inputs),
                   last.outputs, {"axis": -1, "epsilon": float(str(np.float32(eps)))},
                   named_as=last.op_type)
        return fused, parts

    def channel_softmax(self, there: Op) -> tuple[str, list[Op]] | None:
        """Return x and the nodes of Transpose → Softmax(last axis) → Transpose back."""
        perm = [int(p) for p in there.attrs.get("perm", [])]
        rank = len(perm)
        if rank < 3 or perm != [0, rank - 1, *range(2, rank - 1), 1]:
            return None
        softmax = self.only_reader(there.outputs[0])
        if softmax is None or softmax.op_type != "Softmax" \
                or int(softmax.attrs.get("axis", 1)) % rank != rank - 1:
            return None
        back = self.only_reader(softmax.outputs[0])
        if back is None or back.op_type != "Transpose" \
                or [int(p) for p in back.attrs.get("perm", [])] != perm:
            return None
        return there.input(0), [there, softmax, back]

    def mish(self, softplus: Op) -> tuple[str, list[Op]] | None:
        """Return x and the nodes of ``x · tanh(softplus(x))``."""
        x = softplus.input(0)
        tanh = self.only_reader(softplus.outputs[0])
        if tanh is None or tanh.op_type != "Tanh":
            return None
        mul = self.only_reader(tanh.outputs[0])
        if mul is None or mul.op_type != "Mul" or self.other(mul, tanh.outputs[0]) != x:
            return None
        return x, [softplus, tanh, mul]


def _is_torch_hardsigmoid(op: Op) -> bool:
    return (math.isclose(float(op.attrs.get("alpha", 0.2)), 1 / 6, rel_tol=1e-4)
            and math.isclose(float(op.attrs.get("beta", 0.5)), 0.5, rel_tol=1e-4))


def fuse(ops: Sequence[Op], consts: Mapping[str, Const], consumers: Mapping[str, list[Op]],
         graph_outputs: set[str]) -> list[Op]:
    """Return ``ops`` with each multi-node activation replaced by one node (module doc)."""
    matcher = _Matcher(ops, consts, consumers, graph_outputs)
    replaced: dict[int, Op] = {}
    claimed: set[int] = set()
    for op in ops:
        match: tuple[str, list[Op]] | None = None
        fused_type = ""
        if op.op_type == "ReduceMean":
            norm = matcher.layer_norm(op)
            if norm is not None and not any(part.index in claimed for part in norm[1]):
                claimed.update(part.index for part in norm[1])
                replaced[norm[0].index] = norm[0]
            continue
        if op.op_type == "Erf":
            match, fused_type = matcher.gelu(op), "Gelu"
        elif op.op_type == "Sigmoid":
            match, fused_type = matcher.gated(op), SILU
        elif op.op_type == "HardSigmoid" and _is_torch_hardsigmoid(op):
            match, fused_type = matcher.gated(op), "HardSwish"
        elif op.op_type == "Softplus":
            match, fused_type = matcher.mish(op), "Mish"
        elif op.op_type == "Transpose":
            match, fused_type = matcher.channel_softmax(op), CHANNEL_SOFTMAX
        if match is None or any(part.index in claimed for part in match[1]):
            continue
        x, parts = match
        last = max(parts, key=lambda part: part.index)
        claimed.update(part.index for part in parts)
        replaced[last.index] = Op(last.index, last.name, fused_type, "", (x,), last.outputs,
                                  named_as=last.op_type)
    if not claimed:
        return list(ops)
    return [replaced.get(op.index, op)
            for op in ops if op.index not in claimed or op.index in replaced]
