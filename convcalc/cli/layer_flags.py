"""The ``layer`` command's flags as a one-layer network: ``--k 3x5`` → ``kernel: [3, 5]``."""

from __future__ import annotations

import re
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from convcalc.errors import InputError, SpecError
from convcalc.layers import REGISTRY, Layer
from convcalc.layers.window import WindowKind
from convcalc.loader import NetworkSource, network_from_data
from convcalc.spec import InputShape, Network
from convcalc.textsafe import echo

__all__ = ["FLAG_OF_FIELD", "layer_network", "parse_dims", "parse_groups"]


FLAG_OF_FIELD = {
    "input": "--input", "filters": "--filters", "kernel": "--k", "stride": "--stride",
    "padding": "--pad", "dilation": "--dilation", "groups": "--groups", "bias": "--no-bias",
    "output_padding": "--output-padding", "ceil_mode": "--ceil-mode",
}


def parse_dims(text: str, flag: str) -> int | list[int]:
    """Return ``3`` as 3 and ``3x5`` as [3, 5]; raise an InputError naming ``flag`` else."""
    parts = re.split(r"\s*[x×X,]\s*", text.strip())
    # str.isdigit accepts ² and other scripts' digits, which int() then refuses or reads.
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise InputError(f"{flag} takes an int or one int per dim such as 3x5 (ASCII digits), "
                         f"got {echo(text)}", source="<flags>")
    values = [int(p) for p in parts]
    return values[0] if len(values) == 1 else values


def parse_groups(text: str) -> int | str:
    """Return ``depthwise`` as it is and ``4`` as 4; raise an InputError naming --groups else."""
    if text.strip() == "depthwise":
        return "depthwise"
    if not (text.strip().isascii() and text.strip().isdigit()):
        raise InputError(f"--groups takes an int or depthwise, got {echo(text)}",
                         source="<flags>")
    return int(text)


def layer_network(
    input_shape: str,
    kind: WindowKind,
    *,
    filters: int | None = None,
    kernel: str | None = None,
    stride: str | None = None,
    padding: str | None = None,
    dilation: str | None = None,
    groups: str | None = None,
    bias: bool = True,
    output_padding: str | None = None,
    ceil_mode: bool = False,
) -> NetworkSource:
    """Return a one-layer network built from the ``layer`` command's flags."""
    layer: dict[str, Any] = {"type": kind.value}
    weighted = kind in (WindowKind.conv, WindowKind.conv_transpose)
    if weighted:
        if filters is None:
            raise InputError(f"--filters is needed for a {kind} layer (how many kernels)",
                             source="<flags>")
        layer["filters"] = filters
        if groups is not None:
            layer["groups"] = parse_groups(groups)
        if not bias:
            layer["bias"] = False
    else:
        given = [f for f, v in (("--filters", filters), ("--groups", groups)) if v is not None]
        if given or not bias:
            flags = ", ".join(given + ([] if bias else ["--no-bias"]))
            raise InputError(f"{flags} do not apply to {kind}: pooling has no weights",
                             source="<flags>")
    if kernel is None:
        raise InputError("--k (the kernel size) is needed", source="<flags>")
    layer["kernel"] = parse_dims(kernel, "--k")
    if stride is not None:
        layer["stride"] = parse_dims(stride, "--stride")
    if dilation is not None:
        layer["dilation"] = parse_dims(dilation, "--dilation")
    if padding is not None:
        layer["padding"] = (padding if padding in ("same", "valid")
                            else parse_dims(padding, "--pad"))
    if output_padding is not None:
        layer["output_padding"] = parse_dims(output_padding, "--output-padding")
    if ceil_mode:
        layer["ceil_mode"] = True
    data = {"input": input_shape, "layers": [layer]}
    try:
        # One layer class and the input shape: validating the whole Network would first
        # build the schema of every layer type, a good part of this command's run time.
        model = REGISTRY[kind.value].model_validate(layer)
        shape = TypeAdapter(InputShape).validate_python(input_shape)
        # The registry's classes are the members of the Layer union.
        layers = [cast(Layer, model)]
        network = Network.model_construct(version=1, name=None, input=shape, layers=layers)
        return NetworkSource(network, "<flags>")
    except ValidationError:
        pass
    try:  # the whole validation, for the same located message a file would get
        return network_from_data(data, "<flags>")
    except SpecError as error:
        flag = FLAG_OF_FIELD.get(error.field_name or "", error.field_name)
        raise InputError(f"{flag}: {error.message}" if flag else error.message,
                         source="<flags>") from None
