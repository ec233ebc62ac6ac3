"""docs/onnx.md names every operator the importer reads, so that its list stays true."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

pytest.importorskip("numpy")

from convcalc.onnx_import.model import OPERATORS
from convcalc.onnx_import.values import FOLDABLE

DOC = ROOT / "docs" / "onnx.md"


def _operators_table() -> str:
    """Return the text of the section "Supported operators" up to the next section."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Supported operators")
    return text[start:text.index("\n## ", start + 1)]


@pytest.mark.parametrize("op_type", sorted(
    {op for op in OPERATORS if not op.startswith("convcalc.")} | set(FOLDABLE) | {"Constant"}))
def test_every_operator_read_is_documented(op_type: str) -> None:
    """Each ONNX operator with a rule or a constant evaluation is named in the section."""
    assert re.search(rf"(?<![\w.]){re.escape(op_type)}(?![\w])", _operators_table()), op_type
