"""The one place an exception becomes a line on stderr and an exit code.

Exit codes (docs/reliability.md)::

    0    done
    1    verify ran and found a mismatch (VerificationFailed)
    2    invalid input or usage, or output that could not be written: one ``error:`` line
    3    an internal error: one line asking for a report, the traceback saved to a file
    130  interrupted (Ctrl-C), quietly
    141  standard output closed early (a broken pipe, ``| head``), quietly, as a tool
         killed by SIGPIPE gives

The streams are made safe first (``prepare_streams``): a closed stdin, stdout or stderr
becomes a stream that fails the way a write to a bad descriptor fails, and text a stream's
encoding cannot hold (× under ``PYTHONIOENCODING=ascii`` or a C locale) is written as its
ASCII look-alike or a backslash escape instead of raising.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import io
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from typing import Any

from typer import Abort, Exit
from typer._click.exceptions import ClickException

from convcalc.errors import ConvcalcError
from convcalc.textsafe import printable, shorten

__all__ = [
    "ENCODE_ERRORS",
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "exit_code_of",
    "finish_output",
    "prepare_streams",
    "run_guarded",
]

EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
MAX_MESSAGE = 1000
"""The most characters of an error message printed: the line stays readable."""

ENCODE_ERRORS = "convcalc-plain"
"""The encode error handler set on stdout and stderr (registered on import)."""

# What the tables and messages use beyond ASCII, as people would type it in ASCII.
_PLAIN = {
    "×": "x", "−": "-", "–": "-", "—": "-", "…": "...", "≤": "<=", "≥": ">=", "≈": "~",
    "→": "->", "←": "<-", "─": "-", "│": "|", "█": "#", "▏": "|", "▎": "|", "▍": "|",
    "▌": "|", "▋": "|", "▊": "|", "▉": "|", "·": ".", "’": "'", "‘": "'", "“": '"',
    "”": '"', "✓": "ok", "✗": "NO", "²": "2", "³": "3", "ⁿ": "n", "\u00a0": " ",
}

# A write that fails with one of these (and no file name) is standard output failing.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF})


def _plain(error: UnicodeError) -> tuple[str, int]:
    """Replace what the encoding cannot hold by its ASCII look-alike or an escape."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(_PLAIN.get(c) or _escape(c) for c in text), error.end


def _escape(char: str) -> str:
    """Return ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN`` for one character."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


codecs.register_error(ENCODE_ERRORS, _plain)


class _ClosedStream(io.TextIOBase):
    """Stands in for a standard stream the process was started without (``>&-``)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    @property
    def name(self) -> str:
        return f"<{self._name}>"

    def _fail(self, *_: Any) -> Any:
        raise OSError(errno.EBADF, f"standard {self._name} is closed",
                      f"<{self._name}>" if self._name == "input" else None)

    read = readline = write = _fail

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return self._name == "input"

    def writable(self) -> bool:
        return self._name != "input"


def prepare_streams() -> None:
    """Make closed standard streams fail cleanly and every stream able to print any text."""
    if sys.stdin is None:
        sys.stdin = _ClosedStream("input")
    if sys.stdout is None:
        sys.stdout = _ClosedStream("output")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            # A stream already written to, or detached, keeps its handler.
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors=ENCODE_ERRORS)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # no descriptor (a test's captured stream): no final flush to fail either


def finish_output() -> None:
    """Flush stdout, so output that cannot be written is an error and not exit 0."""
    sys.stdout.flush()


def _interrupted(error: BaseException) -> bool:
    """Tell whether ``error`` is, or wraps, a Ctrl-C (numba wraps it in a SystemError)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, (KeyboardInterrupt, Abort)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _say(message: str) -> None:
    """Print one ``error:`` line on stderr, whatever the message holds."""
    line = shorten(printable(" ".join(message.split())), MAX_MESSAGE)
    with contextlib.suppress(OSError, ValueError):  # stderr gone: the exit code says it
        print(f"error: {line}", file=sys.stderr, flush=True)


def _save_traceback(error: BaseException) -> str:
    """Write the traceback to a new file under the temp folder and return its path."""
    handle, path = tempfile.mkstemp(prefix="convcalc-crash-", suffix=".txt")
    with os.fdopen(handle, "w", encoding="utf-8", errors="backslashreplace") as file:
        file.write(f"convcalc {_version()} on Python {sys.version.split()[0]}\n")
        file.write(f"argv: {sys.argv!r}\n\n")
        traceback.print_exception(error, file=file)
    return path


def _version() -> str:
    from convcalc import __version__

    return __version__


def _internal(error: BaseException) -> int:
    try:
        detail = str(error)
    except Exception:
        detail = ""
    what = f"{type(error).__name__}: {shorten(detail, 200)}" if detail else type(error).__name__
    try:
        where = f"please report it with {_save_traceback(error)}"
    except OSError as failure:
        where = f"please report it (the traceback could not be saved: {failure.strerror})"
    _say(f"internal error ({what}); {where}")
    return EXIT_INTERNAL


def exit_code_of(error: BaseException) -> int:
    """Print what ``error`` means on stderr (one line, or nothing) and return the exit code."""
    if isinstance(error, Exit):
        return error.exit_code
    if _interrupted(error):
        return EXIT_INTERRUPTED
    if isinstance(error, ConvcalcError):
        _say(str(error))
        return error.exit_code
    if isinstance(error, ClickException):
        from convcalc.cli.usage import usage_message  # only a usage error needs it

        _say(usage_message(error))
        return EXIT_USAGE
    if isinstance(error, OSError):
        if error.errno == errno.EPIPE:
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        if error.errno in _WRITE_ERRNOS and error.filename is None:
            _silence_stdout()
            _say(f"could not write output: {(error.strerror or str(error)).lower()}")
            return EXIT_USAGE
        name = f"{error.filename}: " if error.filename else ""
        _say(f"{name}{(error.strerror or str(error)).lower()}")
        return EXIT_USAGE
    if isinstance(error, Exception):
        return _internal(error)
    raise error  # SystemExit and the like are not ours to map


def run_guarded(command: Callable[[], Any]) -> int:
    """Run ``command``, flush its output, and return the exit code it earned."""
    try:
        result = command()
        finish_output()
    except BaseException as error:
        return exit_code_of(error)
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
