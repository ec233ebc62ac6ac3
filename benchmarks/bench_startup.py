"""Start-up cost of the command line, as paired ratios against one baseline process.

The baseline imports typer, rich and pydantic and prints a small rich table: what any
typer + rich program pays before doing anything of its own. Each run of a command is
paired with a run of the baseline just before it, so both see the same load on the
machine; the figure is the median of the per-pair ratios, of the wall time and of the CPU
time (user + system, which other work on a shared machine disturbs less), with the
medians and minimums of the times for scale. Targets (issue 10): ``layer`` ≤ 1.3×,
``net … --depth 0`` ≤ 1.6×, ``--help`` ≤ 1.3×.

Both processes run with their compiled bytecode cached, as an installed convcalc runs (pip
compiles it at install): the cache goes to a temporary folder (``PYTHONPYCACHEPREFIX``),
so the checkout is not touched, even where ``PYTHONDONTWRITEBYTECODE`` is set. Without it
every run would compile convcalc's modules from source again (about 80 ms, more than a
third of a ``layer`` run), which measures the compiler, not the command. ``--no-cache``
measures that way anyway.

Run: ``python benchmarks/bench_startup.py [--runs 11] [--no-cache]`` from the repository
root (prints Markdown for docs/performance.md, with the load average it ran under).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
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


def seconds(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Return the wall and CPU seconds of one run of ``command`` (output discarded; it must
    succeed)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=ROOT, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed (status {status})")
    return wall, usage.ru_utime + usage.ru_stime


def paired(command: list[str], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Return the median ratios of ``command`` to the baseline over ``runs`` pairs (wall and
    CPU), and the median and least times of each."""
    baseline = [sys.executable, "-c", BASELINE]
    seconds(baseline, env)  # compile and warm the file cache for both before timing
    seconds(command, env)
    pairs = [(seconds(baseline, env), seconds(command, env)) for _ in range(runs)]
    median = statistics.median
    return {
        "wall": median(own[0] / base[0] for base, own in pairs),
        "cpu": median(own[1] / base[1] for base, own in pairs),
        "base": median(base[0] for base, _ in pairs),
        "own": median(own[0] for _, own in pairs),
        "base_min": min(base[0] for base, _ in pairs),
        "own_min": min(own[0] for _, own in pairs),
    }


def environment(cache: bool, folder: str) -> dict[str, str]:
    """Return the children's environment: this checkout first on the path, and the
    bytecode cache in ``folder`` unless ``cache`` is off."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = folder
    return env


def main() -> None:
    """Print one Markdown row per command: the median ratios, the times, the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="pairs per command (≥ 11)")
    parser.add_argument("--no-cache", action="store_true",
                        help="compile every module from source on every run")
    arguments = parser.parse_args()
    before = os.getloadavg()
    print(f"load average before: {before[0]:.2f}, {before[1]:.2f}, {before[2]:.2f}; "
          f"{arguments.runs} pairs per command; bytecode "
          f"{'compiled on every run' if arguments.no_cache else 'cached'}")
    print()
    print("| command | baseline s (min) | command s (min) | wall ratio | CPU ratio | target |")
    print("|---|--:|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory(prefix="convcalc-pycache-") as folder:
        env = environment(not arguments.no_cache, folder)
        for name, (words, target) in COMMANDS.items():
            result = paired(CONVCALC + words, arguments.runs, env)
            verdict = "met" if result["wall"] <= target else "not met"
            print(f"| `{name}` | {result['base']:.3f} ({result['base_min']:.3f}) | "
                  f"{result['own']:.3f} ({result['own_min']:.3f}) | {result['wall']:.2f} | "
                  f"{result['cpu']:.2f} | ≤ {target} ({verdict}) |")
    after = os.getloadavg()
    print()
    print(f"load average after: {after[0]:.2f}, {after[1]:.2f}, {after[2]:.2f}")


if __name__ == "__main__":
    main()
