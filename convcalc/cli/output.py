"""Writing a command's result to a file or standard output, never over a file by accident."""


import sys
from pathlib import Path
from typing import Annotated

import typer

from convcalc.errors import InputError

__all__ = ["ForceOption", "OutputPathOption", "write_output"]

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
