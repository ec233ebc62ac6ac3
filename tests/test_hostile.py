"""Hostile inputs: every file in tests/hostile/ runs as a real process and must fail cleanly.

Each case is a file whose first comment lines say how to run it and what it must give::

    # command: net {file} --format json     (the arguments; {file} is this file's path)
    # exit: 2                                (the exit code; default 2)
    # stderr: error: …                       (stderr's first line, exactly; {file} allowed;
                                             a value ending in "…" is a prefix)
    # stdout: …                              (optional: a line stdout must hold, exactly)
    # stdin: file                            (optional: feed this file on standard input)
    # timeout: 20                            (optional: seconds; default 20)
    # limit: 4096                            (optional: address-space limit in MiB)

The process runs under a 4 GiB address-space limit and the timeout, in a temporary
working folder. A case passes when the exit code and the first stderr line are exactly as
written, stderr has one line for exit 2 (the one-line promise), and no traceback is
printed anywhere.
"""

from __future__ import annotations

import os
import resource
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HOSTILE = Path(__file__).resolve().parent / "hostile"
ROOT = HOSTILE.parent.parent


@dataclass(frozen=True)
class Case:
    """One hostile case: the file, the command and what it must give."""

    path: Path
    args: list[str]
    exit_code: int
    stderr: str | None
    stdout: str | None
    stdin: bool
    timeout: float
    limit_mib: int


def _read_case(path: Path) -> Case:
    """Return the case described by the header comments of ``path``."""
    header: dict[str, str] = {}
    with path.open("rb") as handle:
        for raw in handle:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if not line.startswith("# "):
                break
            key, _, value = line[2:].partition(":")
            header[key.strip()] = value.strip()
    if "command" not in header:
        raise AssertionError(f"{path.name}: no '# command:' line")
    file = str(path)
    args = [a.replace("{file}", file) for a in shlex.split(header["command"])]
    stderr = header.get("stderr")
    return Case(
        path=path,
        args=args,
        exit_code=int(header.get("exit", "2")),
        stderr=stderr.replace("{file}", file) if stderr is not None else None,
        stdout=header.get("stdout"),
        stdin=header.get("stdin") == "file",
        timeout=float(header.get("timeout", "20")),
        limit_mib=int(header.get("limit", "4096")),
    )


CASES = sorted(p for p in HOSTILE.iterdir() if p.is_file() and not p.name.startswith("."))


def run_limited(args: list[str], *, stdin: bytes | None, timeout: float, limit_mib: int,
                cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m convcalc ARGS`` under an address-space limit and a timeout."""
    limit = limit_mib * 2**20

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    full_env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb",
                "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "convcalc", *args], input=stdin, capture_output=True,
        timeout=timeout, cwd=cwd, env=full_env, preexec_fn=limit_memory, check=False,
    )


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_hostile_case(path: Path, tmp_path: Path) -> None:
    """The case exits with its code and its one-line message, within its time and memory."""
    case = _read_case(path)
    result = run_limited(case.args, stdin=path.read_bytes() if case.stdin else b"",
                         timeout=case.timeout, limit_mib=case.limit_mib, cwd=tmp_path)
    stderr = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "Traceback" not in result.stdout.decode("utf-8", "replace")
    assert result.returncode == case.exit_code, stderr[-3000:]
    lines = stderr.splitlines()
    if case.stderr is not None and case.stderr.endswith("…"):
        assert lines and lines[0].startswith(case.stderr[:-1]), stderr[-3000:]
    elif case.stderr is not None:
        assert lines and lines[0] == case.stderr, stderr[-3000:]
    if case.stdout is not None:
        printed = result.stdout.decode("utf-8", "replace").splitlines()
        assert case.stdout in [line.rstrip() for line in printed], printed[:20]
    if case.exit_code == 2:
        assert len([line for line in lines if line.startswith("error:")]) == 1, stderr[-3000:]
        assert len(lines) == 1 + len([line for line in lines if line.startswith("warning:")])
        assert len(stderr) < 2000, f"the message is {len(stderr):,} characters"


def test_every_case_has_a_header() -> None:
    """Every file in tests/hostile/ says how to run it and the message it must give."""
    assert CASES, "tests/hostile/ is empty"
    for path in CASES:
        case = _read_case(path)
        # Exit 1 is an answer (no match), not an error: it has no message to pin.
        assert case.stderr is not None or case.exit_code in (0, 1), f"{path.name}: no '# stderr:'"
