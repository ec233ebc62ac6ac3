"""The zoo agrees row by row with plain-torch twins of one network per family."""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("torch")

import torch_zoo
from test_examples import assert_rows_match, torch_rows

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
    assert_rows_match(expected_rows, report, RENAME.get(name, lambda full: full))
    assert report.output_shape == (1000,)
