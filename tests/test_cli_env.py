"""Every command under every hostile environment: no traceback, the right exit code.

The environments: stdin closed, stdout closed, stdout on /dev/full, PYTHONIOENCODING=ascii,
a C locale without UTF-8, a read-only install with a read-only HOME, and a corrupted numba
cache. Each command runs as a real process (``python -m convcalc``) on small inputs; the
runs go two at a time, and verify's kernels are compiled once into a shared cache.
"""

from __future__ import annotations

import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMALL = """\
name: small
input: 3x16x16
layers:
  - {type: conv, name: c1, filters: 4, kernel: 3, padding: 1}
  - relu
  - global_avgpool
  - {type: linear, name: fc, units: 10}
"""
RELU = "input: 4\nlayers:\n  - relu\n"
"""verify's network: its few kernels compile in about a second."""

CLOSED = "error: could not write output: standard output is closed"
FULL = "error: could not write output: no space left on device"


def _commands(folder: Path, out: Path) -> dict[str, list[str]]:
    """Return every command of the CLI with small arguments, by a short name."""
    small, relu = str(folder / "small.yaml"), str(folder / "relu.yaml")
    return {
        "layer": ["layer", "--input", "3x8x8", "--filters", "2", "--k", "3"],
        "net": ["net", small],
        "net-explain": ["net", small, "--explain"],
        "verify": ["verify", relu],
        "solve": ["solve", "--input", "1x32", "--output-size", "16"],
        "solve-same": ["solve", "same", "--input", "1x32", "--k", "3", "--stride", "2"],
        "solve-inputs": ["solve", "inputs", small, "--max", "20"],
        "diff": ["diff", small, small],
        "export": ["export", small, "--to", "pytorch"],
        "schema": ["schema"],
        "plot": ["plot", small, "-o", str(out / "figure.png"), "--force"],
    }


WRITES_A_FILE = {"plot"}
"""Commands whose result goes to a file: a closed or full stdout does not stop them."""


@dataclass(frozen=True)
class Environment:
    """A hostile environment: extra variables, what happens to stdin and stdout."""

    name: str
    env: dict[str, str]
    stdin_closed: bool = False
    stdout: str = "pipe"  # pipe, closed or full
    ascii_only: bool = False


def _run(args: list[str], environment: Environment, cwd: Path,
         pythonpath: Path) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m convcalc ARGS`` in ``environment`` under 4 GiB and a timeout."""
    limit = 4 * 2**30

    def prepare() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if environment.stdin_closed:
            os.close(0)
        if environment.stdout == "closed":
            os.close(1)

    env = {key: value for key, value in os.environ.items()
           if key not in ("NUMBA_CACHE_DIR", "LC_ALL", "LANG", "PYTHONIOENCODING",
                          "XDG_CACHE_HOME")}
    env.update({"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb",
                "PYTHONPATH": str(pythonpath), **environment.env})
    stdout = subprocess.PIPE
    full = None
    if environment.stdout == "full":
        full = open("/dev/full", "wb")  # noqa: SIM115 - closed below
        stdout = full
    try:
        return subprocess.run(
            [sys.executable, "-m", "convcalc", *args], stdin=subprocess.DEVNULL,
            stdout=stdout, stderr=subprocess.PIPE, cwd=cwd, env=env, preexec_fn=prepare,
            timeout=60, check=False)
    finally:
        if full is not None:
            full.close()


def _readable_dir(prefix: str, mode: int = 0o755) -> Path:
    """Return a new folder with permissions ``mode``."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(mode)
    return folder


@dataclass
class Setup:
    """The folders and environments of one session of this test."""

    inputs: Path
    out: Path
    read_only: Path
    environments: list[Environment]


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    """Warm a numba cache, make a corrupted copy and a read-only install, list the cases."""
    inputs = _readable_dir("convcalc-env-inputs-")
    (inputs / "small.yaml").write_text(SMALL)
    (inputs / "relu.yaml").write_text(RELU)
    out = _readable_dir("convcalc-env-out-", 0o777)
    cache = Path(tempfile.mkdtemp(prefix="convcalc-env-cache-"))
    plain = Environment("plain", {"NUMBA_CACHE_DIR": str(cache)})
    warm = _run(["verify", str(inputs / "relu.yaml")], plain, inputs, ROOT)
    assert warm.returncode == 0, warm.stderr.decode()
    corrupt = Path(tempfile.mkdtemp(prefix="convcalc-env-corrupt-"))
    shutil.copytree(cache, corrupt, dirs_exist_ok=True)
    damaged = [p for p in corrupt.rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert damaged, "the warm-up cached nothing"
    for path in damaged:
        path.write_bytes(b"\x80\x04not a pickle")

    # Root writes through any permission bits, so the install's cache folder is a file,
    # which nobody can create a folder in, and HOME is a folder of /dev/null; other users
    # also get the permission bits taken away.
    read_only = _readable_dir("convcalc-env-ro-")
    shutil.copytree(ROOT / "convcalc", read_only / "convcalc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (read_only / "convcalc" / "reference" / "__pycache__").write_text("")
    home = "/dev/null/home"
    if os.getuid() != 0:
        for path in [read_only, *read_only.rglob("*")]:
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    shared = {"NUMBA_CACHE_DIR": str(cache)}
    yield Setup(inputs, out, read_only, [
        Environment("stdin-closed", shared, stdin_closed=True),
        Environment("stdout-closed", shared, stdout="closed"),
        Environment("stdout-full", shared, stdout="full"),
        Environment("ascii", {**shared, "PYTHONIOENCODING": "ascii"}, ascii_only=True),
        Environment("c-locale", {**shared, "LC_ALL": "C", "PYTHONUTF8": "0",
                                 "PYTHONCOERCECLOCALE": "0"}, ascii_only=True),
        Environment("read-only", {"HOME": home}),
        Environment("corrupt-cache", {"NUMBA_CACHE_DIR": str(corrupt)}),
    ])
    for path in [read_only, *read_only.rglob("*")]:
        path.chmod(0o755)  # so rmtree can remove it
    for folder in (inputs, out, cache, corrupt, read_only):
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Outcome:
    """One command's run in one environment."""

    environment: Environment
    command: str
    result: subprocess.CompletedProcess[bytes]


@pytest.fixture(scope="module")
def outcomes(setup: Setup) -> dict[tuple[str, str], Outcome]:
    """Run every command in every environment, two at a time."""
    commands = _commands(setup.inputs, setup.out)
    jobs: list[tuple[Environment, str, Callable[[], subprocess.CompletedProcess[bytes]]]] = []
    for environment in setup.environments:
        pythonpath = setup.read_only if environment.name == "read-only" else ROOT
        cwd = setup.read_only if environment.name == "read-only" else setup.inputs
        for name, args in commands.items():
            jobs.append((environment, name, lambda a=args, e=environment, c=cwd, p=pythonpath:
                         _run(a, e, c, p)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [(e, n, pool.submit(job)) for e, n, job in jobs]
        return {(e.name, n): Outcome(e, n, f.result()) for e, n, f in futures}


ENVIRONMENTS = ["stdin-closed", "stdout-closed", "stdout-full", "ascii", "c-locale",
                "read-only", "corrupt-cache"]
COMMANDS = list(_commands(Path("."), Path(".")))


def _expected(environment: str, command: str) -> tuple[int, str | None]:
    """Return the exit code and first stderr line a command must give in an environment."""
    if command not in WRITES_A_FILE:
        if environment == "stdout-closed":
            return 2, CLOSED
        if environment == "stdout-full":
            return 2, FULL
    return 0, None


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_command_in_hostile_environment(outcomes: dict[tuple[str, str], Outcome],
                                        environment: str, command: str) -> None:
    """The command gives no traceback and its exit code: 0, or 2 with one line when its
    output cannot be written."""
    outcome = outcomes[(environment, command)]
    stderr = outcome.result.stderr.decode("utf-8", "replace")
    stdout = (outcome.result.stdout or b"").decode("utf-8", "replace")
    assert "Traceback" not in stderr + stdout, stderr[-3000:]
    code, line = _expected(environment, command)
    assert outcome.result.returncode == code, stderr[-3000:]
    if line is not None:
        errors = [text for text in stderr.splitlines() if text.startswith("error:")]
        assert errors == [line], stderr
    if outcome.environment.ascii_only and outcome.result.stdout:
        outcome.result.stdout.decode("ascii")  # × and ─ were written as x and -
    if environment == "corrupt-cache" and command == "verify":
        assert "warning: the numba cache in " in stderr, stderr
        assert "could not be read (" in stderr, stderr


def test_ascii_output_uses_look_alikes(outcomes: dict[tuple[str, str], Outcome]) -> None:
    """Under PYTHONIOENCODING=ascii the shape 3×16×16 prints as 3x16x16."""
    stdout = outcomes[("ascii", "net")].result.stdout.decode("ascii")
    assert "small: input 3x16x16, batch 1" in stdout


def test_closed_stdin_is_an_input_error(setup: Setup) -> None:
    """``net -`` with stdin closed is one error line and exit 2, not a traceback."""
    environment = Environment("stdin-closed", {}, stdin_closed=True)
    result = _run(["net", "-"], environment, setup.inputs, ROOT)
    stderr = result.stderr.decode()
    assert (result.returncode, "Traceback" in stderr) == (2, False), stderr
    assert stderr.startswith("error: <stdin>: ") and stderr.count("\n") == 1, stderr


def test_broken_pipe_exits_141_quietly(setup: Setup) -> None:
    """A reader that went away (``| head``) gives exit 141 and nothing on stderr."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "convcalc", "net", str(setup.inputs / "small.yaml")],
            stdout=write, stderr=subprocess.PIPE, timeout=60, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (141, b"")
