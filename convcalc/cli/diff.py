"""``convcalc diff``: what changed between two network files, row by row and in total."""


import sys
from typing import Annotated

import typer

from convcalc.cli.app import (
    BatchOption,
    DTypeOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    report_of,
)
from convcalc.cli.output import DepthOption
from convcalc.cli.sources import AllowUnknownOption, input_noted, open_network, parse_input
from convcalc.errors import InputError
from convcalc.results import DType

__all__ = ["diff"]


@app.command()
def diff(
    first: Annotated[str, typer.Argument(
        metavar="BEFORE", help="The network before the change (YAML; - reads standard "
        "input; zoo:NAME a built-in network).")],
    second: Annotated[str, typer.Argument(metavar="AFTER",
                                          help="The network after the change.")],
    everything: Annotated[bool, typer.Option("--all", help="Show unchanged rows too.")]
    = False,
    input_shape: Annotated[str | None, typer.Option(
        "--input", "-i", parser=parse_input, metavar="SHAPE",
        help="Analyse both networks at this input shape instead of their own: 3x512x512.")]
    = None,
    input_before: Annotated[str | None, typer.Option(
        "--input-before", parser=parse_input, metavar="SHAPE",
        help="The input shape of the first network only.")] = None,
    input_after: Annotated[str | None, typer.Option(
        "--input-after", parser=parse_input, metavar="SHAPE",
        help="The input shape of the second network only (a network against itself at "
        "another size: diff zoo:resnet50 zoo:resnet50 --input-after 3x512x512).")] = None,
    depth: DepthOption = None,
    batch: BatchOption = 1,
    dtype: DTypeOption = DType.float32,
    output: FormatOption = OutputFormat.table,
    allow_unknown: AllowUnknownOption = False,
) -> None:
    """What a change cost: two network files compared row by row and in total.

    Shapes, params, MACs, FLOPs, memory and receptive field. Rows match by full name; rows
    only in one file are added or removed; --depth folds both sides alike. A difference is
    not an error: the exit code is 0 (2 when a file is invalid).

    Example: convcalc diff before.yaml after.yaml
    """
    from convcalc.diff import diff_reports
    from convcalc.render.diff import diff_csv, diff_json, diff_markdown, diff_text

    if input_shape is not None and (input_before is not None or input_after is not None):
        raise InputError("give --input (both networks) or --input-before/--input-after "
                         "(one each), not both")
    sources = [open_network(first, input_before or input_shape,
                            "--input-before" if input_before else "--input", allow_unknown),
               open_network(second, input_after or input_shape,
                            "--input-after" if input_after else "--input", allow_unknown)]
    # Both sides fold the same way before they are compared: a container at --depth
    # stands for its subtree on each side.
    result = diff_reports(*(report_of(source, batch, dtype, False).folded(depth)
                            for source in sources))
    with input_noted(*sources, import_warnings=True):
        if output is OutputFormat.table:
            console().print(diff_text(result, everything))
            return
        sys.stdout.write({
            OutputFormat.json: lambda: diff_json(result, everything) + "\n",
            OutputFormat.markdown: lambda: diff_markdown(result, everything),
            OutputFormat.csv: lambda: diff_csv(result, everything),
        }[output]())
