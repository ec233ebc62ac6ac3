"""``convcalc solve``: the kernel settings for an output size, ``same`` padding, input sizes."""


import dataclasses
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from convcalc.cli.app import FormatOption, OutputFormat, app
from convcalc.cli.progress import lazy_progress
from convcalc.cli.sources import (
    AllowUnknownOption,
    InputOption,
    NetworkArgument,
    input_noted,
    open_network,
)
from convcalc.common import shape_text
from convcalc.errors import InputError
from convcalc.layers.window import WindowKind
from convcalc.solve import Requirement, solve_inputs, solve_same, solve_window
from convcalc.textsafe import echo

__all__ = ["inputs", "same", "solve"]


FLAG_OF_PARAMETER = {
    "size": "--input", "output": "--output-size", "kernel": "--k", "stride": "--stride",
    "padding": "--pad", "dilation": "--dilation", "max_kernel": "--max-k",
    "max_stride": "--max-stride", "max_padding": "--max-pad", "max_dilation": "--max-dilation",
    "ceil_mode": "--ceil-mode", "dim": "--dim", "minimum": "--min", "maximum": "--max",
}
"""The flag of each parameter of convcalc.solve's functions that its errors name."""

solve_app = typer.Typer(
    name="solve", invoke_without_command=True, add_completion=False,
    help="The inverse problems: which kernel, stride, padding and dilation give an output "
         "size; the padding 'same' needs; which input sizes a network takes cleanly.",
)
app.add_typer(solve_app)

SizeOption = Annotated[str | None, typer.Option(
    "--input", "-i", metavar="SHAPE", help="Input shape, channels first, as layer takes it: "
    "3x56x56 (its spatial sizes equal: the solve is along one dim) or 1x56 (one dim of 56). "
    "A lone integer (56), the old spelling, is deprecated.")]
OutputSizeOption = Annotated[str | None, typer.Option(
    "--output-size", metavar="DIMS", help="Output size wanted along the spatial dims: 28, or "
    "one per dim such as 28x28 (equal).")]
LegacyOutputOption = Annotated[str | None, typer.Option(
    "--output", hidden=True, help="Deprecated spelling of --output-size.")]

_LONE_INTEGER = re.compile(r"\s*[+-]?[0-9]{1,30}\s*")
_SIZES = re.compile(r"\s*[0-9]{1,30}(?:\s*[x×X,]\s*[0-9]{1,30})*\s*")


def _spatial_size(text: str, deprecations: list[str]) -> int:
    """Return the one spatial size an ``--input`` shape gives (``3x56x56`` → 56).

    A lone integer is the old spelling, one size: accepted, with a deprecation warning.
    Raises InputError for a text that is no shape, a shape without spatial dims or with
    spatial sizes that differ.
    """
    from convcalc.cli.params import input_shape_or_reason

    if _LONE_INTEGER.fullmatch(text):
        deprecations.append(
            f"warning: --input {text.strip()} as one spatial size is deprecated (a lone "
            f"integer will be a shape of {text.strip()} channels, as in layer); write "
            f"--input 1x{text.strip().lstrip('+')} or the whole shape, such as "
            f"3x{text.strip().lstrip('+')}x{text.strip().lstrip('+')}")
        return int(text)
    shape = input_shape_or_reason(text)
    if isinstance(shape, str):
        raise InputError(f"--input: {shape}")
    sizes = set(shape[1:])
    if len(sizes) != 1:
        raise InputError(
            f"--input {shape_text(shape)} has no spatial dims; give the sizes after the "
            "channels, such as 3x56x56" if not sizes else
            f"--input {shape_text(shape)} has spatial sizes {' and '.join(map(str, sorted(sizes)))}"
            f"; solve works along one dim: solve each, such as --input 1x{max(sizes)}")
    return shape[1]


def _output_size(given: str | None, legacy: str | None, deprecations: list[str]) -> int | None:
    """Return the output size ``--output-size`` (or the deprecated ``--output``) gives."""
    if legacy is not None:
        if given is not None:
            raise InputError("--output is the old spelling of --output-size; give one of them")
        deprecations.append(
            "warning: solve --output is deprecated (--output names an output file in export, "
            f"plot and schema); write --output-size {legacy.strip()}")
        given = legacy
    if given is None:
        return None
    flag = "--output-size" if legacy is None else "--output"
    if _LONE_INTEGER.fullmatch(given):
        return int(given)
    if not _SIZES.fullmatch(given):
        raise InputError(f"{flag} takes a size or one per spatial dim such as 28x28, got "
                         f"{echo(given)}")
    sizes = {int(p) for p in re.split(r"\s*[x×X,]\s*", given.strip())}
    if len(sizes) != 1:
        raise InputError(f"{flag} {given.strip()} has sizes that differ; solve works along "
                         "one dim: solve each")
    return sizes.pop()


def _warn(deprecations: list[str]) -> None:
    for line in deprecations:
        print(line, file=sys.stderr)
KernelOption = Annotated[int | None, typer.Option("--k", "--kernel", "-k", help="Kernel size.")]
StrideOption = Annotated[int | None, typer.Option("--stride", "-s", help="Stride.")]
DilationOption = Annotated[int | None, typer.Option("--dilation", "-d", help="Dilation.")]


@contextmanager
def _flag_names() -> Iterator[None]:
    """Re-raise the core's errors with each parameter they name (`` `max_kernel` ``) written
    as this command's flag (``--max-k``); the flag then says which field is wrong."""
    try:
        yield
    except InputError as error:
        message = re.sub(r"`(\w+)`", lambda m: FLAG_OF_PARAMETER.get(m[1], m[0]), error.message)
        if message == error.message:
            raise
        raise dataclasses.replace(error, message=message, field_name=None) from None


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@solve_app.callback()
def solve(
    context: typer.Context,
    size: SizeOption = None,
    output_size: OutputSizeOption = None,
    legacy_output: LegacyOutputOption = None,
    kernel: KernelOption = None,
    stride: StrideOption = None,
    padding: Annotated[int | None, typer.Option("--pad", "--padding", "-p",
                                                help="Fix the padding (each side).")] = None,
    dilation: DilationOption = None,
    kind: Annotated[WindowKind, typer.Option("--type", "-t", help="Layer type.")]
    = WindowKind.conv,
    max_kernel: Annotated[int, typer.Option("--max-k", help="Largest kernel tried.")] = 11,
    max_stride: Annotated[int, typer.Option("--max-stride", help="Largest stride tried.")] = 4,
    max_padding: Annotated[int | None, typer.Option(
        "--max-pad", help="Largest padding tried (default: one less than the dilated kernel; "
        "pooling: half the kernel).")] = None,
    max_dilation: Annotated[int, typer.Option("--max-dilation",
                                              help="Largest dilation tried.")] = 3,
    ceil_mode: Annotated[bool, typer.Option("--ceil-mode", help="Pooling: round the output "
                                            "size up (PyTorch's ceil_mode).")] = False,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Settings shown in the table "
                                       "and Markdown; 0 shows all (JSON and CSV have all).")]
    = 20,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Every kernel, stride, padding and dilation that maps --input to --output-size.

    Simplest first: no unread input rows, then the smallest dilation, stride, kernel and
    padding. Exit code 1 when no setting matches, as grep's. Subcommands solve for 'same'
    padding and for a network's input sizes. Values go up to 2,147,483,647; a search
    tries at most 100,000 (kernel, stride, dilation) combinations and checks at most
    100,000 settings.

    Example: convcalc solve --input 64x56x56 --output-size 28 --k 3
    """
    if context.invoked_subcommand is not None:
        return
    deprecations: list[str] = []
    target = _output_size(output_size, legacy_output, deprecations)
    if size is None or target is None:
        raise InputError("solve needs --input (a shape) and --output-size (a size along its "
                         "spatial dims), or a subcommand: same, inputs")
    spatial = _spatial_size(size, deprecations)
    from convcalc.render.solve import solutions_csv, solutions_markdown, solutions_text

    with _flag_names():
        result = solve_window(
            spatial, target, kind, kernel=kernel, stride=stride, padding=padding,
            dilation=dilation, max_kernel=max_kernel, max_stride=max_stride,
            max_padding=max_padding, max_dilation=max_dilation, ceil_mode=ceil_mode,
        )
    _write({
        OutputFormat.table: lambda: solutions_text(result, limit),
        OutputFormat.json: lambda: result.model_dump_json(indent=2),
        OutputFormat.csv: lambda: solutions_csv(result),
        OutputFormat.markdown: lambda: solutions_markdown(result, limit),
    }[output]())
    _warn(deprecations)
    if not result.solutions:  # as grep: the search ran and found nothing
        raise typer.Exit(1)


@solve_app.command()
def same(
    size: Annotated[str, typer.Option(
        "--input", "-i", metavar="SHAPE", help="Input shape, channels first: 3x7x7 (its "
        "spatial sizes equal) or 1x7. A lone integer (7), the old spelling, is deprecated.")],
    kernel: Annotated[int, typer.Option("--k", "--kernel", "-k", help="Kernel size.")],
    stride: Annotated[int, typer.Option("--stride", "-s", help="Stride.")] = 1,
    dilation: Annotated[int, typer.Option("--dilation", "-d", help="Dilation.")] = 1,
    output: FormatOption = OutputFormat.table,
) -> None:
    """The padding 'same' needs: total, before and after, and whether a symmetric one does.

    TensorFlow's rule: out = ⌈W/S⌉, padding max((out − 1)·S + D·(K − 1) + 1 − W, 0), the
    odd one after.

    Example: convcalc solve same --input 3x7x7 --k 3 --stride 2
    """
    from convcalc.render.solve import same_csv, same_text

    deprecations: list[str] = []
    spatial = _spatial_size(size, deprecations)
    with _flag_names():
        result = solve_same(spatial, kernel, stride, dilation)
    _write({
        OutputFormat.table: lambda: same_text(result),
        OutputFormat.markdown: lambda: same_text(result),
        OutputFormat.json: lambda: result.model_dump_json(indent=2),
        OutputFormat.csv: lambda: same_csv(result),
    }[output]())
    _warn(deprecations)


@solve_app.command()
def inputs(
    file: NetworkArgument,
    input_shape: InputOption = None,
    minimum: Annotated[int, typer.Option("--min", help="Smallest size tried.")] = 1,
    maximum: Annotated[int | None, typer.Option(
        "--max", help="Largest size tried (default: twice the input's largest spatial "
        "size).")] = None,
    dim: Annotated[str | None, typer.Option("--dim", help="Vary only this spatial dim (H, "
                                            "W, D or L); the others keep the input's sizes.")]
    = None,
    require: Annotated[Requirement, typer.Option(
        "--require", help="no-warnings: every input row is read; whole: every division is "
        "whole; divisible: every stride divides its input.")] = Requirement.no_warnings,
    output: FormatOption = OutputFormat.table,
    allow_unknown: AllowUnknownOption = False,
) -> None:
    """Which input sizes the network takes with no error and no warning at any layer.

    Each size in the range is checked at every layer; --require whole or divisible asks
    more. Exit code 1 when no size is valid. At most 10,000 sizes, and at most 1,000,000
    rows walked (sizes × the network's rows); a progress bar shows after a second.

    Example: convcalc solve inputs examples/resnet18.yaml --require divisible
    """
    from convcalc.render.solve import inputs_csv, inputs_text

    source = open_network(file, input_shape, allow_unknown=allow_unknown)
    spatial = source.network.input[1:]
    if maximum is None:
        maximum = 2 * max(spatial, default=1)
    try:
        with lazy_progress("trying input sizes") as progress, _flag_names():
            result = solve_inputs(source.network, minimum, maximum, dim, require, progress)
    except InputError as error:
        raise source.annotate(error) from None
    with input_noted(source, import_warnings=True):
        _write({
            OutputFormat.table: lambda: inputs_text(result),
            OutputFormat.markdown: lambda: inputs_text(result),
            OutputFormat.json: lambda: result.model_dump_json(indent=2),
            OutputFormat.csv: lambda: inputs_csv(result),
        }[output]())
    if not result.valid:
        raise typer.Exit(1)
