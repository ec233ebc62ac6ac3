"""The ONNX import's speed: `convcalc net resnet50.onnx` against `convcalc net` on the
equivalent YAML plus `onnx.load` of the same file (issue 11: target ≤ 1.5×).

The file is ResNet-50's twin (tests/torch_models.py) exported by torch's TorchScript
exporter with BatchNorm preserved and its weights inline (about 100 MB), written into a
temporary directory; the YAML is examples/resnet50.yaml, which the import reproduces row for
row (tests/test_onnx_torch.py). Each round runs, in fresh processes and in alternating
order, the two `convcalc net` commands (table output, discarded) and a process that times
``import onnx`` and ``onnx.load(file)`` inside itself (so the load's figure carries no
interpreter start-up). The figure is the median over rounds of

    wall(net resnet50.onnx) / (wall(net resnet50.yaml) + onnx.load seconds),

with the medians of each time, and what ``import onnx`` costs, which neither command pays:
the import reads the model through onnx's generated protobuf module alone
(convcalc/onnx_import/proto.py). Both commands run with their bytecode cached in a
temporary folder, as an installed convcalc runs.

Run: ``python benchmarks/bench_onnx.py [--runs 11]`` from the repository root (needs torch
and onnx; prints Markdown for docs/performance.md, with the load average it ran under).
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
sys.path.insert(0, str(ROOT / "tests"))

TARGET = 1.5

LOADER = (
    "import sys, time\n"
    "start = time.perf_counter()\n"
    "import onnx\n"
    "imported = time.perf_counter()\n"
    "onnx.load(sys.argv[1])\n"
    "print(imported - start, time.perf_counter() - imported)\n"
)


def wall(command: list[str], env: dict[str, str]) -> float:
    """Return the wall seconds of one run of ``command`` (output discarded; it must
    succeed)."""
    start = time.perf_counter()
    completed = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               cwd=ROOT, env=env, check=False)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {completed.stderr.decode()[-500:]}")
    return seconds


def load_seconds(path: Path, env: dict[str, str]) -> tuple[float, float]:
    """Return the seconds of ``import onnx`` and of ``onnx.load(path)`` in a fresh process."""
    completed = subprocess.run([sys.executable, "-c", LOADER, str(path)], capture_output=True,
                               text=True, cwd=ROOT, env=env, check=True)
    importing, loading = completed.stdout.split()
    return float(importing), float(loading)


def export_resnet50(directory: Path) -> Path:
    """Write ResNet-50's twin, BatchNorm preserved and weights inline, into ``directory``."""
    import onnx_exports
    import torch
    import torch_models

    torch.manual_seed(0)
    path = directory / "resnet50.onnx"
    return onnx_exports.export(torch_models.resnet50(), torch_models.INPUT_SHAPES["resnet50"],
                               path, onnx_exports.Mode.PRESERVE)


def main() -> None:
    """Print the Markdown table of docs/performance.md's ONNX section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="rounds (≥ 11)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="convcalc-bench-onnx-") as folder:
        directory = Path(folder)
        model = export_resnet50(directory)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(directory)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        onnx_run = [sys.executable, "-m", "convcalc", "net", str(model)]
        yaml_run = [sys.executable, "-m", "convcalc", "net", "examples/resnet50.yaml"]
        before = os.getloadavg()
        wall(onnx_run, env)  # compile and warm the file cache before timing
        wall(yaml_run, env)
        load_seconds(model, env)
        rounds = []
        for index in range(arguments.runs):
            if index % 2:
                own, base, (importing, loading) = (wall(onnx_run, env), wall(yaml_run, env),
                                                   load_seconds(model, env))
            else:
                (importing, loading), base, own = (load_seconds(model, env),
                                                   wall(yaml_run, env), wall(onnx_run, env))
            rounds.append((own, base, importing, loading))
        after = os.getloadavg()
        size = model.stat().st_size
    median = statistics.median
    ratio = median(own / (base + loading) for own, base, _, loading in rounds)
    print(f"load average before: {before[0]:.2f}, {before[1]:.2f}, {before[2]:.2f}; after: "
          f"{after[0]:.2f}, {after[1]:.2f}, {after[2]:.2f}; {arguments.runs} rounds; "
          f"resnet50.onnx {size / 1e6:.1f} MB")
    print()
    print("| `net resnet50.onnx` s | `net resnet50.yaml` s | `onnx.load` s | `import onnx` s "
          "| ratio | target |")
    print("|--:|--:|--:|--:|--:|--:|")
    verdict = "met" if ratio <= TARGET else "not met"
    print(f"| {median(r[0] for r in rounds):.3f} | {median(r[1] for r in rounds):.3f} | "
          f"{median(r[3] for r in rounds):.3f} | {median(r[2] for r in rounds):.3f} | "
          f"{ratio:.2f} | ≤ {TARGET} ({verdict}) |")


if __name__ == "__main__":
    main()
