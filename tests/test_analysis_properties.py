"""Properties of the analysis walk over random nested networks: the rows add up.

Hypothesis draws valid networks (same-padded convs and size-keeping layers, so every
merge fits) nested in sequential, residual and parallel containers with repeats, some
layers named by hand. Whatever the network, the report must list its rows in execution
order with each container after its children, container rows must be the sums of the
leaf rows beneath them, totals the sums over non-container rows, and names unique.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc import DType, LayerRow, Report, analyze
from convcalc.loader import network_from_data

COUNTED = ("params", "non_trainable_params", "macs", "flops", "activation_bytes")
NAMES = ["a", "b", "conv1", "relu1", "add", "concat", "block", "x_1"]
"""Hand-given names, some of them what convcalc would generate or call a merge."""


class Draw:
    """Draws layers that keep the spatial size, tracking the channels for the merges."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw

    def int(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def choice(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def leaf(self, channels: int) -> tuple[Any, int]:
        kind = self.choice(["conv", "relu", "batchnorm", "maxpool", "dropout", "gelu"])
        if kind == "conv":
            filters = self.int(1, 6)
            return {"type": "conv", "filters": filters, "kernel": self.int(1, 3),
                    "padding": "same", "bias": self.choice([True, False])}, filters
        if kind == "maxpool":
            return {"type": "maxpool", "kernel": 3, "stride": 1, "padding": 1}, channels
        return kind, channels

    def body(self, channels: int, depth: int) -> tuple[list[Any], int]:
        layers = []
        for _ in range(self.int(0, 3)):
            if depth < 3 and self.int(0, 2) == 0:
                layer, channels = self.container(channels, depth + 1)
            else:
                layer, channels = self.leaf(channels)
            layers.append(layer)
        return layers, channels

    def to_channels(self, layers: list[Any], channels: int, wanted: int) -> list[Any]:
        if channels == wanted:
            return layers
        return [*layers, {"type": "conv", "filters": wanted, "kernel": 1}]

    def container(self, channels: int, depth: int) -> tuple[dict[str, Any], int]:
        kind = self.choice(["sequential", "residual", "parallel"])
        repeat = self.choice([1, 1, 2, 3])
        if kind == "sequential":
            layers, out = self.body(channels, depth)
            spec: dict[str, Any] = {"type": kind, "layers": layers or ["identity"]}
            if repeat > 1 and out != channels:  # a second turn would start elsewhere
                spec["layers"] = self.to_channels(spec["layers"], out, channels)
            elif repeat == 1:
                channels = out
        elif kind == "residual":
            layers, out = self.body(channels, depth)
            spec = {"type": kind, "layers": self.to_channels(layers, out, channels)}
            if self.choice([True, False]):
                shortcut, out = self.body(channels, depth)
                spec["shortcut"] = self.to_channels(shortcut, out, channels)
        else:
            merge = self.choice(["add", "concat"])
            branches, outs = [], []
            for _ in range(self.int(1, 3)):
                branch, out = self.body(channels, depth)
                if merge == "add" or repeat > 1:
                    branch, out = self.to_channels(branch, out, channels), channels
                branches.append(branch)
                outs.append(out)
            spec = {"type": kind, "merge": merge, "branches": branches}
            if merge == "concat" and repeat > 1 and sum(outs) != channels:
                # a second turn must start where the first did: concat, then back
                spec = {"type": "sequential", "layers": [spec, {"type": "conv",
                                                                "filters": channels,
                                                                "kernel": 1}]}
            elif merge == "concat":
                channels = sum(outs)
        if repeat > 1:
            spec["repeat"] = repeat
        return spec, channels

    def name(self, siblings: list[list[Any]]) -> None:
        """Give some layers of ``siblings`` (the bodies of one container, or the network's
        list) distinct hand-picked names, then do the same inside every container."""
        free = list(NAMES)
        for body in siblings:
            for index, layer in enumerate(body):
                if free and self.int(0, 3) == 0:
                    chosen = self.choice(free)
                    free.remove(chosen)
                    body[index] = {"type": layer} if isinstance(layer, str) else layer
                    body[index]["name"] = chosen
        for body in siblings:
            for layer in body:
                if isinstance(layer, dict) and layer["type"] in CONTAINERS:
                    self.name(_bodies(layer))


CONTAINERS = ("sequential", "residual", "parallel")


def _bodies(spec: dict[str, Any]) -> list[list[Any]]:
    """Return a container's bodies, the lists themselves (so they can be edited)."""
    if spec["type"] == "residual":
        return [spec["layers"], spec.get("shortcut") or []]
    if spec["type"] == "parallel":
        return list(spec["branches"])
    return [spec["layers"]]


@st.composite
def nested_networks(draw: Any) -> dict[str, Any]:
    """Return a valid network with nested, repeated containers, as plain data."""
    gen = Draw(draw)
    rank = gen.int(1, 3)
    channels = gen.int(1, 4)
    layers = []
    current = channels
    for _ in range(gen.int(1, 4)):
        layer, current = gen.container(current, 0) if gen.int(0, 1) else gen.leaf(current)
        layers.append(layer)
    gen.name([layers])
    if gen.int(0, 2) == 0:
        layers += ["global_avgpool", {"type": "linear", "units": gen.int(1, 5)}]
    return {"input": [channels, *(gen.int(2, 6) for _ in range(rank))], "layers": layers}


def expected_rows(layers: list[Any], depth: int = 0) -> list[tuple[str, bool, int]]:
    """Return (type, container, depth) per row in execution order, containers after
    their children, each repeat turn as its own container row."""
    rows: list[tuple[str, bool, int]] = []
    for layer in layers:
        kind = layer if isinstance(layer, str) else layer["type"]
        if kind not in CONTAINERS:
            rows.append((kind, False, depth))
            continue
        repeat = layer.get("repeat", 1)
        inner = depth + 1 if repeat == 1 else depth + 2
        turn: list[tuple[str, bool, int]] = []
        for body in _bodies(layer):
            turn += expected_rows(body, inner)
        if kind != "sequential":
            turn.append(("add" if kind == "residual" else layer["merge"], False, inner))
        if repeat == 1:
            rows += turn
        else:
            for _ in range(repeat):
                rows += [*turn, (kind, True, depth + 1)]
        rows.append((kind, True, depth))
    return rows


def leaf_sums(rows: list[LayerRow]) -> tuple[int, ...]:
    leaves = [row for row in rows if not row.container]
    return tuple(sum(getattr(row, field) for row in leaves) for field in COUNTED)


def subtree(report: Report, index: int) -> list[LayerRow]:
    """Return the rows under the container row at ``index``: the block just before it."""
    prefix = report.layers[index].name + "."
    start = index
    while start > 0 and report.layers[start - 1].name.startswith(prefix):
        start -= 1
    return list(report.layers[start:index])


PROPERTIES = settings(max_examples=200, deadline=None, derandomize=True)


@PROPERTIES
@given(nested_networks(), st.integers(1, 3), st.sampled_from(list(DType)))
def test_rows_add_up_in_execution_order(data: dict[str, Any], batch: int, dtype: DType) -> None:
    """Rows follow execution order, containers after their children; sums and names hold."""
    report = analyze(network_from_data(data, "<generated>").network, batch=batch, dtype=dtype)
    rows = list(report.layers)
    assert [(r.type, r.container, r.depth) for r in rows] == expected_rows(data["layers"])
    names = [row.name for row in rows]
    assert len(set(names)) == len(names)
    for index, row in enumerate(rows):
        assert row.depth == row.name.count(".")
        if row.container:
            children = subtree(report, index)
            assert children, row.name
            assert all(child.name.startswith(row.name + ".") for child in children)
            # nothing of this container lies outside its block
            assert not any(other.name.startswith(row.name + ".") for other in rows[index + 1:])
            assert tuple(getattr(row, f) for f in COUNTED) == leaf_sums(children), row.name
            assert row.input_shape == children[0].input_shape
            assert row.output_shape == children[-1].output_shape
    totals = report.totals
    assert tuple(getattr(totals, f) for f in COUNTED) == leaf_sums(rows)
    assert totals.param_bytes == (totals.params + totals.non_trainable_params) * dtype.bytes
    top = [row for row in rows if row.depth == 0]
    assert top[0].input_shape == tuple(data["input"])
    assert top[-1].output_shape == report.output_shape
    for before, after in itertools.pairwise(top):
        assert after.input_shape == before.output_shape


@PROPERTIES
@given(nested_networks())
def test_hand_given_names_are_kept(data: dict[str, Any]) -> None:
    """A layer named by hand keeps its name, under its containers' full names."""
    report = analyze(network_from_data(data, "<generated>").network)
    given_names = set()

    def collect(layers: list[Any]) -> None:
        for layer in layers:
            if isinstance(layer, dict):
                if "name" in layer:
                    given_names.add(layer["name"])
                if layer["type"] in CONTAINERS:
                    for body in _bodies(layer):
                        collect(body)

    collect(data["layers"])
    own_names = {row.name.rsplit(".", 1)[-1] for row in report.layers}
    assert given_names <= own_names
