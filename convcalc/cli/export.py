"""``convcalc export``: the network as source code for a framework."""


from enum import StrEnum
from typing import Annotated

import typer

from convcalc.cli.app import app, console
from convcalc.cli.output import ForceOption, OutputPathOption, write_output
from convcalc.cli.sources import (
    AllowUnknownOption,
    InputOption,
    NetworkArgument,
    input_noted,
    open_network,
)
from convcalc.errors import InputError
from convcalc.textsafe import printable

__all__ = ["ExportTarget", "export"]


class ExportTarget(StrEnum):
    """What ``export`` can write."""

    pytorch = "pytorch"


@app.command()
def export(
    file: NetworkArgument,
    to: Annotated[ExportTarget, typer.Option("--to", help="pytorch: a Python file defining "
                                             "build() -> torch.nn.Module.")],
    output: OutputPathOption = None,
    force: ForceOption = False,
    input_shape: InputOption = None,
    allow_unknown: AllowUnknownOption = False,
) -> None:
    """Write the network as code: a runnable PyTorch module with convcalc's layer names.

    Example: convcalc export --to pytorch examples/resnet18.yaml -o resnet18.py
    """
    from convcalc.export import to_pytorch  # code generation, only here

    source = open_network(file, input_shape, allow_unknown=allow_unknown)
    try:
        text = to_pytorch(source.network, source=source.name)
    except InputError as error:
        raise source.annotate(error) from None
    with input_noted(source, import_warnings=True):
        write_output(text, output, force)
    if output not in (None, "-"):
        # The path is the user's: control characters are shown escaped, not sent raw.
        console(stderr=True).print(f"wrote {printable(output)}", markup=False)
