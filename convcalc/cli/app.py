"""The typer app and what every command shares: options, output, errors to exit codes.

Commands live in sibling modules (one concern each) and register on ``app``; they parse,
call the core and hand results to ``emit``. Errors become exit codes here only: the app's
group (GuardedGroup) runs every command through convcalc/cli/guard.py.
"""


import errno
import gc
import os
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer import Abort, Exit
from typer._click import Context
from typer._click.exceptions import ClickException

from convcalc import __version__
from convcalc.cli import lazy
from convcalc.cli.guard import exit_code_of, prepare_streams, run_guarded
from convcalc.cli.params import whole_numbers
from convcalc.errors import InputError
from convcalc.textsafe import printable

if TYPE_CHECKING:
    from convcalc.explain import Explanation
    from convcalc.loader import NetworkSource
    from convcalc.render.columns import View
    from convcalc.results import DType, Report

__all__ = [
    "MAX_BATCH",
    "BatchOption",
    "DTypeOption",
    "FormatOption",
    "OutputFormat",
    "StrictOption",
    "app",
    "console",
    "emit",
    "main",
    "report_of",
    "warn",
]

MAX_BATCH = 1_000_000_000
"""The largest ``--batch``: past it the counts stop meaning anything (docs/reliability.md)."""


class OutputFormat(StrEnum):
    """How results are printed."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class GuardedGroup(lazy.LazyGroup):
    """The command group whose ``main`` maps every exception to one line and an exit code.

    Both ``convcalc`` and tests calling the app through typer's CliRunner pass here, so
    no traceback reaches a user on either path (convcalc/cli/guard.py has the table). Its
    commands load when invoked (convcalc/cli/lazy.py), and its help is convcalc's
    (convcalc/cli/helptext.py).
    """

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        prepare_streams()
        code = run_guarded(lambda: super(GuardedGroup, self).main(
            args, prog_name, complete_var, standalone_mode=False,
            windows_expand_args=windows_expand_args, **extra))
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: Context) -> Any:
        # Map a command's errors here, inside typer's main, which would turn a broken pipe
        # into exit 1 on its own.
        try:
            return super().invoke(ctx)
        except (Exit, Abort, ClickException):
            raise
        except BaseException as error:
            raise Exit(exit_code_of(error)) from None


app = typer.Typer(
    cls=GuardedGroup,
    name="convcalc",
    help="Exact shapes, parameters, MACs, FLOPs, memory and receptive fields of "
    "convolutional networks, from flags or a YAML file. No framework, no forward pass.",
    invoke_without_command=True,
    rich_markup_mode=None,  # help is rendered by convcalc/cli/helptext.py
    pretty_exceptions_show_locals=False,
)

FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]
BatchOption = Annotated[int, typer.Option(
    "--batch", "-b", parser=whole_numbers(1, MAX_BATCH), metavar="INTEGER",
    help=f"Batch size for MACs, FLOPs and memory (1 to {MAX_BATCH:,}).")]
if TYPE_CHECKING:
    DTypeOption = Annotated[DType, typer.Option("--dtype")]


def __getattr__(name: str) -> Any:
    """Build ``DTypeOption`` on first use: its word list lives beside the report models,
    which ``convcalc --help`` does not load."""
    if name != "DTypeOption":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from convcalc.results import DType

    option = Annotated[DType, typer.Option("--dtype", help="Element type for the memory "
                                                          "columns.")]
    globals()[name] = option
    return option

StrictOption = Annotated[bool, typer.Option("--strict", help="Treat warnings as errors "
                                                              "(exit 2).")]


class _Console(Console):
    """A rich console that leaves a broken pipe to the guard (rich would exit 1 itself)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def console(stderr: bool = False) -> Console:
    """Return a console; off a terminal it is wide, so tables are not squeezed to 80."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    return _Console(file=stream, width=width, soft_wrap=True, highlight=False)


def warn(report: "Report") -> None:
    """Print the report's warnings on stderr, one line each, control characters escaped."""
    for warning in report.warnings:
        where = f"layer '{printable(warning.layer)}': " if warning.layer else ""
        print(f"warning: {where}{printable(warning.message)}", file=sys.stderr)


def report_of(source: "NetworkSource", batch: int, dtype: "DType", strict: bool) -> "Report":
    """Return the analysis of ``source``, with its errors pointed at the file's lines.

    An imported ONNX model's fixed batch is the batch unless ``--batch`` was given, and its
    import warnings come first among the report's (so on stderr and in the JSON).
    """
    from convcalc.analysis import analyze
    from convcalc.cli.sources import ImportedSource
    from convcalc.results import LayerWarning

    if (isinstance(source, ImportedSource) and source.batch is not None
            and not _given("batch")):
        batch = source.batch
    try:
        report = analyze(source.network, batch=batch, dtype=dtype, strict=strict)
    except InputError as error:
        raise source.annotate(error) from None
    if not isinstance(source, ImportedSource) or not source.import_warnings:
        return report
    if strict:
        raise InputError(f"{source.import_warnings[0]} (strict: warnings are errors)",
                         source=source.name)
    warnings = tuple(LayerWarning(layer=None, message=text) for text in source.import_warnings)
    with_import = report.model_copy(update={"warnings": warnings + report.warnings})
    with_import._plan = report.plan
    return with_import


def _given(parameter: str) -> bool:
    """Return whether the running command's ``parameter`` was given on the command line
    (or the environment), not left at its default."""
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context

    context = get_current_context(silent=True)
    if context is None:
        return True
    given = context.get_parameter_source(parameter)
    return given not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def emit(report: "Report", output: OutputFormat, depth: int | None = None, bars: bool = False,
         card: bool = False, explanations: "Sequence[Explanation] | None" = None,
         view: "View | None" = None) -> None:
    """Print the report on stdout in ``output`` format, and its warnings on stderr.

    ``view`` (``--depth``, ``--columns``, ``--bars``, ``--exact``) wins over ``depth`` and
    ``bars``. ``explanations`` (``--explain``) follow the table or the Markdown, or join
    the JSON as its ``explanations`` array; CSV has no place for them.
    """
    from convcalc.render import layer_card, network_table, to_csv, to_json, to_markdown
    from convcalc.render.columns import View

    view = view if view is not None else View(depth=depth, bars=bars)
    if explanations is not None and output is OutputFormat.csv:
        raise InputError("--explain prints formulas, which CSV has no place for; use "
                         "--format table, json or markdown")
    if view.columns is not None and output is OutputFormat.json:
        raise InputError("--columns picks the columns of the table, markdown and csv; the "
                         "json has every key (pick them with jq)")
    warn(report)
    if explanations is not None:
        _emit_explained(report, output, card, view, explanations)
    elif output is OutputFormat.table:
        console().print(layer_card(report) if card else network_table(report, view=view))
    else:
        sys.stdout.write({
            OutputFormat.json: lambda: to_json(report, view.depth) + "\n",
            OutputFormat.csv: lambda: to_csv(report, view),
            OutputFormat.markdown: lambda: to_markdown(report, view=view),
        }[output]())


def _emit_explained(report: "Report", output: OutputFormat, card: bool, view: "View",
                    explanations: "Sequence[Explanation]") -> None:
    """Print the report with its worked formulas (``--explain``)."""
    from convcalc.render import layer_card, network_table, to_markdown
    from convcalc.render.explain import (  # only --explain needs them
        explained_json,
        explanation_markdown,
        explanation_text,
    )

    folded = report.folded(view.depth)  # the formulas of the rows shown, in every format
    if output is OutputFormat.table:
        console().print(layer_card(report) if card else network_table(report, view=view))
        console().print(explanation_text(folded, explanations, headings=not card))
    elif output is OutputFormat.json:
        sys.stdout.write(explained_json(folded, explanations) + "\n")
    else:
        sys.stdout.write(to_markdown(report, view=view)
                         + explanation_markdown(folded, explanations))


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


def main() -> None:
    """Run the command line (the ``convcalc`` entry point)."""
    # One short run builds many small objects and few reference cycles; the cyclic
    # collector's full passes would make large networks quadratic (docs/performance.md).
    gc.disable()
    app()
