"""The command line: parse, call the core, render. Errors become exit codes here only."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from convcalc import __version__
from convcalc.analysis import analyze
from convcalc.errors import ConvcalcError, InputError
from convcalc.flags import LayerKind, layer_network
from convcalc.loader import NetworkSource, load_network
from convcalc.render import layer_card, network_table, to_csv, to_json, to_markdown
from convcalc.results import DType, Report

__all__ = ["app", "main"]


class OutputFormat(StrEnum):
    """How results are printed."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


app = typer.Typer(
    name="convcalc",
    help="Exact shapes, parameters, MACs, FLOPs, memory and receptive fields of "
    "convolutional networks, from flags or a YAML file. No framework, no forward pass.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

FormatOption = Annotated[OutputFormat, typer.Option("--format", "-o", help="Output format.")]
BatchOption = Annotated[int, typer.Option("--batch", "-b", min=1,
                                          help="Batch size for MACs, FLOPs and memory.")]
DTypeOption = Annotated[DType, typer.Option("--dtype", help="Element type for the memory "
                                                             "columns.")]
StrictOption = Annotated[bool, typer.Option("--strict", help="Treat warnings as errors "
                                                              "(exit 2).")]


def _console(stderr: bool = False) -> Console:
    """Return a console; off a terminal it is wide, so tables are not squeezed to 80."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    return Console(file=stream, width=width, soft_wrap=False, highlight=False)


F = TypeVar("F", bound=Callable[..., Any])


def _exit_codes(command: F) -> F:
    """Wrap a command so convcalc's errors print one line on stderr and set the exit code."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConvcalcError as error:
            _console(stderr=True).print(f"error: {error}", markup=False)
            raise typer.Exit(error.exit_code) from None

    return run  # type: ignore[return-value]


def _report(source: NetworkSource, batch: int, dtype: DType, strict: bool) -> Report:
    """Return the analysis of ``source``, with its errors pointed at the file's lines."""
    try:
        return analyze(source.network, batch=batch, dtype=dtype, strict=strict)
    except InputError as error:
        raise source.annotate(error) from None


def _emit(report: Report, output: OutputFormat, depth: int | None = None, bars: bool = False,
          card: bool = False) -> None:
    """Print the report on stdout in ``output`` format, and its warnings on stderr."""
    errors = _console(stderr=True)
    for warning in report.warnings:
        where = f"layer '{warning.layer}': " if warning.layer else ""
        errors.print(f"warning: {where}{warning.message}", markup=False)
    if output is OutputFormat.table:
        _console().print(layer_card(report) if card else network_table(report, depth, bars))
        return
    text = {
        OutputFormat.json: lambda: to_json(report) + "\n",
        OutputFormat.csv: lambda: to_csv(report),
        OutputFormat.markdown: lambda: to_markdown(report, depth),
    }[output]()
    sys.stdout.write(text)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convcalc {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    context: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Exact shapes, parameters, MACs, FLOPs, memory and receptive fields of CNNs."""
    if context.invoked_subcommand is None:
        typer.echo(context.get_help())
        raise typer.Exit()


@app.command()
@_exit_codes
def layer(
    input_shape: Annotated[str, typer.Option("--input", "-i", help="Input shape, channels "
                                             "first: 3x32x32 (C×H×W), 3x100, 1x8x32x32.")],
    kernel: Annotated[str | None, typer.Option("--k", "--kernel", "-k",
                                               help="Kernel size: 5 or 3x5.")] = None,
    filters: Annotated[int | None, typer.Option("--filters", "-f",
                                                help="Number of filters (conv).")] = None,
    stride: Annotated[str | None, typer.Option("--stride", "-s", help="Stride: 2 or 2x1 "
                                               "(pooling: default the kernel).")] = None,
    padding: Annotated[str | None, typer.Option("--pad", "--padding", "-p",
                                                help="Padding: 2, 1x2, same or valid.")] = None,
    dilation: Annotated[str | None, typer.Option("--dilation", "-d")] = None,
    groups: Annotated[int | None, typer.Option("--groups", "-g")] = None,
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="Add a bias per filter.")]
    = True,
    kind: Annotated[LayerKind, typer.Option("--type", "-t", help="Layer type.")]
    = LayerKind.conv,
    output_padding: Annotated[str | None, typer.Option(
        "--output-padding", help="conv_transpose: extra output rows.")] = None,
    ceil_mode: Annotated[bool, typer.Option("--ceil-mode", help="Pooling: round the output "
                                            "size up (PyTorch's ceil_mode).")] = False,
    batch: BatchOption = 1,
    dtype: DTypeOption = DType.float32,
    output: FormatOption = OutputFormat.table,
    strict: StrictOption = False,
) -> None:
    """One layer from flags: output volume, parameters, MACs, FLOPs, receptive field.

    Example: convcalc layer --input 3x32x32 --filters 10 --k 5 --pad 2
    """
    source = layer_network(
        input_shape, kind, filters=filters, kernel=kernel, stride=stride, padding=padding,
        dilation=dilation, groups=groups, bias=bias, output_padding=output_padding,
        ceil_mode=ceil_mode,
    )
    _emit(_report(source, batch, dtype, strict), output, card=True)


@app.command()
@_exit_codes
def net(
    file: Annotated[str, typer.Argument(help="Network YAML file; - reads standard input.")],
    batch: BatchOption = 1,
    dtype: DTypeOption = DType.float32,
    output: FormatOption = OutputFormat.table,
    depth: Annotated[int | None, typer.Option("--depth", min=0, help="Fold containers "
                                              "deeper than this into their subtotal rows.")]
    = None,
    bars: Annotated[bool, typer.Option("--bars", help="Show each layer's share of the "
                                       "MACs as a bar.")] = False,
    strict: StrictOption = False,
) -> None:
    """A whole network from a YAML file: a row per layer, containers as subtotals, totals.

    Example: convcalc net examples/resnet18.yaml
    """
    source = load_network(file)
    _emit(_report(source, batch, dtype, strict), output, depth=depth, bars=bars)


def main() -> None:
    """Run the command line (the ``convcalc`` entry point)."""
    app()
