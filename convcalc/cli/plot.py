"""``convcalc plot``: a figure of where a network's cost goes, layer by layer."""


from pathlib import Path
from typing import Annotated

import typer

from convcalc.cli.app import (
    BatchOption,
    DTypeOption,
    StrictOption,
    app,
    console,
    report_of,
    warn,
)
from convcalc.cli.output import ForceOption, write_output
from convcalc.cli.sources import (
    AllowUnknownOption,
    InputOption,
    NetworkArgument,
    input_noted,
    open_network,
)
from convcalc.errors import ConvcalcError, InputError
from convcalc.results import DType
from convcalc.textsafe import printable

__all__ = ["MISSING_MATPLOTLIB", "plot"]

MISSING_MATPLOTLIB = ("convcalc plot draws with matplotlib, which is not installed; "
                      "install it with: pip install 'convcalc[plot]'")
_FORMATS = ("png", "svg", "pdf")


@app.command()
def plot(
    file: NetworkArgument,
    output: Annotated[str, typer.Option("--output", "-o", help="The figure's file: .png, "
                                        ".svg or .pdf.")],
    force: ForceOption = False,
    input_shape: InputOption = None,
    batch: BatchOption = 1,
    dtype: DTypeOption = DType.float32,
    strict: StrictOption = False,
    allow_unknown: AllowUnknownOption = False,
) -> None:
    """Draw per-layer MACs, parameters, activation memory and receptive field (matplotlib).

    Example: convcalc plot examples/resnet18.yaml -o resnet18.png
    """
    file_format = Path(output).suffix.lower().lstrip(".")
    if file_format not in _FORMATS:
        raise InputError("name the figure .png, .svg or .pdf; its suffix picks the format",
                         source=output)
    try:
        exists = Path(output).exists()
    except OSError as error:  # a name too long for the file system, say
        raise InputError(f"cannot write: {(error.strerror or str(error)).lower()}",
                         source=output) from None
    if not force and exists:
        raise InputError("already exists; pass --force to replace it", source=output)
    try:
        from convcalc.render.plot import cost_figure, figure_bytes
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] != "matplotlib":
            raise
        raise ConvcalcError(MISSING_MATPLOTLIB) from None
    source = open_network(file, input_shape, allow_unknown=allow_unknown)
    report = report_of(source, batch, dtype, strict)
    warn(report)
    with input_noted(source):
        write_output(figure_bytes(cost_figure(report), file_format), output, force)
    console(stderr=True).print(f"wrote {printable(output)}", markup=False)
