"""Where a command's network comes from: a file, standard input or ``zoo:NAME``, and
``--input`` in place of the file's input shape."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from convcalc import zoo
from convcalc.cli.params import input_shape_or_reason
from convcalc.common import shape_text
from convcalc.errors import InputError, VerificationFailed
from convcalc.loader import NetworkSource, input_note, load_network
from convcalc.textsafe import printable

__all__ = ["ZOO_PREFIX", "InputOption", "NetworkArgument", "ResizedSource", "input_noted",
           "open_network", "parse_input", "print_input_note"]

ZOO_PREFIX = "zoo:"
"""A network source starting with this names a built-in entry (``zoo:resnet50``)."""

def _shape_or_reason(text: str) -> tuple[int, ...] | str:
    """Return the shape ``text`` spells, or, worded as for a file's ``input``, what is wrong."""
    return input_shape_or_reason(text)


def parse_input(value: Any) -> str:
    """Return ``--input`` as given once it spells a shape (a typer ``parser``); raise
    ValueError saying what is wrong otherwise."""
    reason = _shape_or_reason(str(value))
    if isinstance(reason, str):
        raise ValueError(reason)
    return str(value)


NetworkArgument = Annotated[str, typer.Argument(
    metavar="FILE", help="Network YAML file; - reads standard input; zoo:NAME a built-in "
    "network (convcalc zoo lists them).")]
InputOption = Annotated[str | None, typer.Option(
    "--input", "-i", parser=parse_input, metavar="SHAPE",
    help="Analyse at this input shape instead of the file's, channels first: 3x512x512.")]


@dataclass(frozen=True)
class ResizedSource(NetworkSource):
    """A network source whose input shape ``--input`` replaced.

    Attributes:
        file_input: the input shape the file itself gives.
        flag: the flag that gave the new shape, for messages.
    """

    file_input: tuple[int, ...] = ()
    flag: str = "--input"

    def annotate(self, error: InputError) -> InputError:
        """Return ``error`` located in the file, saying which input it arose at: the file's
        line numbers stay right, its written input no longer applies."""
        error = super().annotate(error)
        suffix = f" (at the input {shape_text(self.network.input)} from {self.flag})"
        if not error.message.endswith(suffix):
            error.message += suffix
        return error

    def note(self) -> str:
        """Return the line saying that the input was replaced."""
        return (f"note: {printable(self.name)} analysed at the input "
                f"{shape_text(self.network.input)} ({self.flag}), not its own "
                f"{shape_text(self.file_input)}")


def open_network(file: str, input_shape: str | None = None,
                 flag: str = "--input") -> NetworkSource:
    """Return the network ``file`` names (``zoo:NAME``: a built-in entry), at
    ``input_shape`` when one is given.

    Raises InputError for a file that cannot be read, an unknown zoo name, or a shape that
    is not one (``flag`` names where it came from).
    """
    if file.startswith(ZOO_PREFIX):
        source = zoo.source(file[len(ZOO_PREFIX):])
    else:
        source = load_network(file)
    if input_shape is None:
        return source
    shape = _shape_or_reason(input_shape)
    if isinstance(shape, str):
        raise InputError(f"{flag}: {shape}")
    if shape == source.network.input:
        return source
    network = source.network.model_copy(update={"input": shape})
    return ResizedSource(network, source.name, source.text, file_input=source.network.input,
                         flag=flag)


@contextmanager
def input_noted(*sources: NetworkSource) -> Iterator[None]:
    """Print, on stderr, a note for each source whose input was replaced, once the command
    has done its work (exit 0, or 1 for verify's mismatch): an invalid input keeps its
    stderr to the one error line."""
    try:
        yield
    except VerificationFailed:
        _note(sources)
        raise
    _note(sources)


def _note(sources: tuple[NetworkSource, ...]) -> None:
    for source in sources:
        if isinstance(source, ResizedSource):
            print(source.note(), file=sys.stderr)
        print_input_note(source)


def print_input_note(source: NetworkSource) -> None:
    """Print, on stderr, how the source's input shape was read when its rank may not be the
    one meant (``32x32`` read as 1-D, ``1x3x224x224`` as 3-D)."""
    reading = input_note(source.network.input)
    if reading is not None:
        print(f"note: {reading}", file=sys.stderr)
