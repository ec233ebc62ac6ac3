"""Speed of the calculator, measured as ratios against baselines run the same way.

1. ``convcalc layer …`` against a baseline process that imports typer, rich and pydantic
   and prints a small rich table: the cost of convcalc over the libraries it stands on.
2. ``convcalc net`` on generated files of 1,000, 10,000 and 100,000 layers: the time per
   layer stays flat (linear growth) and 10,000 layers take under a second.

Every number is the median of several runs of a fresh process, as a user would run it.
Run: ``python benchmarks/bench_core.py`` (prints Markdown for docs/performance.md).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = (
    "import typer, rich, pydantic\n"
    "from rich.console import Console\n"
    "from rich.table import Table\n"
    "table = Table('Layer', 'Output', 'Params')\n"
    "table.add_row('conv', '10x32x32', '760')\n"
    "Console().print(table)\n"
)
# `import pydantic` alone loads almost nothing (its names load on first use); a program that
# defines one model pays for the rest of pydantic. Both baselines are reported.
BASELINE_WITH_MODEL = BASELINE + (
    "class Layer(pydantic.BaseModel):\n"
    "    filters: int\n"
    "Layer.model_validate({'filters': 10})\n"
)
LAYER = [sys.executable, "-m", "convcalc", "layer", "--input", "3x32x32", "--filters", "10",
         "--k", "5", "--pad", "2"]


def median_seconds(command: list[str], runs: int) -> float:
    """Return the median wall time of ``runs`` runs of ``command`` (output discarded)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def network_file(layers: int, folder: Path) -> Path:
    """Write a network of at most ``layers`` rows: conv, batchnorm, relu, residual blocks."""
    lines = ["name: generated", "input: 16x32x32", "layers:"]
    blocks = [
        "  - {type: conv, filters: 16, kernel: 3, padding: 1, bias: false}",
        "  - batchnorm",
        "  - relu",
        "  - type: residual\n    layers:\n      - {type: conv, filters: 16, kernel: 3, "
        "padding: 1}\n      - relu",
    ]
    rows = 0
    index = 0
    while True:
        step = 4 if index % 4 == 3 else 1  # a residual adds two layers, a merge, a subtotal
        if rows + step > layers:  # at most ``layers`` rows: 100,000 is the row limit
            break
        lines.append(blocks[index % 4])
        rows += step
        index += 1
    path = folder / f"net{layers}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    """Print the measurements as Markdown."""
    runs = 11
    baseline = median_seconds([sys.executable, "-c", BASELINE], runs)
    with_model = median_seconds([sys.executable, "-c", BASELINE_WITH_MODEL], runs)
    layer = median_seconds(LAYER, runs)
    print("| command | median s | vs baseline | vs baseline with a model |")
    print("|---|--:|--:|--:|")
    print(f"| baseline: import typer, rich, pydantic; print a rich table | {baseline:.3f} | "
          f"1.00 | {baseline / with_model:.2f} |")
    print(f"| baseline with a model: the same, plus one pydantic model validated | "
          f"{with_model:.3f} | {with_model / baseline:.2f} | 1.00 |")
    print(f"| `convcalc layer --input 3x32x32 --filters 10 --k 5 --pad 2` | {layer:.3f} | "
          f"{layer / baseline:.2f} | {layer / with_model:.2f} |")
    print()
    print("| layers (rows) | format | median s | µs per row | vs 10,000 rows |")
    print("|--:|---|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as folder:
        for output in ("json", "table"):
            per_row = {}
            for size in (1_000, 10_000, 100_000):
                path = network_file(size, Path(folder))
                command = [sys.executable, "-m", "convcalc", "net", str(path), "--format",
                           output]
                seconds = median_seconds(command, 3 if size == 100_000 else runs)
                per_row[size] = seconds / size
                ratio = seconds / (per_row.get(10_000, seconds / size) * 10_000) if size != \
                    10_000 else 1.0
                print(f"| {size:,} | {output} | {seconds:.2f} | {seconds / size * 1e6:.1f} | "
                      f"{ratio:.2f} |")


if __name__ == "__main__":
    main()
