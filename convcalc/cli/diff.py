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
from convcalc.loader import load_network
from convcalc.results import DType

__all__ = ["diff"]


@app.command()
def diff(
    first: Annotated[str, typer.Argument(help="The network before the change (YAML; - reads "
                                         "standard input).")],
    second: Annotated[str, typer.Argument(help="The network after the change.")],
    everything: Annotated[bool, typer.Option("--all", help="Show unchanged rows too.")]
    = False,
    batch: BatchOption = 1,
    dtype: DTypeOption = DType.float32,
    output: FormatOption = OutputFormat.table,
) -> None:
    """What a change cost: two network files compared row by row and in total.

    Shapes, params, MACs, FLOPs, memory and receptive field. Rows match by full name; rows
    only in one file are added or removed. A difference is not an error: the exit code is
    0 (2 when a file is invalid).

    Example: convcalc diff before.yaml after.yaml
    """
    from convcalc.diff import diff_reports
    from convcalc.render.diff import diff_csv, diff_json, diff_markdown, diff_text

    reports = [report_of(load_network(path), batch, dtype, False) for path in (first, second)]
    result = diff_reports(*reports)
    if output is OutputFormat.table:
        console().print(diff_text(result, everything))
        return
    sys.stdout.write({
        OutputFormat.json: lambda: diff_json(result, everything) + "\n",
        OutputFormat.markdown: lambda: diff_markdown(result, everything),
        OutputFormat.csv: lambda: diff_csv(result, everything),
    }[output]())
