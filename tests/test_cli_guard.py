"""The top-level guard: every exception becomes one line and an exit code, on every path."""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

import pytest

import convcalc.cli.calc
from convcalc.cli.guard import ENCODE_ERRORS
from convcalc.cli.params import whole_number
from convcalc.cli.verify import MAX_MEMORY, parse_memory
from convcalc.errors import InputError
from convcalc.render.cells import csv_cell, markdown_cell
from convcalc.render.numbers import compact, human_bytes

ROOT = Path(__file__).resolve().parent.parent
LENET = str(ROOT / "examples" / "lenet5.yaml")


def _raising(error: BaseException) -> Any:
    def fail(*_: Any, **__: Any) -> Any:
        raise error

    return fail


def test_internal_error_is_exit_3_with_the_traceback_saved(
        run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception is one 'please report' line, exit 3, and a traceback file."""
    monkeypatch.setattr(convcalc.cli.calc, "report_of", _raising(RuntimeError("boom")))
    result = run_cli("net", LENET)
    assert result.exit_code == 3
    match = re.fullmatch(r"error: internal error \(RuntimeError: boom\); please report it "
                         r"with (\S+)\n", result.stderr)
    assert match is not None, result.stderr
    saved = Path(match.group(1))
    try:
        text = saved.read_text()
        assert "Traceback (most recent call last)" in text
        assert "RuntimeError: boom" in text
    finally:
        saved.unlink()


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemError("wrapped")])
def test_interrupt_is_exit_130_and_quiet(run_cli: Any, monkeypatch: pytest.MonkeyPatch,
                                         error: BaseException) -> None:
    """Ctrl-C, also as numba's SystemError wrapping KeyboardInterrupt, exits 130 quietly."""
    if isinstance(error, SystemError):
        error.__cause__ = KeyboardInterrupt()
    monkeypatch.setattr(convcalc.cli.calc, "report_of", _raising(error))
    result = run_cli("net", LENET)
    assert (result.exit_code, result.stderr) == (130, "")


def test_convcalc_error_is_one_line_with_controls_escaped(
        run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An input error prints one line, with a newline or ESC in it shown escaped."""
    monkeypatch.setattr(convcalc.cli.calc, "report_of",
                        _raising(InputError("bad\nname \x1b[2J here")))
    result = run_cli("net", LENET)
    assert (result.exit_code, result.stderr) == (2, "error: bad name \\x1b[2J here\n")


def test_disk_full_is_exit_2(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails with ENOSPC is 'could not write output', exit 2."""
    monkeypatch.setattr(convcalc.cli.calc, "report_of",
                        _raising(OSError(28, "No space left on device")))
    result = run_cli("net", LENET)
    assert (result.exit_code, result.stderr) == (
        2, "error: could not write output: no space left on device\n")


def test_usage_error_is_one_line_naming_the_flag(run_cli: Any) -> None:
    """A bad flag value is one line naming the flag, not a panel."""
    result = run_cli("net", LENET, "--batch", "0")
    assert result.exit_code == 2
    assert result.stderr == ("error: --batch: expected a whole "
                             "number from 1 to 1,000,000,000, got 0 (see 'convcalc net "
                             "--help')\n")


@pytest.mark.parametrize(("text", "expected"), [
    ("12", 12), ("+3", 3), (" 7 ", 7),
    ("0", "expected a whole number from 1 to 100, got 0"),
    ("101", "expected a whole number from 1 to 100, got 101"),
    ("²", "expected a whole number from 1 to 100 (ASCII digits), got '²'"),
    ("٣", "expected a whole number from 1 to 100 (ASCII digits), got '٣'"),
    ("1e3", "expected a whole number from 1 to 100 (ASCII digits), got '1e3'"),
    ("9" * 5000, "expected a whole number from 1 to 100, got a number of 5,000 digits"),
])
def test_whole_number(text: str, expected: int | str) -> None:
    """Whole-number flags take ASCII digits within their bound, and say which rule broke."""
    assert whole_number(text, 1, 100) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("2G", 2 * 1024**3), ("1.5GiB", 3 * 1024**3 // 2), ("512m", 512 * 1024**2),
    ("1000000", 1_000_000), ("1024T", MAX_MEMORY),
])
def test_parse_memory(text: str, expected: int) -> None:
    """--max-memory reads bytes and 1024-based units up to 1024T."""
    assert parse_memory(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("1025T", "--max-memory: '1025T' is more than the largest allowed, 1024T (1 PiB)"),
    ("9" * 400, "--max-memory: '" + "9" * 60 + "…' (400 characters) is more than the "
     "largest allowed, 1024T (1 PiB)"),
    ("²G", "--max-memory: '²G' is not a size; write bytes or a number with K, M, G or T "
     "(powers of 1024): 512M, 2G, 1.5GiB"),
])
def test_parse_memory_bounds(text: str, message: str) -> None:
    """--max-memory past 1024T, with 400 digits or other scripts' digits is refused."""
    with pytest.raises(InputError) as caught:
        parse_memory(text)
    assert str(caught.value) == message


def test_encode_handler_writes_ascii_look_alikes() -> None:
    """Text an encoding cannot hold prints as x, -, ..., <= or a backslash escape."""
    text = "3×224 − 1 … ≤ ─ é 😀"
    assert codecs.encode(text, "ascii", ENCODE_ERRORS) == b"3x224 - 1 ... <= - \\xe9 \\U0001f600"
    assert codecs.encode("\ud800", "utf-8", ENCODE_ERRORS) == b"\\ud800"


@pytest.mark.parametrize(("name", "cell"), [
    ("=HYPERLINK(1)", "'=HYPERLINK(1)"), ("+1+2", "'+1+2"), ("-cmd", "'-cmd"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("-1", "-1"), ("+2.5", "+2.5"),
    ("-1e3", "-1e3"), ("conv1", "conv1"), ("a=b", "a=b"),
])
def test_csv_cell_defuses_formulas(name: str, cell: str) -> None:
    """A CSV cell starting = + - @ tab gets a leading quote; plain numbers stay numbers."""
    assert csv_cell(name) == cell


def test_markdown_cell_escapes_pipes_and_controls() -> None:
    """A Markdown cell shows | literally and control or bidi characters escaped."""
    assert markdown_cell("a|b\x1b[31m\u202e<x>") == "a\\|b\\x1b[31m\\u202e&lt;x>"


def test_huge_counts_print_by_magnitude() -> None:
    """Counts past 10^21 print as ~1eN, never an OverflowError from float."""
    assert human_bytes(10**400) == "~1e400 B"
    assert compact(-(10**25)) == "-~1e25"
    assert human_bytes(5 * 1024**5) == "5.00 PiB"


def test_net_csv_and_markdown_keep_names_safe(run_cli: Any, tmp_path: Path) -> None:
    """net's CSV defuses a formula name and Markdown escapes its pipe and ESC."""
    path = tmp_path / "n.yaml"
    path.write_text('input: 1x4x4\nlayers:\n  - {type: relu, name: "=1+1"}\n'
                    '  - {type: relu, name: "a|b\\e[0m"}\n')
    csv = run_cli("net", str(path), "--format", "csv").stdout.splitlines()
    assert [line.split(",")[0] for line in csv[1:]] == ["'=1+1", "a|b\x1b[0m"]
    markdown = run_cli("net", str(path), "--format", "markdown").stdout
    assert "| a\\|b\\x1b[0m | relu |" in markdown
    table = run_cli("net", str(path)).stdout
    assert "\x1b" not in table and "a|b\\x1b[0m" in table
