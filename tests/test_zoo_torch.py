"""The zoo agrees row by row with plain-torch twins of one network per family."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("torch")

import torch_zoo
from test_examples import assert_rows_match, torch_rows
from test_zoo_published import CNN_ROWS

from convcalc import analyze, zoo

# A reduced input keeps the run short; every twin accepts it.
INPUT = (3, 64, 64)

# convcalc's full names that differ from torchvision's module names, mapped to torchvision's:
# a Fire module's expand branches sit in a `parallel` named `expand`, a level torchvision's
# Fire does not have.
RENAME: dict[str, Callable[[str], str]] = {
    "squeezenet1_1": lambda name: name.replace(".expand.", "."),
}


# --------------------------------------------------------------------------- modern CNNs
# Inception v3's auxiliary head pools a 17x17 map by 5 with stride 3 and then runs a 5x5 conv:
# 299x299 is the least input it accepts.
INPUTS: dict[str, tuple[int, ...]] = {"inception_v3": (3, 299, 299)}

RENAME.update({
    # InceptionE splits two of its branches in two (1x3 and 3x1 convs, concatenated): each
    # split is a `parallel` of its own, a level torchvision's InceptionE does not have.
    "inception_v3": lambda name: re.sub(r"\.(branch3x3_2|branch3x3dbl_3)\.(?=\1[ab]\.)", ".",
                                        name),
    # A CNBlock's layer_scale is a parameter of the block module itself in torchvision.
    "convnext_tiny": lambda name: name.removesuffix(".layer_scale"),
})

_CHANNELS_LAST = re.compile(r"\.block\.[235]\Z")


def _channels_first(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return ConvNeXt's twin rows as the zoo writes them: a CNBlock runs its LayerNorm and
    its two Linears channels last, on (H, W, C), which the zoo writes channels first as a
    layernorm and two 1x1 convs (the same parameters); a Linear applied at each of the H·W
    positions does H·W times the multiplications torch_rows counts for one."""
    converted = {}
    for name, row in rows.items():
        if _CHANNELS_LAST.search(name):
            height, width, channels = row["shape"]
            macs = None if row["macs"] is None else row["macs"] * height * width
            row = {**row, "shape": (channels, height, width), "macs": macs}
        converted[name] = row
    return converted


ADAPT: dict[str, Callable[[dict[str, dict[str, Any]]], dict[str, dict[str, Any]]]] = {
    "convnext_tiny": _channels_first,
}


@pytest.mark.parametrize("name", sorted(torch_zoo.BUILDERS))
def test_rows_match_torch_twin(name: str) -> None:
    """Each parametrized module of the twin has a convcalc row of the same name with equal
    params, output shape and MACs, and the totals agree."""
    if name not in zoo.names():
        pytest.skip(f"zoo:{name} waits for the layer types it needs")
    shape = INPUTS.get(name, INPUT)
    expected_rows = ADAPT.get(name, lambda rows: rows)(
        torch_rows(torch_zoo.BUILDERS[name](), shape))
    network = zoo.source(name).network.model_copy(update={"input": shape})
    report = analyze(network)
    assert_rows_match(expected_rows, report, RENAME.get(name, lambda full: full))
    assert report.output_shape == (1000,)


@pytest.mark.parametrize("name", sorted(torch_zoo.BUILDERS))
def test_twin_has_the_published_parameters(name: str) -> None:
    """Each twin has exactly the parameters torchvision publishes for its builder (a check of
    the twin that does not go through convcalc)."""
    published = {int(row["num_params"]) for row in CNN_ROWS if row["builder"] == name}
    model = torch_zoo.BUILDERS[name]()
    assert published == {sum(p.numel() for p in model.parameters())}
