"""``convcalc layer`` and ``convcalc net``: the calculator itself."""


from typing import TYPE_CHECKING, Annotated

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
from convcalc.cli.layer_flags import layer_network
from convcalc.cli.output import ColumnsOption, DepthOption, ExactOption, parse_columns
from convcalc.cli.sources import InputOption, NetworkArgument, input_noted, open_network
from convcalc.layers.window import WindowKind
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


@app.command()
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
    groups: Annotated[str | None, typer.Option("--groups", "-g", help="Groups: 2, or "
                                               "depthwise (one per input channel).")] = None,
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="Add a bias per filter.")]
    = True,
    kind: Annotated[WindowKind, typer.Option("--type", "-t", help="Layer type.")]
    = WindowKind.conv,
    output_padding: Annotated[str | None, typer.Option(
        "--output-padding", help="conv_transpose: extra output rows.")] = None,
    ceil_mode: Annotated[bool, typer.Option("--ceil-mode", help="Pooling: round the output "
                                            "size up (PyTorch's ceil_mode).")] = False,
    batch: BatchOption = 1,
    dtype: DTypeOption = DType.float32,
    output: FormatOption = OutputFormat.table,
    strict: StrictOption = False,
    explained: ExplainOption = False,
    verified: Annotated[bool, typer.Option("--verify", help="Also run the layer on real "
                                           "arrays and confirm every number (table or "
                                           "json: then verify's JSON).")] = False,
) -> None:
    """One layer from flags: output volume, parameters, MACs, FLOPs, receptive field.

    Example: convcalc layer --input 3x32x32 --filters 10 --k 5 --pad 2
    """
    source = layer_network(
        input_shape, kind, filters=filters, kernel=kernel, stride=stride, padding=padding,
        dilation=dilation, groups=groups, bias=bias, output_padding=output_padding,
        ceil_mode=ceil_mode,
    )
    report = report_of(source, batch, dtype, strict)
    if verified:
        from convcalc.cli.verify import verify_layer

        verify_layer(source.network, report, output, _explanations(report, explained))
        return
    emit(report, output, card=True, explanations=_explanations(report, explained))


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
) -> None:
    """A whole network from a YAML file: a row per layer, containers as subtotals, totals.

    Example: convcalc net zoo:resnet50 --input 3x512x512
    """
    view = View(depth=depth, columns=parse_columns(columns), bars=bars, exact=exact)
    source = open_network(file, input_shape)
    report = report_of(source, batch, dtype, strict)
    with input_noted(source):
        emit(report, output, view=view, explanations=_explanations(report, explained))
