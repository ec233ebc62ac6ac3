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
from convcalc.cli.sources import InputOption, NetworkArgument, input_noted, open_network
from convcalc.errors import InputError
from convcalc.layers.window import WindowKind
from convcalc.solve import Requirement, solve_inputs, solve_same, solve_window

__all__ = ["inputs", "same", "solve"]


FLAG_OF_PARAMETER = {
    "size": "--input", "output": "--output", "kernel": "--k", "stride": "--stride",
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

SizeOption = Annotated[int | None, typer.Option("--input", "-i", help="Input size along one "
                                                "spatial dim, e.g. 56.")]
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
    output_size: Annotated[int | None, typer.Option("--output", help="Output size wanted "
                                                    "along that dim, e.g. 28.")] = None,
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
    """Every kernel, stride, padding and dilation that maps --input to --output.

    Simplest first: no unread input rows, then the smallest dilation, stride, kernel and
    padding. Exit code 1 when no setting matches, as grep's. Subcommands solve for 'same'
    padding and for a network's input sizes. Values go up to 2,147,483,647; a search
    tries at most 100,000 (kernel, stride, dilation) combinations and checks at most
    100,000 settings.

    Example: convcalc solve --input 56 --output 28 --k 3
    """
    if context.invoked_subcommand is not None:
        return
    if size is None or output_size is None:
        raise InputError("solve needs --input and --output (sizes along one spatial dim), "
                         "or a subcommand: same, inputs")
    from convcalc.render.solve import solutions_csv, solutions_markdown, solutions_text

    with _flag_names():
        result = solve_window(
            size, output_size, kind, kernel=kernel, stride=stride, padding=padding,
            dilation=dilation, max_kernel=max_kernel, max_stride=max_stride,
            max_padding=max_padding, max_dilation=max_dilation, ceil_mode=ceil_mode,
        )
    _write({
        OutputFormat.table: lambda: solutions_text(result, limit),
        OutputFormat.json: lambda: result.model_dump_json(indent=2),
        OutputFormat.csv: lambda: solutions_csv(result),
        OutputFormat.markdown: lambda: solutions_markdown(result, limit),
    }[output]())
    if not result.solutions:  # as grep: the search ran and found nothing
        raise typer.Exit(1)


@solve_app.command()
def same(
    size: Annotated[int, typer.Option("--input", "-i", help="Input size along one spatial "
                                      "dim.")],
    kernel: Annotated[int, typer.Option("--k", "--kernel", "-k", help="Kernel size.")],
    stride: Annotated[int, typer.Option("--stride", "-s", help="Stride.")] = 1,
    dilation: Annotated[int, typer.Option("--dilation", "-d", help="Dilation.")] = 1,
    output: FormatOption = OutputFormat.table,
) -> None:
    """The padding 'same' needs: total, before and after, and whether a symmetric one does.

    TensorFlow's rule: out = ⌈W/S⌉, padding max((out − 1)·S + D·(K − 1) + 1 − W, 0), the
    odd one after.

    Example: convcalc solve same --input 7 --k 3 --stride 2
    """
    from convcalc.render.solve import same_csv, same_text

    with _flag_names():
        result = solve_same(size, kernel, stride, dilation)
    _write({
        OutputFormat.table: lambda: same_text(result),
        OutputFormat.markdown: lambda: same_text(result),
        OutputFormat.json: lambda: result.model_dump_json(indent=2),
        OutputFormat.csv: lambda: same_csv(result),
    }[output]())


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
) -> None:
    """Which input sizes the network takes with no error and no warning at any layer.

    Each size in the range is checked at every layer; --require whole or divisible asks
    more. Exit code 1 when no size is valid. At most 10,000 sizes, and at most 1,000,000
    rows walked (sizes × the network's rows); a progress bar shows after a second.

    Example: convcalc solve inputs examples/resnet18.yaml --require divisible
    """
    from convcalc.render.solve import inputs_csv, inputs_text

    source = open_network(file, input_shape)
    spatial = source.network.input[1:]
    if maximum is None:
        maximum = 2 * max(spatial, default=1)
    try:
        with lazy_progress("trying input sizes") as progress, _flag_names():
            result = solve_inputs(source.network, minimum, maximum, dim, require, progress)
    except InputError as error:
        raise source.annotate(error) from None
    with input_noted(source):
        _write({
            OutputFormat.table: lambda: inputs_text(result),
            OutputFormat.markdown: lambda: inputs_text(result),
            OutputFormat.json: lambda: result.model_dump_json(indent=2),
            OutputFormat.csv: lambda: inputs_csv(result),
        }[output]())
    if not result.valid:
        raise typer.Exit(1)
