"""Time the reference conv kernel against torch's conv2d on VGG-16's and ResNet-18's convs.

Usage::

    python benchmarks/bench_kernels.py [--repeats 20] [--per-layer]
    python benchmarks/bench_kernels.py --against OTHER/conv.py [--repeats 20]

Prints markdown: the machine, each network's throughput in GMAC/s for the reference
kernel and for ``torch.nn.functional.conv2d`` (both on two threads, batch 1, 224×224),
their ratio, and how long the kernels take to compile on a first run with an empty
cache. Needs torch. The load average is printed because another busy process on
the machine skews the numbers.

With ``--against``, another version of ``convcalc/reference/ops/conv.py`` (say, from
``git show``) is loaded into the same process and timed against this one instead, the
two alternated layer by layer in every round, and torch in a block of its own after
each round: a busy machine then hits both versions alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
THREADS = 2


@dataclass(frozen=True)
class ConvShape:
    """One conv layer at batch 1: ``count`` identical layers of this shape in the network."""

    count: int
    in_channels: int
    out_channels: int
    size: int
    kernel: int
    stride: int
    padding: int

    @property
    def out_size(self) -> int:
        """Return the output height (= width) of this layer."""
        return (self.size + 2 * self.padding - self.kernel) // self.stride + 1

    @property
    def macs(self) -> int:
        """Return the MACs of one such layer: C_out·H_out·W_out·C_in·K·K."""
        return self.out_channels * self.out_size**2 * self.in_channels * self.kernel**2


# Every conv of the two networks at 224×224 (torchvision's definitions); identical
# layers are listed once with their count.
NETWORKS: dict[str, list[ConvShape]] = {
    "VGG-16": [
        ConvShape(1, 3, 64, 224, 3, 1, 1),
        ConvShape(1, 64, 64, 224, 3, 1, 1),
        ConvShape(1, 64, 128, 112, 3, 1, 1),
        ConvShape(1, 128, 128, 112, 3, 1, 1),
        ConvShape(1, 128, 256, 56, 3, 1, 1),
        ConvShape(2, 256, 256, 56, 3, 1, 1),
        ConvShape(1, 256, 512, 28, 3, 1, 1),
        ConvShape(2, 512, 512, 28, 3, 1, 1),
        ConvShape(3, 512, 512, 14, 3, 1, 1),
    ],
    "ResNet-18": [
        ConvShape(1, 3, 64, 224, 7, 2, 3),
        ConvShape(4, 64, 64, 56, 3, 1, 1),
        ConvShape(1, 64, 128, 56, 3, 2, 1),
        ConvShape(1, 64, 128, 56, 1, 2, 0),
        ConvShape(3, 128, 128, 28, 3, 1, 1),
        ConvShape(1, 128, 256, 28, 3, 2, 1),
        ConvShape(1, 128, 256, 28, 1, 2, 0),
        ConvShape(3, 256, 256, 14, 3, 1, 1),
        ConvShape(1, 256, 512, 14, 3, 2, 1),
        ConvShape(1, 256, 512, 14, 1, 2, 0),
        ConvShape(3, 512, 512, 7, 3, 1, 1),
    ],
}

# Run in a fresh interpreter with an empty cache: import, then the first call of each
# kernel, which is when numba compiles it.
COMPILE_PROBE = """
import time
start = time.perf_counter()
import numpy as np
from convcalc.reference import kernels
x = np.ones((1, 4, 6, 6), np.float32)
kernels.conv(x, np.ones((4, 4, 3, 3), np.float32), None, 1, 1, 1, 1, 1)
conv_seconds = time.perf_counter() - start
w_t = np.ones((4, 2, 3, 3), np.float32)
kernels.conv_transpose(x, w_t, None, 2, 1, 1, 1, 1)
kernels.max_pool(x, 2, 2, 1, 0, 0, False)
kernels.avg_pool(x, 2, 2, 0, 0, False, True)
kernels.adaptive_avg_pool(x, 2)
kernels.adaptive_max_pool(x, 2)
kernels.linear(np.ones((1, 4), np.float32), np.ones((3, 4), np.float32), None)
c = np.ones(4, np.float32)
kernels.batchnorm(x, c, c, c, c)
for name in ("relu", "relu6", "leaky_relu", "gelu", "silu", "sigmoid", "tanh",
             "hardswish", "softmax", "identity"):
    getattr(kernels, name)(x)
kernels.pad(x, 1, 1)
kernels.upsample(x, scale=2, mode="nearest")
kernels.upsample(x, scale=2, mode="linear")
print(conv_seconds, time.perf_counter() - start)
"""


def compile_seconds() -> tuple[tuple[float, float], tuple[float, float]]:
    """Return (conv, all kernels) seconds on a first run, then on a run from the cache."""
    with tempfile.TemporaryDirectory() as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(REPO_ROOT))
        runs = []
        for _ in range(2):
            output = subprocess.run(
                [sys.executable, "-c", COMPILE_PROBE],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            runs.append((float(output[0]), float(output[1])))
    return runs[0], runs[1]


def seconds(run: Callable[..., object], *arguments: object) -> float:
    """Return how long one call of ``run(*arguments)`` takes."""
    start = time.perf_counter()
    run(*arguments)
    return time.perf_counter() - start


def layer_arrays(shape: ConvShape, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return a random input and weight for one layer of ``shape``."""
    x = rng.standard_normal((1, shape.in_channels, shape.size, shape.size), np.float32)
    weight = rng.standard_normal(
        (shape.out_channels, shape.in_channels, shape.kernel, shape.kernel), np.float32
    )
    return x, weight


def time_layers(repeats: int) -> dict[str, list[tuple[ConvShape, float, float]]]:
    """Return, per network, each layer shape with its reference and torch seconds."""
    import torch
    import torch.nn.functional as F

    from convcalc.reference.kernels import conv

    torch.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    arrays = {
        name: [layer_arrays(shape, rng) for shape in shapes] for name, shapes in NETWORKS.items()
    }

    def reference(shape: ConvShape, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        p, s = shape.padding, shape.stride
        return conv(x, weight, None, s, 1, p, p, 1)[0]

    def framework(shape: ConvShape, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return F.conv2d(
                torch.from_numpy(x),
                torch.from_numpy(weight),
                stride=shape.stride,
                padding=shape.padding,
            ).numpy()

    layers = [
        (name, shape, x, weight)
        for name, shapes in NETWORKS.items()
        for shape, (x, weight) in zip(shapes, arrays[name], strict=True)
    ]
    for name, shape, x, weight in layers:  # also the warm-up: compiles, fills caches
        ours, theirs = reference(shape, x, weight), framework(shape, x, weight)
        scale = float(np.abs(theirs).max())
        if not np.allclose(ours, theirs, rtol=1e-4, atol=1e-5 * scale):
            raise AssertionError(f"{name} {shape}: reference conv disagrees with torch")

    # Each round times every layer on one side, then on the other: a side's idle worker
    # threads cannot steal from the other's, and a busy spell of the machine hits both
    # sides alike. Each layer keeps its best round.
    best_reference = [float("inf")] * len(layers)
    best_torch = [float("inf")] * len(layers)
    for _ in range(repeats):
        for i, (_, shape, x, weight) in enumerate(layers):
            best_reference[i] = min(best_reference[i], seconds(reference, shape, x, weight))
        for i, (_, shape, x, weight) in enumerate(layers):
            best_torch[i] = min(best_torch[i], seconds(framework, shape, x, weight))

    results: dict[str, list[tuple[ConvShape, float, float]]] = {name: [] for name in NETWORKS}
    for (name, shape, _, _), reference_best, torch_best in zip(
        layers, best_reference, best_torch, strict=True
    ):
        results[name].append((shape, reference_best, torch_best))
    return results


def compare_versions(other_path: Path, repeats: int) -> str:
    """Return a markdown table: this conv and the one in ``other_path``, per network, the
    ms of each (best round per layer) and each one's ratio to torch."""
    import importlib.util

    import torch
    import torch.nn.functional as F

    from convcalc.reference.ops import conv as this_version

    spec = importlib.util.spec_from_file_location("other_conv", other_path)
    assert spec is not None and spec.loader is not None
    other_version = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other_version)
    torch.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    lines = ["| network | other ms | this ms | this / other | torch ms "
             "| other vs torch | this vs torch |", "|---|--:|--:|--:|--:|--:|--:|"]
    for name, shapes in NETWORKS.items():
        arrays = [layer_arrays(shape, rng) for shape in shapes]
        sides = {
            "other": lambda shape, x, w: other_version.convolve(
                x, w, None, shape.stride, 1, shape.padding, shape.padding, 1),
            "this": lambda shape, x, w: this_version.convolve(
                x, w, None, shape.stride, 1, shape.padding, shape.padding, 1),
        }
        for shape, (x, weight) in zip(shapes, arrays, strict=True):  # warm-up, and a check
            a, b = (side(shape, x, weight) for side in sides.values())
            if not (np.array_equal(a[0], b[0]) and a[1:] == b[1:]):
                raise AssertionError(f"{name} {shape}: the two versions disagree")
        best = {side: [float("inf")] * len(shapes) for side in ("other", "this", "torch")}
        for repeat in range(repeats):
            for i, (shape, (x, weight)) in enumerate(zip(shapes, arrays, strict=True)):
                order = ("other", "this") if (repeat + i) % 2 else ("this", "other")
                for side in order:
                    best[side][i] = min(best[side][i], seconds(sides[side], shape, x, weight))
            for i, (shape, (x, weight)) in enumerate(zip(shapes, arrays, strict=True)):
                with torch.no_grad():
                    best["torch"][i] = min(best["torch"][i], seconds(
                        F.conv2d, torch.from_numpy(x), torch.from_numpy(weight), None,
                        shape.stride, shape.padding))
        total = {side: sum(shape.count * t for shape, t in zip(shapes, times, strict=True))
                 for side, times in best.items()}
        lines.append(
            f"| {name} | {total['other'] * 1e3:.1f} | {total['this'] * 1e3:.1f} "
            f"| {total['this'] / total['other']:.2f} | {total['torch'] * 1e3:.1f} "
            f"| {total['torch'] / total['other']:.0%} | {total['torch'] / total['this']:.0%} |")
    return "\n".join(lines)


def network_table(results: dict[str, list[tuple[ConvShape, float, float]]]) -> str:
    """Return the per-network markdown table: GMAC/s of each side and their ratio."""
    lines = [
        "| network | conv GMACs | reference ms | torch ms "
        "| reference GMAC/s | torch GMAC/s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rows in results.items():
        macs = sum(shape.count * shape.macs for shape, _, _ in rows)
        ours = sum(shape.count * seconds for shape, seconds, _ in rows)
        theirs = sum(shape.count * seconds for shape, _, seconds in rows)
        lines.append(
            f"| {name} | {macs / 1e9:.2f} | {ours * 1e3:.0f} | {theirs * 1e3:.0f} "
            f"| {macs / ours / 1e9:.1f} | {macs / theirs / 1e9:.1f} | {theirs / ours:.0%} |"
        )
    return "\n".join(lines)


def layer_table(results: dict[str, list[tuple[ConvShape, float, float]]]) -> str:
    """Return the per-layer markdown table: each distinct shape's GMAC/s and ratio."""
    lines = [
        "| network | layer (C_in→C_out, size, K, stride) | × "
        "| reference GMAC/s | torch GMAC/s | ratio |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, rows in results.items():
        for shape, ours, theirs in rows:
            label = (
                f"{shape.in_channels}→{shape.out_channels}, {shape.size}², "
                f"{shape.kernel}×{shape.kernel}, s{shape.stride}"
            )
            lines.append(
                f"| {name} | {label} | {shape.count} | {shape.macs / ours / 1e9:.1f} "
                f"| {shape.macs / theirs / 1e9:.1f} | {theirs / ours:.0%} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and print its markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per layer (best kept)")
    parser.add_argument("--per-layer", action="store_true", help="also print each layer")
    parser.add_argument("--against", type=Path, help="another conv.py to time this one against")
    arguments = parser.parse_args()
    if arguments.against is not None:
        load_before = os.getloadavg()[0]
        table = compare_versions(arguments.against, arguments.repeats)
        print(f"- best of {arguments.repeats} rounds per layer; load average (1 min) before "
              f"and after: {load_before:.2f}, {os.getloadavg()[0]:.2f}")
        print()
        print(table)
        return

    import numba
    import torch

    load_before = os.getloadavg()[0]
    results = time_layers(arguments.repeats)
    (conv_cold, all_cold), (conv_cached, all_cached) = compile_seconds()

    print(f"- CPU: {cpu_name()}, {os.cpu_count()} cores; {THREADS} threads on each side")
    print(
        f"- Python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}, torch {torch.__version__}"
    )
    print(f"- batch 1, 224×224, float32, best of {arguments.repeats} rounds per layer")
    print(f"- load average (1 min) before and after: {load_before:.2f}, {os.getloadavg()[0]:.2f}")
    print()
    print(network_table(results))
    print()
    if arguments.per_layer:
        print(layer_table(results))
        print()
    print("| first run, empty cache | compile + import s | from cache s |")
    print("|---|---:|---:|")
    print(f"| conv only | {conv_cold:.1f} | {conv_cached:.1f} |")
    print(f"| every kernel | {all_cold:.1f} | {all_cached:.1f} |")


def cpu_name() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    main()
