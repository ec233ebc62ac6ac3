"""Where a command's network comes from: a file, standard input or ``zoo:NAME``, and
``--input`` in place of the file's input shape.

A file whose name ends in ``.onnx``, or ONNX bytes on standard input, is imported here
(``convcalc.onnx_import``, which loads the ``onnx`` package only then), for every command
that opens a network: the import's network, its batch and its warnings travel with the
source (``ImportedSource``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from convcalc import zoo
from convcalc.cli.params import input_shape_or_reason
from convcalc.common import shape_text
from convcalc.errors import InputError, NetworkFileError, VerificationFailed
from convcalc.loader import (
    MAX_FILE_BYTES,
    NetworkSource,
    input_note,
    load_network,
    network_from_data,
    parse_network_bytes,
    read_stdin,
)
from convcalc.textsafe import printable

__all__ = ["ONNX_SUFFIX", "ZOO_PREFIX", "AllowUnknownOption", "ImportedSource", "InputOption",
           "NetworkArgument", "ResizedSource", "import_model", "input_noted", "is_onnx_name",
           "open_network", "parse_input", "print_import_warnings", "print_input_note",
           "shape_of"]

ZOO_PREFIX = "zoo:"
"""A network source starting with this names a built-in entry (``zoo:resnet50``)."""
ONNX_SUFFIX = ".onnx"
"""A file whose name ends in this (any case) is an ONNX model, imported."""

def _shape_or_reason(text: str) -> tuple[int, ...] | str:
    """Return the shape ``text`` spells, or, worded as for a file's ``input``, what is wrong."""
    return input_shape_or_reason(text)


def shape_of(text: str, flag: str = "--input") -> tuple[int, ...]:
    """Return the shape ``text`` spells; raise InputError naming ``flag`` when it is not one."""
    shape = _shape_or_reason(text)
    if isinstance(shape, str):
        raise InputError(f"{flag}: {shape}")
    return shape


def parse_input(value: Any) -> str:
    """Return ``--input`` as given once it spells a shape (a typer ``parser``); raise
    ValueError saying what is wrong otherwise."""
    reason = _shape_or_reason(str(value))
    if isinstance(reason, str):
        raise ValueError(reason)
    return str(value)


NetworkArgument = Annotated[str, typer.Argument(
    metavar="FILE", help="Network YAML file, or an ONNX model (.onnx); - reads standard "
    "input; zoo:NAME a built-in network (convcalc zoo lists them).")]
AllowUnknownOption = Annotated[bool, typer.Option(
    "--allow-unknown", help="ONNX: import each node of an operator convcalc does not know "
    "as an unknown row of zero cost (the totals are then lower bounds) instead of "
    "refusing the model.")]
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


@dataclass(frozen=True)
class ImportedSource(NetworkSource):
    """A network imported from an ONNX model.

    Attributes:
        batch: the batch the model's input fixes, the default ``--batch``; None when it is
            symbolic.
        import_warnings: the import's warnings, one line each (unknown operators counted
            as zero, under ``--allow-unknown``).
        data: the network file as the importer gave it, plain data (what ``convcalc
            import`` writes).
    """

    batch: int | None = None
    import_warnings: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _ResizedImport(ResizedSource, ImportedSource):
    """An imported model whose input shape ``--input`` replaced."""


def is_onnx_name(file: str) -> bool:
    """Return whether ``file`` names an ONNX model by its suffix (``model.onnx``)."""
    return file.lower().endswith(ONNX_SUFFIX)


def import_model(file: str, data: bytes | None = None, input_shape: tuple[int, ...] | None
                 = None, allow_unknown: bool = False) -> ImportedSource:
    """Return the network of the ONNX model ``file`` (its bytes ``data`` when given: from
    standard input), its symbolic dims taken from ``input_shape``.

    Raises InputError (one line, naming the file) when the model cannot be read or
    imported, the ``onnx`` extra is missing, or it has operators convcalc does not know
    and ``allow_unknown`` is not set.
    """
    from convcalc.onnx_import import import_onnx  # loads onnx only for an ONNX model

    name = "<stdin>" if file == "-" else file
    if data is not None and len(data) > MAX_FILE_BYTES:  # read_stdin stops one byte past
        raise NetworkFileError(f"larger than the limit of {MAX_FILE_BYTES // 2**20} MiB on "
                               "standard input; give the model's file name instead",
                               source=name)
    try:
        imported = import_onnx(data if data is not None else file, name=name,
                               input_shape=input_shape, allow_unknown=allow_unknown)
    except InputError as error:  # every line names the model, as a file's errors do
        error.source = error.source or name
        raise
    source = network_from_data(imported.network, name)
    return ImportedSource(source.network, name, None, batch=imported.batch,
                          import_warnings=tuple(imported.warnings), data=imported.network)


def _opened(file: str, shape: tuple[int, ...] | None, allow_unknown: bool) -> NetworkSource:
    """Return the network ``file`` names: a zoo entry, an ONNX model, or a network file."""
    if file.startswith(ZOO_PREFIX):
        return zoo.source(file[len(ZOO_PREFIX):])
    if is_onnx_name(file):
        return import_model(file, input_shape=shape, allow_unknown=allow_unknown)
    if file != "-":
        return load_network(file)
    data = read_stdin()
    from convcalc.onnx_import import looks_like_onnx  # a sniff of the first bytes: no onnx

    if looks_like_onnx(data):
        return import_model(file, data, shape, allow_unknown)
    return parse_network_bytes(data, "<stdin>")


def open_network(file: str, input_shape: str | None = None,
                 flag: str = "--input", allow_unknown: bool = False) -> NetworkSource:
    """Return the network ``file`` names (``zoo:NAME``: a built-in entry; ``.onnx`` or ONNX
    bytes on ``-``: an imported model), at ``input_shape`` when one is given.

    An ONNX model takes ``input_shape`` for its symbolic dims; ``allow_unknown`` imports
    its unknown operators as ``unknown`` rows instead of refusing them.

    Raises InputError for a file that cannot be read or imported, an unknown zoo name, or a
    shape that is not one (``flag`` names where it came from).
    """
    shape = None if input_shape is None else shape_of(input_shape, flag)
    source = _opened(file, shape, allow_unknown)
    if shape is None or shape == source.network.input:
        return source
    network = source.network.model_copy(update={"input": shape})
    if isinstance(source, ImportedSource):  # the model fixed its dims: resized, as a file
        return _ResizedImport(network, source.name, None, batch=source.batch,
                              import_warnings=source.import_warnings, data=source.data,
                              file_input=source.network.input, flag=flag)
    return ResizedSource(network, source.name, source.text, file_input=source.network.input,
                         flag=flag)


@contextmanager
def input_noted(*sources: NetworkSource, import_warnings: bool = False) -> Iterator[None]:
    """Print, on stderr, a note for each source whose input was replaced, once the command
    has done its work (exit 0, or 1 for verify's mismatch): an invalid input keeps its
    stderr to the one error line. With ``import_warnings`` (a command whose report does
    not carry them), an imported model's warnings come first."""
    try:
        yield
    except VerificationFailed:
        _note(sources, import_warnings)
        raise
    _note(sources, import_warnings)


def print_import_warnings(source: NetworkSource) -> None:
    """Print, on stderr, an imported model's warnings, one line each."""
    if isinstance(source, ImportedSource):
        for warning in source.import_warnings:
            print(f"warning: {printable(warning)}", file=sys.stderr)


def _note(sources: tuple[NetworkSource, ...], import_warnings: bool) -> None:
    for source in sources:
        if import_warnings:
            print_import_warnings(source)
        if isinstance(source, ResizedSource):
            print(source.note(), file=sys.stderr)
        print_input_note(source)


def print_input_note(source: NetworkSource) -> None:
    """Print, on stderr, how the source's input shape was read when its rank may not be the
    one meant (``32x32`` read as 1-D, ``1x3x224x224`` as 3-D)."""
    reading = input_note(source.network.input)
    if reading is not None:
        print(f"note: {reading}", file=sys.stderr)
