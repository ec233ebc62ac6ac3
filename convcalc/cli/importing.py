"""``convcalc import``: an ONNX model written out as a network file that ``convcalc net``
reads back to the same report."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from convcalc.cli.app import app, console, report_of
from convcalc.cli.output import ForceOption, OutputPathOption, write_output
from convcalc.cli.sources import (
    AllowUnknownOption,
    import_model,
    input_noted,
    parse_input,
    shape_of,
)
from convcalc.errors import NetworkFileError
from convcalc.loader import read_stdin
from convcalc.results import DType
from convcalc.textsafe import printable

__all__ = ["FIRST_KEYS", "LAST_KEYS", "import_", "network_yaml", "readable_order"]

FIRST_KEYS = ("name", "type", "from", "input")
"""The keys a mapping of the written file starts with, in this order, where it has them."""
LAST_KEYS = ("layers", "shortcut", "after", "branches", "nodes")
"""The keys it ends with: the bodies, so that a layer's own options are read first."""


def readable_order(data: Any) -> Any:
    """Return ``data`` (plain lists and mappings) with every mapping's keys in reading
    order: ``FIRST_KEYS``, the layer's options as they were, then ``LAST_KEYS``."""
    if isinstance(data, list):
        return [readable_order(item) for item in data]
    if not isinstance(data, dict):
        return data
    first = [key for key in FIRST_KEYS if key in data]
    last = [key for key in LAST_KEYS if key in data]
    middle = [key for key in data if key not in first and key not in last]
    return {key: readable_order(data[key]) for key in (*first, *middle, *last)}


def network_yaml(network: dict[str, Any]) -> str:
    """Return the network file of ``network`` (what the importer gives) as YAML, block
    style, keys in reading order; values are written by the YAML emitter, never spliced."""
    import yaml  # only the commands that write YAML need the emitter

    return yaml.safe_dump(readable_order(network), sort_keys=False, default_flow_style=False,
                          allow_unicode=True, width=100)


@app.command("import")
def import_(
    file: Annotated[str, typer.Argument(
        metavar="MODEL", help="The ONNX model (.onnx); - reads it from standard input.")],
    output: OutputPathOption = None,
    force: ForceOption = False,
    input_shape: Annotated[str | None, typer.Option(
        "--input", "-i", parser=parse_input, metavar="SHAPE",
        help="The input shape, channels first, for the model's symbolic dims: 3x224x224.")]
    = None,
    allow_unknown: AllowUnknownOption = False,
) -> None:
    """Write an ONNX model as a network file (YAML) that convcalc net reads back to the
    same report: row names are the model's node names.

    Example: convcalc import resnet18.onnx -o resnet18.yaml
    """
    data = None
    if file == "-":
        from convcalc.onnx_import import looks_like_onnx  # a sniff: no onnx loaded

        data = read_stdin()
        if not looks_like_onnx(data):
            raise NetworkFileError("not an ONNX model: convcalc import reads ONNX models "
                                   "(.onnx); a network file is read by convcalc net as it "
                                   "is", source="<stdin>")
    shape = None if input_shape is None else shape_of(input_shape)
    source = import_model(file, data, shape, allow_unknown)
    report_of(source, 1, DType.float32, False)  # the layers fit: the file written reads back
    text = network_yaml(source.data)
    with input_noted(source, import_warnings=True):
        write_output(text, output, force)
    if output not in (None, "-"):
        console(stderr=True).print(f"wrote {printable(output)}", markup=False)
