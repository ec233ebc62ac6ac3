"""Every CNN row of torchvision's weight table is reproduced by its zoo entry, exactly.

tests/data/torchvision_classification.tsv is torchvision 0.29.1's weight metadata: per
weight, its builder, parameter count, "GFLOPS" (conv and matmul multiplications only, i.e.
convcalc's MACs / 10⁹, to three decimals) and crop size. Each row is checked at its own crop
size.
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

def _rows() -> list[dict[str, str]]:
    with TABLE.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream, delimiter="\t"))


ROWS = _rows()
CNN_ROWS = [row for row in ROWS if row["builder"] not in TRANSFORMERS]


def test_table_has_98_cnn_rows() -> None:
    """The table holds 98 CNN rows besides the transformers, which are all in it."""
    assert len(CNN_ROWS) == 98
    assert TRANSFORMERS.issubset(row["builder"] for row in ROWS)


def test_every_cnn_builder_has_an_entry() -> None:
    """The zoo's entries are exactly the table's 68 CNN builders."""
    builders = {row["builder"] for row in CNN_ROWS}
    assert set(zoo.names()) == builders
    assert len(builders) == 68


@pytest.mark.parametrize("row", CNN_ROWS, ids=[row["weights"] for row in CNN_ROWS])
def test_row_reproduced(row: dict[str, str]) -> None:
    """At the row's crop size, parameters equal the published count and MACs round to its
    GFLOPS."""
    crop = int(row["crop_size"])
    network = zoo.source(row["builder"]).network
    report = analyze(network.model_copy(update={"input": (3, crop, crop)}))
    assert report.totals.params == int(row["num_params"])
    assert round(report.totals.macs / 1e9, 3) == float(row["gflops"])
