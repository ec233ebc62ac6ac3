"""The zoo agrees row by row with plain-torch twins of one network per family."""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("torch")

import torch_zoo
from test_examples import torch_rows

from convcalc import analyze, zoo

# A reduced input keeps the run short; every twin accepts it.
INPUT = (3, 64, 64)

# convcalc's full names that differ from torchvision's module names, mapped to torchvision's:
# a Fire module's expand branches sit in a `parallel` named `expand`, a level torchvision's
# Fire does not have.
RENAME: dict[str, Callable[[str], str]] = {
    "squeezenet1_1": lambda name: name.replace(".expand.", "."),
}


@pytest.mark.parametrize("name", sorted(torch_zoo.BUILDERS))
def test_rows_match_torch_twin(name: str) -> None:
    """Each parametrized module of the twin has a convcalc row of the same name with equal
    params, output shape and MACs, and the totals agree."""
    expected_rows = torch_rows(torch_zoo.BUILDERS[name](), INPUT)
    network = zoo.source(name).network.model_copy(update={"input": INPUT})
    report = analyze(network)
    rename = RENAME.get(name, lambda full: full)
    rows = {rename(row.name): row for row in report.layers if not row.container}
    assert expected_rows, name
    for module, expected in expected_rows.items():
        row = rows[module]
        assert row.params == expected["params"], module
        assert row.output_shape == expected["shape"], module
        if expected["macs"] is not None:
            assert row.macs == expected["macs"], module
    assert report.totals.params == sum(r["params"] for r in expected_rows.values())
    assert report.output_shape == (1000,)
