"""``convcalc zoo``: the built-in networks, their figures beside torchvision's, their YAML."""


import sys
from typing import Annotated

import typer

from convcalc import zoo as builtin
from convcalc.cli.app import (
    BatchOption,
    FormatOption,
    OptimizerOption,
    OutputFormat,
    TrainingOption,
    app,
    console,
    training_spec,
)
from convcalc.cli.output import ForceOption, OutputPathOption, write_output
from convcalc.cli.sources import ZOO_PREFIX
from convcalc.errors import InputError
from convcalc.textsafe import printable

__all__ = ["listing", "show"]

zoo_app = typer.Typer(
    name="zoo", invoke_without_command=True, add_completion=False,
    help="The built-in networks: torchvision's classification CNNs, usable as zoo:NAME "
         "wherever a network file is.",
)
app.add_typer(zoo_app)


@zoo_app.callback()
def listing(
    context: typer.Context,
    family: Annotated[str | None, typer.Option("--family", help="Only this family's "
                                               "entries: resnet, vgg, densenet, …")] = None,
    output: FormatOption = OutputFormat.table,
    training: TrainingOption = False,
    optimizer: OptimizerOption = None,
    batch: BatchOption = 1,
) -> None:
    """Every entry with its family, default input, parameters and GMACs as convcalc computes
    them, torchvision's published figures beside, and ✓ where they agree.

    Parameters agree when equal, GMACs when equal to the three decimals published. Each
    entry is analysed at its default input (the crop size of its published figures);
    `convcalc net zoo:NAME --input 3xHxW` gives another size, and `convcalc zoo show NAME`
    its YAML. With --training, each entry's saved activations and training peak at
    --batch (docs/training.md).

    Example: convcalc zoo --family resnet
    """
    if context.invoked_subcommand is not None:
        return
    from convcalc.render.zoo import zoo_csv, zoo_json, zoo_markdown, zoo_text
    from convcalc.results import DType
    from convcalc.zoo.listing import zoo_listing

    spec = training_spec(training, optimizer, DType.float32)
    if spec is None and batch != 1:
        raise InputError("--batch is for the training step's columns here; add --training")
    result = zoo_listing(family, spec, batch)
    sys.stdout.write({
        OutputFormat.table: lambda: zoo_text(result),
        OutputFormat.json: lambda: zoo_json(result) + "\n",
        OutputFormat.csv: lambda: zoo_csv(result),
        OutputFormat.markdown: lambda: zoo_markdown(result),
    }[output]())


@zoo_app.command()
def show(
    name: Annotated[str, typer.Argument(help="The entry's name: resnet50 (or zoo:resnet50).")],
    output: OutputPathOption = None,
    force: ForceOption = False,
) -> None:
    """Print an entry's network file exactly as shipped, to start a design from.

    Example: convcalc zoo show resnet18 -o my_resnet.yaml
    """
    text = builtin.text(name.removeprefix(ZOO_PREFIX))
    write_output(text, output, force)
    if output not in (None, "-"):
        # The path is the user's: control characters are shown escaped, not sent raw.
        console(stderr=True).print(f"wrote {printable(output)}", markup=False)
