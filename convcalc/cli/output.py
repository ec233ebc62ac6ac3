"""The output flags: which rows and columns a view shows (``--depth``, ``--columns``,
``--exact``), and writing a result to a file or standard output, never over a file by
accident."""


import difflib
import sys
from pathlib import Path
from typing import Annotated

import typer

from convcalc.errors import InputError
from convcalc.render.columns import ColumnName
from convcalc.textsafe import echo

__all__ = ["ColumnsOption", "DepthOption", "ExactOption", "ForceOption", "OutputPathOption",
           "parse_columns", "write_output"]

COLUMN_NAMES = ", ".join(name.value for name in ColumnName)

DepthOption = Annotated[int | None, typer.Option(
    "--depth", min=0, metavar="N", help="Fold containers deeper than this into their "
    "subtotal rows, in every format (0: top-level rows only).")]
ColumnsOption = Annotated[str | None, typer.Option(
    "--columns", metavar="NAMES", help=f"The columns after name and type, in order, comma "
    f"separated (table, markdown, csv): {COLUMN_NAMES}. Default: every one but input and "
    "the shares.")]
ExactOption = Annotated[bool, typer.Option(
    "--exact", help="Full integers in the table and Markdown (11,689,512, not 11.7 M).")]


def parse_columns(text: str | None) -> tuple[ColumnName, ...] | None:
    """Return the columns ``--columns`` names, in its order; None when it is not given.

    Raises InputError naming the first unknown name, with the nearest known one.
    """
    if text is None:
        return None
    names = [part.strip().lower().replace("_", "-") for part in text.split(",")]
    known = [name.value for name in ColumnName]
    picked: list[ColumnName] = []
    for name in names:
        if name not in known:
            near = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            what = f"unknown column {echo(name)}" if name else "an empty column name"
            raise InputError(f"--columns: {what}; {hint}it takes: {COLUMN_NAMES}")
        if ColumnName(name) not in picked:
            picked.append(ColumnName(name))
    return tuple(picked)

OutputPathOption = Annotated[str | None, typer.Option(
    "--output", "-o", help="File to write; - or none prints on standard output.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace the output file if it "
                                                            "exists.")]


def write_output(content: str | bytes, path: str | None, force: bool) -> None:
    """Write ``content`` to ``path``, or to standard output when it is None or ``-``.

    Raises InputError (exit 2) when the file exists and ``force`` is not set, or when it
    cannot be written; an existing file is left as it was.
    """
    if path is None or path == "-":
        if isinstance(content, bytes):
            sys.stdout.buffer.write(content)
        else:
            sys.stdout.write(content)
        sys.stdout.flush()
        return
    target = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        if target.is_dir():
            raise InputError("is a directory; give a file name", source=path)
        # "x" creates the file only if it is not there, so no race replaces one either.
        with target.open("wb" if force else "xb") as handle:
            handle.write(data)
    except FileExistsError:
        raise InputError("already exists; pass --force to replace it", source=path) from None
    except FileNotFoundError:
        raise InputError(f"cannot write: no directory {str(target.parent)!r}",
                         source=path) from None
    except PermissionError:
        raise InputError("cannot write: permission denied", source=path) from None
    except OSError as error:  # a name too long, a full disk, a read-only file system
        raise InputError(f"cannot write: {(error.strerror or str(error)).lower()}",
                         source=path) from None
