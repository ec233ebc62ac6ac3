"""Start-up cost of the command line, as paired ratios against one baseline process.

The baseline imports typer, rich and pydantic and prints a small rich table: what any
typer + rich program pays before doing anything of its own. Each run of a command is
paired with a run of the baseline just before it, so both see the same load on the
machine; the figure is the median of the per-pair ratios (and the medians of the times,
for scale). Targets (issue 10): ``layer`` ≤ 1.3×, ``net … --depth 0`` ≤ 1.6×,
``--help`` ≤ 1.3×.

Run: ``python benchmarks/bench_startup.py [--runs 11]`` from the repository root (prints
Markdown for docs/performance.md, with the load average it ran under).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BASELINE = (
    "import typer, rich, pydantic\n"
    "from rich.console import Console\n"
    "from rich.table import Table\n"
    "table = Table('Layer', 'Output', 'Params')\n"
    "table.add_row('conv', '10x32x32', '760')\n"
    "Console().print(table)\n"
)

CONVCALC = [sys.executable, "-m", "convcalc"]
COMMANDS = {
    "convcalc layer --input 3x32x32 --filters 10 --k 5 --pad 2":
        (["layer", "--input", "3x32x32", "--filters", "10", "--k", "5", "--pad", "2"], 1.3),
    "convcalc net examples/resnet18.yaml --depth 0":
        (["net", "examples/resnet18.yaml", "--depth", "0"], 1.6),
    "convcalc --help": (["--help"], 1.3),
}


def seconds(command: list[str]) -> float:
    """Return the wall time of one run of ``command`` (output discarded; it must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   cwd=ROOT)
    return time.perf_counter() - start


def paired(command: list[str], runs: int) -> tuple[float, float, float]:
    """Return the median ratio of ``command`` to the baseline over ``runs`` pairs, and the
    median times of each."""
    baseline = [sys.executable, "-c", BASELINE]
    seconds(baseline)  # warm the file cache for both before timing
    seconds(command)
    ratios, base_times, command_times = [], [], []
    for _ in range(runs):
        base = seconds(baseline)
        own = seconds(command)
        ratios.append(own / base)
        base_times.append(base)
        command_times.append(own)
    return (statistics.median(ratios), statistics.median(base_times),
            statistics.median(command_times))


def main() -> None:
    """Print one Markdown row per command: the median ratio, the times, the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="pairs per command (≥ 11)")
    runs = parser.parse_args().runs
    env_note = os.getloadavg()
    print(f"load average before: {env_note[0]:.2f}, {env_note[1]:.2f}, {env_note[2]:.2f}; "
          f"{runs} pairs per command")
    print()
    print("| command | baseline s | command s | ratio (median of pairs) | target |")
    print("|---|--:|--:|--:|--:|")
    for name, (arguments, target) in COMMANDS.items():
        ratio, base, own = paired(CONVCALC + arguments, runs)
        verdict = "met" if ratio <= target else "not met"
        print(f"| `{name}` | {base:.3f} | {own:.3f} | {ratio:.2f} | ≤ {target} ({verdict}) |")
    after = os.getloadavg()
    print()
    print(f"load average after: {after[0]:.2f}, {after[1]:.2f}, {after[2]:.2f}")


if __name__ == "__main__":
    main()
