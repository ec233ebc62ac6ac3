"""Speed of nesting an imported graph (``convcalc.onnx_import.topology.nest``), as ratios
against analysing what it gives, in the same process.

The graphs are built as the importer hands them over (``dag.Node`` lists, no onnx):

- a chain of conv, batchnorm and relu, of 10,000 and 100,000 nodes (the row limit): the
  series reductions, whose time per node should stay flat;
- a ResNet of 1,000 basic blocks (9,000-odd nodes, a strided block with a downsample
  every 100): residuals with ``after``;
- DenseNet blocks of 24 layers (10,000-odd nodes): the concat re-association;
- a ladder of crossing skips (every rung reads the rung two back, so nothing nests) and
  a random mesh of convs and adds over the last 50 tensors: the regions left over, whose
  search is the part that could grow faster than the nodes.

For each: the median seconds of ``nest`` and of ``network_from_data`` + ``analyze`` on its
result (the baseline: what ``convcalc net`` does with the layers afterwards), their ratio,
and the microseconds of ``nest`` per node. Run: ``python benchmarks/bench_onnx_topology.py``
(prints Markdown for docs/performance.md).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convcalc.analysis import analyze
from convcalc.loader import network_from_data
from convcalc.onnx_import.dag import Node
from convcalc.onnx_import.topology import nest

CONV = {"type": "conv", "filters": 8, "kernel": 3, "padding": 1, "bias": False}
BN = {"type": "batchnorm"}
RELU = {"type": "relu"}


def chain(count: int) -> list[Node]:
    """Return ``count`` nodes in a row: conv, batchnorm, relu, …"""
    layers = [CONV, BN, RELU]
    return [Node(f"n{i}", (f"n{i - 1}" if i else "input",), layers[i % 3])
            for i in range(count)]


def resnet(blocks: int) -> list[Node]:
    """Return ``blocks`` basic blocks; every hundredth strided, with a downsample."""
    nodes: list[Node] = []
    source = "input"
    for block in range(blocks):
        p = f"b{block}_"
        strided = block % 100 == 99
        first = {**CONV, "stride": 2} if strided else CONV
        nodes += [Node(f"{p}conv1", (source,), first), Node(f"{p}bn1", (f"{p}conv1",), BN),
                  Node(f"{p}relu1", (f"{p}bn1",), RELU),
                  Node(f"{p}conv2", (f"{p}relu1",), CONV), Node(f"{p}bn2", (f"{p}conv2",), BN)]
        shortcut = source
        if strided:
            nodes += [Node(f"{p}ds", (source,), {**CONV, "kernel": 1, "padding": 0,
                                                 "stride": 2}),
                      Node(f"{p}dsbn", (f"{p}ds",), BN)]
            shortcut = f"{p}dsbn"
        nodes += [Node(f"{p}add", (f"{p}bn2", shortcut), merge="add"),
                  Node(f"{p}relu", (f"{p}add",), RELU)]
        source = f"{p}relu"
    return nodes


def densenet(blocks: int, layers: int = 24) -> list[Node]:
    """Return ``blocks`` dense blocks of ``layers`` layers, as torchvision exports them
    (each layer reads a new concat of all before it), a 1×1 conv between blocks."""
    nodes: list[Node] = []
    source = "input"
    for block in range(blocks):
        features = [source]
        for layer in range(layers):
            p = f"d{block}_{layer}_"
            reads = features[0]
            if len(features) > 1:
                reads = f"{p}cat"
                nodes.append(Node(reads, tuple(features), merge="concat"))
            nodes += [Node(f"{p}bn", (reads,), BN), Node(f"{p}relu", (f"{p}bn",), RELU),
                      Node(f"{p}conv", (f"{p}relu",), {**CONV, "filters": 4})]
            features.append(f"{p}conv")
        nodes += [Node(f"d{block}_cat", tuple(features), merge="concat"),
                  Node(f"d{block}_trans", (f"d{block}_cat",), {**CONV, "kernel": 1,
                                                               "padding": 0})]
        source = f"d{block}_trans"
    return nodes


def ladder(rungs: int) -> list[Node]:
    """Return a chain whose every rung adds the output two rungs back (crossing skips)."""
    nodes = [Node("r0", ("input",), CONV), Node("r1", ("r0",), CONV)]
    for rung in range(2, rungs):
        nodes += [Node(f"c{rung}", (f"r{rung - 1}",), CONV),
                  Node(f"r{rung}", (f"c{rung}", f"r{rung - 2}"), merge="add")]
    return nodes


def mesh(count: int, window: int = 50, seed: int = 0) -> list[Node]:
    """Return ``count`` random nodes, a third of them adds of two of the last ``window``
    tensors, the rest convs mostly of the tensor before (skips crossing everywhere), less
    the nodes the last one does not need."""
    chooser = random.Random(seed)
    nodes: list[Node] = []
    names = ["input"]
    for index in range(count):
        if index % 3 == 2:
            first, second = chooser.sample(names[-window:], 2)
            nodes.append(Node(f"m{index}", (first, second), merge="add"))
        else:
            source = names[-1] if chooser.random() < 0.7 else chooser.choice(names[-window:])
            nodes.append(Node(f"n{index}", (source,), CONV))
        names.append(nodes[-1].name)
    needed = {nodes[-1].name}
    kept = []
    for node in reversed(nodes):
        if node.name in needed:
            kept.append(node)
            needed.update(node.inputs)
    return kept[::-1]


def median_seconds(run: Callable[[], Any], repeats: int) -> float:
    """Return the median wall time of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print the measurements as Markdown."""
    cases = [("chain of 10,000", chain(10_000)), ("chain of 100,000", chain(99_000)),
             ("ResNet of 1,000 basic blocks", resnet(1_000)),
             ("DenseNet, 100 blocks of 24 layers", densenet(100)),
             ("ladder of 1,000 crossing rungs", ladder(1_000)),
             ("ladder of 3,000 crossing rungs", ladder(3_000)),
             ("random mesh from 10,000", mesh(10_000)),
             ("random mesh from 100,000", mesh(100_000))]
    print("| graph | nodes | nest (s) | analysis (s) | nest / analysis | nest µs per node |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, nodes in cases:
        layers = nest(nodes)
        data = {"name": "bench", "input": [8, 64, 64], "layers": layers}
        repeats = 3 if len(nodes) > 50_000 else 5
        nesting = median_seconds(lambda nodes=nodes: nest(nodes), repeats)
        analysis = median_seconds(
            lambda data=data: analyze(network_from_data(data, "bench").network), repeats)
        print(f"| {label} | {len(nodes):,} | {nesting:.3f} | {analysis:.3f} | "
              f"{nesting / analysis:.2f} | {1e6 * nesting / len(nodes):.1f} |")


if __name__ == "__main__":
    main()
