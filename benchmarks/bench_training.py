"""What ``--training`` costs the analysis: ``analyze`` with a training step against
``analyze`` alone, in the same process, as a ratio.

The training step is one more walk of the plan tree (``convcalc.training``) and a
``RowTraining`` per row; the ratio says how much it adds to the walk that makes the rows.
Each number is the median of several runs on the same network object.
Run: ``python benchmarks/bench_training.py`` (prints Markdown for docs/performance.md).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNS = 7


def median_seconds(run: Callable[[], object]) -> float:
    """Return the median wall time of ``RUNS`` calls of ``run``."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print a Markdown table: each network's rows, seconds without and with, the ratio."""
    sys.path.insert(0, str(REPO_ROOT))
    from convcalc import TrainingSpec, analyze, zoo
    from convcalc.loader import network_from_data

    block = {"type": "residual", "repeat": 1000, "layers": [
        {"type": "conv", "filters": 16, "kernel": 3, "padding": 1}, "batchnorm", "relu",
        {"type": "conv", "filters": 16, "kernel": 3, "padding": 1}, "batchnorm"]}
    generated = network_from_data({"name": "generated", "input": [16, 32, 32],
                                   "layers": [block]}, "<bench>").network
    networks = [zoo.source("resnet152").network, zoo.source("densenet201").network,
                generated]
    spec = TrainingSpec(optimizer="adam")
    print("| network | rows | analyze | with --training | ratio |")
    print("|---|--:|--:|--:|--:|")
    for network in networks:
        rows = len(analyze(network).layers)
        alone = median_seconds(lambda network=network: analyze(network, batch=32))
        trained = median_seconds(lambda network=network: analyze(network, batch=32,
                                                                 training=spec))
        print(f"| {network.name} | {rows:,} | {alone * 1000:.1f} ms | {trained * 1000:.1f} ms "
              f"| {trained / alone:.2f} |")


if __name__ == "__main__":
    main()
