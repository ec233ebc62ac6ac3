"""Where a first ``convcalc verify`` spends its compile time: each kernel, once per signature.

Usage::

    python benchmarks/bench_compile.py [examples/lenet5.yaml]

Runs ``convcalc verify FILE`` in this process with an empty ``NUMBA_CACHE_DIR`` and
records numba's compile events: every function compiled (kernels, the helpers they call,
numba's own small overloads such as ``min``), its argument types and its seconds, nested
under the kernel that called it; then the wall and CPU time of the whole run. A kernel
listed twice was compiled for two signatures, which a first run pays for twice. The
seconds are wall time on a shared machine: compare kernels within one run.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Run verify on the file named on the command line and print its compile events."""
    path = sys.argv[1] if len(sys.argv) > 1 else str(REPO_ROOT / "examples" / "lenet5.yaml")
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cache-")
    sys.path.insert(0, str(REPO_ROOT))
    started, cpu_started = time.perf_counter(), time.process_time()

    from numba.core import event

    rows: list[tuple[int, str, str, float]] = []
    open_compiles: list[float] = []

    class Recorder(event.Listener):
        def on_start(self, ev: Any) -> None:
            open_compiles.append(time.perf_counter())

        def on_end(self, ev: Any) -> None:
            began = open_compiles.pop()
            name = ev.data["dispatcher"].py_func.__qualname__
            rows.append((len(open_compiles), name, str(ev.data["args"]),
                         time.perf_counter() - began))

    event.register("numba:compile", Recorder())  # type: ignore[no-untyped-call]  # numba's
    from convcalc.cli import main as cli_main

    sys.argv = ["convcalc", "verify", path, "--format", "json"]
    stdout = sys.stdout
    try:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  # closed below
        cli_main()
    except SystemExit:
        pass
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    print(f"load average (1 min): {os.getloadavg()[0]:.2f}")
    print("seconds  function (argument types), callees indented above their caller")
    for depth, name, args, seconds in rows:
        print(f"{seconds:7.2f}  {'  ' * depth}{name} {args[:120]}")
    top = sum(seconds for depth, _, _, seconds in rows if depth == 0)
    # numba's own overloads (``ol_min.<locals>.impl``) are compiled per type by design
    names = [name for _, name, _, _ in rows if "<locals>" not in name]
    twice = sorted({name for name in names if names.count(name) > 1})
    print(f"compiling {top:.2f} s of a {wall:.2f} s run ({cpu:.2f} s CPU); "
          f"compiled for more than one signature: {', '.join(twice) or 'none'}")


if __name__ == "__main__":
    main()
