"""Time ``convcalc verify`` on the example networks: a first run that compiles, then warm runs.

Usage::

    python benchmarks/bench_verify.py [--runs 3] [--cold-runs 3] [--networks vgg16 resnet18]

A network is an example's name (examples/NAME.yaml) or one of the large inputs below,
whose receptive-field probe once dominated: ``conv_relu_3x1024x1024`` (it must stay under
10 s warm) and ``fifty_relus_1x20000``.

Each figure is the wall time of a fresh ``python -m convcalc verify FILE`` process, as a
user runs it. The first run of each network gets an empty ``NUMBA_CACHE_DIR`` of its own,
so it compiles every kernel (its stderr note gives the compile time); the warm runs reuse
the last such cache. Prints markdown: the machine, then per network the median first-run
time over ``--cold-runs`` empty caches, the compile time it reported, the median, best
and worst warm run, and the load average (1 min) before and after, since other work on
the machine moves every figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTE = re.compile(r"compiled the kernels in ([\d.]+) s")
LARGE_INPUTS = {
    "conv_relu_3x1024x1024": "input: 3x1024x1024\nlayers:\n"
                             "  - {type: conv, filters: 8, kernel: 3, padding: 1}\n  - relu\n",
    "fifty_relus_1x20000": "input: 1x20000\nlayers:\n" + "  - relu\n" * 50,
}


def run_verify(network: str, cache_dir: str) -> tuple[float, float | None]:
    """Return the wall time of one ``convcalc verify`` process and its compile time."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    path = REPO_ROOT / "examples" / f"{network}.yaml"
    if network in LARGE_INPUTS:
        path = Path(cache_dir) / f"{network}.yaml"
        path.write_text(LARGE_INPUTS[network])
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "convcalc", "verify", str(path), "--format",
                           "json"], capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"verify {network} exited {done.returncode}:\n{done.stderr}")
    note = NOTE.search(done.stderr)
    return elapsed, float(note.group(1)) if note else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="warm runs per network")
    parser.add_argument("--cold-runs", type=int, default=1,
                        help="first runs per network, each with an empty cache (median kept)")
    parser.add_argument("--networks", nargs="+", default=["vgg16", "resnet18"])
    args = parser.parse_args()

    import numba
    import numpy

    print(f"- CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"- Python {platform.python_version()}, numpy {numpy.__version__}, "
          f"numba {numba.__version__}")
    print("- `convcalc verify FILE --format json`, batch 1, seed 0, one process per run\n")
    print("| network | first run s | of which compiling s | warm median s | warm best s "
          "| warm worst s | load |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for network in args.networks:
        load_before = os.getloadavg()[0]
        firsts: list[tuple[float, float | None]] = []
        for _ in range(args.cold_runs):
            with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache_dir:
                firsts.append(run_verify(network, cache_dir))
                warm = [run_verify(network, cache_dir)[0] for _ in range(args.runs)]
        first = statistics.median(seconds for seconds, _ in firsts)
        compiled = [seconds for _, seconds in firsts if seconds is not None]
        compile_text = f"{statistics.median(compiled):.1f}" if compiled else "—"
        print(f"| {network} | {first:.1f} | {compile_text} | {statistics.median(warm):.2f} "
              f"| {min(warm):.2f} | {max(warm):.2f} "
              f"| {load_before:.1f}–{os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
