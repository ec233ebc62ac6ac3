"""Verify every zoo entry at its default input, timing each: ``convcalc verify zoo:NAME``.

Usage::

    python benchmarks/bench_zoo_verify.py [--max-memory 8G] [--names resnet18 vgg16]

Each figure is the wall time of a fresh ``python -m convcalc verify zoo:NAME --format json``
process, as a user runs it. One run of the smallest entry first fills the numba cache (its
compile time is printed), so every timed run reuses the compiled kernels. Prints Markdown:
the machine, then per entry its input, rows checked, MACs, the arrays' peak memory, the
verdict and the time, and the total. Exits 1 when any entry does not verify.

Every entry fits verify's default 2 GiB of arrays (each layer's weights are drawn when it
runs; RegNetY-128GF at 384×384 peaks at about 449 MiB); ``--max-memory`` is passed through
as a margin, 8G by default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from convcalc import zoo  # noqa: E402  (the repository's copy, after the path is set)
from convcalc.render.numbers import human_bytes  # noqa: E402
from convcalc.zoo.listing import family_of  # noqa: E402

NOTE = re.compile(r"compiled the kernels in ([\d.]+) s")


def run_verify(name: str, max_memory: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Return the wall time of one ``convcalc verify zoo:NAME`` process, and the process."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "convcalc", "verify", f"zoo:{name}",
                           "--max-memory", max_memory, "--format", "json"],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--max-memory", default="8G", help="verify's --max-memory")
    parser.add_argument("--names", nargs="+", default=list(zoo.names()),
                        help="entries to verify (default: the whole zoo)")
    args = parser.parse_args()

    warm_seconds, warm = run_verify("squeezenet1_1", args.max_memory)
    note = NOTE.search(warm.stderr)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()}")
    print(f"Warm-up (zoo:squeezenet1_1): {warm_seconds:.1f} s"
          + (f", of which compiling the kernels {note.group(1)} s" if note else
             " (kernels already cached)"))
    print()
    print("| entry | family | input | rows | MACs | arrays | verify | time |")
    print("|---|---|---|---:|---:|---:|---|---:|")
    total = 0.0
    failed = []
    for name in args.names:
        seconds, done = run_verify(name, args.max_memory)
        total += seconds
        if done.stdout.strip():
            result = json.loads(done.stdout)
            shape = "×".join(str(d) for d in result["input_shape"])
            macs = sum(row["macs"]["measured"] for row in result["layers"] if row["macs"])
            cells = [shape, str(len(result["layers"])), f"{macs:,}",
                     human_bytes(result["memory_bytes"])]
        else:
            cells = ["", "", "", ""]
        verdict = {0: "✓", 1: "✗ mismatch"}.get(done.returncode,
                                                 f"error (exit {done.returncode})")
        if done.returncode != 0:
            failed.append((name, done.stderr.strip().splitlines()[-1:] or [""]))
        print(f"| {name} | {family_of(name)} | " + " | ".join(cells)
              + f" | {verdict} | {seconds:.1f} s |", flush=True)
    print()
    print(f"Total: {len(args.names)} entries in {total:.0f} s; "
          f"{len(args.names) - len(failed)} verified.")
    for name, last in failed:
        print(f"- {name}: {last[0]}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
