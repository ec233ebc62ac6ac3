"""Usage errors: one `error:` line naming the flag, what it allows, a near name; exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT

from convcalc.cli.usage import nearest

LENET = str(EXAMPLES / "lenet5.yaml")
LAYER = ("layer", "--input", "3x32x32", "--filters", "2", "--k", "3")

CASES = [
    ((*LAYER, "--type", "pool"),
     "error: --type: 'pool' is not one of conv, conv_transpose, maxpool, avgpool, "
     "adaptive_avgpool, adaptive_maxpool, global_avgpool, global_maxpool, linear, flatten, "
     "dropout, relu, relu6, gelu, silu, sigmoid, tanh, hardswish, softmax, identity, "
     "hardsigmoid, mish, leaky_relu, elu, prelu, layer_scale, stochastic_depth, batchnorm, "
     "layernorm, groupnorm, instancenorm, pad, upsample, channel_shuffle, slice, unknown; did you "
     "mean maxpool? (see 'convcalc layer --help')"),
    ((*LAYER, "--format", "yaml"),
     "error: --format: 'yaml' is not one of table, json, csv, markdown (see 'convcalc layer "
     "--help')"),
    (("net", LENET, "--format", "jsn"),
     "error: --format: 'jsn' is not one of table, json, csv, markdown; did you mean json? "
     "(see 'convcalc net --help')"),
    ((*LAYER, "--batch", "0"),
     "error: --batch: expected a whole number from 1 to 1,000,000,000, got 0 (see "
     "'convcalc layer --help')"),
    ((*LAYER, "--dtype", "fp16"),
     "error: --dtype: 'fp16' is not one of float32, float16, bfloat16, float64, int8 (see "
     "'convcalc layer --help')"),
    (("net", LENET, "--dept", "0"),
     "error: no such option --dept; did you mean --depth? (see 'convcalc net --help')"),
    (("net", LENET, "--bogus"), "error: no such option --bogus (see 'convcalc net --help')"),
    (("net",), "error: missing argument FILE (see 'convcalc net --help')"),
    (("layer",), "error: missing option --input (see 'convcalc layer --help')"),
    (("export", LENET), "error: missing option --to: one of pytorch (see 'convcalc export "
                        "--help')"),
    (("lyer",), "error: no such command 'lyer'; did you mean 'layer'? (see 'convcalc "
                "--help')"),
    (("net", LENET, "--depth", "-1"),
     "error: --depth: must be ≥ 0, got -1 (see 'convcalc net --help')"),
    ((*LAYER[:-2], "--filters", "x", "--k", "3"), "error: --filters takes an int, got 'x'"),
    (("net", LENET, "--depth"), "error: --depth needs a value"),
    (("solve", "same", "--input", "3"),
     "error: missing option --k (see 'convcalc solve same --help')"),
    (("verify", LENET, "--format", "csv"),
     "error: --format: 'csv' is not one of table, json (see 'convcalc verify --help')"),
    (("import",), "error: missing argument MODEL (see 'convcalc import --help')"),
    (("import", "model.onnx", "--input", "3x"),
     "error: --input: '3x' is not a shape; write channels first in digits 0-9, e.g. "
     "3x224x224 (C×H×W), 3x100 (C×L) or 1x16x64x64 (C×D×H×W) (see 'convcalc import "
     "--help')"),
    (("import", "model.onnx", "--froce"),
     "error: no such option --froce; did you mean --force? (see 'convcalc import --help')"),
    ((*LAYER, "--allow-unknown"),
     "error: no such option --allow-unknown (see 'convcalc layer --help')"),
    (("net", LENET, "--allow-unknwon"),
     "error: no such option --allow-unknwon; did you mean --allow-unknown? (see 'convcalc "
     "net --help')"),
]


@pytest.mark.parametrize(("args", "line"), CASES, ids=[" ".join(a[:3]) + " " + a[-1]
                                                        for a, _ in CASES])
def test_usage_error_is_one_exact_line(run_cli: Any, args: tuple[str, ...], line: str) -> None:
    """Each usage error prints exactly this one line on stderr, nothing on stdout, exit 2."""
    result = run_cli(*args)
    assert (result.exit_code, result.stderr, result.stdout) == (2, line + "\n", "")


@pytest.mark.parametrize(("args", "line"), [CASES[0], CASES[5], CASES[7], CASES[10]])
def test_usage_error_in_a_real_process(args: tuple[str, ...], line: str) -> None:
    """The installed command line prints the same single line: no rich panel, exit 2."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-m", "convcalc", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stderr == line.replace("'convcalc ", "'python -m convcalc ") + "\n"
    assert done.stdout == ""


def test_nearest_needs_a_close_name() -> None:
    """A typo finds its name; a word unlike every name finds none."""
    assert nearest("--dept", ["--depth", "--dtype", "--help"]) == "--depth"
    assert nearest("frobnicate", ["layer", "net", "diff"]) is None
