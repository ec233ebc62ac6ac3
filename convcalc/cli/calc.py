"""``convcalc layer`` and ``convcalc net``: the calculator itself."""


from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from convcalc.cli.app import (
    BatchOption,
    DTypeOption,
    FormatOption,
    OutputFormat,
    StrictOption,
    app,
    emit,
    report_of,
)
from convcalc.cli.layer_flags import (
    LEAF_TYPES,
    LayerFlagsCommand,
    given_options,
    layer_network,
    with_layer_flags,
)
from convcalc.cli.output import ColumnsOption, DepthOption, ExactOption, parse_columns
from convcalc.cli.sources import (
    AllowUnknownOption,
    InputOption,
    NetworkArgument,
    input_noted,
    open_network,
    print_input_note,
)
from convcalc.render.columns import View
from convcalc.results import DType, Report

if TYPE_CHECKING:
    from convcalc.explain import Explanation

__all__ = ["layer", "net"]

def _explanations(report: Report, wanted: bool) -> "tuple[Explanation, ...] | None":
    """Return the worked formulas of every layer when ``--explain`` asked for them."""
    if not wanted:
        return None
    from convcalc.explain import explain  # only --explain needs it

    return explain(report)


ExplainOption = Annotated[bool, typer.Option("--explain", help="Show each layer's formulas "
                                             "with the numbers put in.")]


if TYPE_CHECKING:
    LayerType = str
else:
    LayerType = StrEnum("LayerType", {name: name for name in LEAF_TYPES})
    """The choices of ``--type``: every leaf layer type, from the registry."""


@app.command(cls=LayerFlagsCommand)
@with_layer_flags
def layer(
    input_shape: Annotated[str, typer.Option(
        "--input", "-i", metavar="SHAPE", help="Input shape, channels first, in any form a "
        "file's input takes: 3x32x32 (C×H×W), 3x100 (C×L), 1x8x32x32 (C×D×H×W), 9216 (a "
        "flat input), [3, 32, 32].")],
    kind: Annotated[LayerType, typer.Option(
        "--type", "-t", metavar="TYPE", show_default=False,
        help="Layer type (default conv): " + ", ".join(LEAF_TYPES) + ". Its options are "
        "the layer options below; each says the types it is for.")] = "conv",
    batch: BatchOption = 1,
    dtype: DTypeOption = DType.float32,
    output: FormatOption = OutputFormat.table,
    strict: StrictOption = False,
    explained: ExplainOption = False,
    verified: Annotated[bool, typer.Option("--verify", help="Also run the layer on real "
                                           "arrays and confirm every number (table or "
                                           "json: then verify's JSON).")] = False,
    **options: Any,
) -> None:
    """One layer from flags: output volume, parameters, MACs, FLOPs, receptive field.

    Any layer type but the containers, with each of its options as a flag (the layer
    options below).

    Example: convcalc layer --input 3x32x32 --filters 10 --k 5 --pad 2
    """
    source = layer_network(input_shape, str(kind), given_options(options))
    report = report_of(source, batch, dtype, strict)
    if verified:
        from convcalc.cli.verify import verify_layer

        verify_layer(source.network, report, output, _explanations(report, explained))
    else:
        emit(report, output, card=True, explanations=_explanations(report, explained))
    print_input_note(source)


@app.command()
def net(
    file: NetworkArgument,
    input_shape: InputOption = None,
    batch: BatchOption = 1,
    dtype: DTypeOption = DType.float32,
    output: FormatOption = OutputFormat.table,
    depth: DepthOption = None,
    columns: ColumnsOption = None,
    exact: ExactOption = False,
    bars: Annotated[bool, typer.Option("--bars", help="Show each layer's share of the "
                                       "parameters and of the MACs as bars.")] = False,
    strict: StrictOption = False,
    explained: ExplainOption = False,
    allow_unknown: AllowUnknownOption = False,
) -> None:
    """A whole network from a YAML file or an ONNX model: a row per layer, containers as
    subtotals, totals.

    Example: convcalc net zoo:resnet50 --input 3x512x512
    """
    view = View(depth=depth, columns=parse_columns(columns), bars=bars, exact=exact)
    source = open_network(file, input_shape, allow_unknown=allow_unknown)
    report = report_of(source, batch, dtype, strict)
    with input_noted(source):
        emit(report, output, view=view, explanations=_explanations(report, explained))
