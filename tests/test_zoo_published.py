"""Every CNN row of torchvision's weight table is reproduced by its zoo entry, exactly.

tests/data/torchvision_classification.tsv is torchvision 0.29.1's weight metadata: per
weight, its builder, parameter count, "GFLOPS" (conv and matmul multiplications only, i.e.
convcalc's MACs / 10⁹, to three decimals) and crop size. Each row is checked at its own crop
size; a CNN whose entry needs a layer type the format lacks yet is skipped with the reason.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from convcalc import analyze, zoo

TABLE = Path(__file__).resolve().parent / "data" / "torchvision_classification.tsv"

# Not convolutional networks; outside the zoo.
TRANSFORMERS = frozenset({
    "maxvit_t", "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b",
    "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14",
})

_SE = "parallel merge: mul (squeeze-and-excitation)"
# CNNs without an entry yet, and the layer types they wait for (issue 9). Delete a builder
# here when its entry lands: a test checks the list names exactly the builders missing.
NOT_YET = {
    **{f"convnext_{size}": "layernorm, layer_scale, stochastic_depth"
       for size in ("tiny", "small", "base", "large")},
    **{f"efficientnet_b{i}": f"{_SE}, stochastic_depth" for i in range(8)},
    **{f"efficientnet_v2_{size}": f"{_SE}, stochastic_depth" for size in "sml"},
    "inception_v3": "aux (its published parameters include the auxiliary head)",
    "mobilenet_v3_large": f"{_SE}, hardsigmoid",
    "mobilenet_v3_small": f"{_SE}, hardsigmoid",
    **{f"regnet_y_{flops}": _SE
       for flops in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")},
}


def _rows() -> list[dict[str, str]]:
    with TABLE.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream, delimiter="\t"))


ROWS = _rows()
CNN_ROWS = [row for row in ROWS if row["builder"] not in TRANSFORMERS]


def _cases() -> list[object]:
    cases = []
    for row in CNN_ROWS:
        marks = []
        if row["builder"] in NOT_YET:
            marks.append(pytest.mark.skip(reason=f"needs {NOT_YET[row['builder']]}"))
        cases.append(pytest.param(row, id=row["weights"], marks=marks))
    return cases


def test_table_has_98_cnn_rows() -> None:
    """The table holds 98 CNN rows besides the transformers, which are all in it."""
    assert len(CNN_ROWS) == 98
    assert TRANSFORMERS.issubset(row["builder"] for row in ROWS)


def test_not_yet_names_exactly_the_missing_builders() -> None:
    """Every CNN builder has a zoo entry or a reason why not, never both."""
    builders = {row["builder"] for row in CNN_ROWS}
    assert builders - set(zoo.names()) == set(NOT_YET)
    assert set(zoo.names()) <= builders


@pytest.mark.parametrize("row", _cases())
def test_row_reproduced(row: dict[str, str]) -> None:
    """At the row's crop size, parameters equal the published count and MACs round to its
    GFLOPS."""
    crop = int(row["crop_size"])
    network = zoo.source(row["builder"]).network
    report = analyze(network.model_copy(update={"input": (3, crop, crop)}))
    assert report.totals.params == int(row["num_params"])
    assert round(report.totals.macs / 1e9, 3) == float(row["gflops"])
