"""docs/reliability.md cannot drift: every bound it names is stated with the code's value."""

from __future__ import annotations

import importlib

import pytest
from conftest import ROOT

DOC = (ROOT / "docs" / "reliability.md").read_text()

BOUNDS = [
    ("convcalc.loader", "MAX_NODES"),
    ("convcalc.loader", "MAX_NESTING"),
    ("convcalc.loader", "MAX_DIGITS"),
    ("convcalc.loader", "MAX_MERGED_KEYS"),
    ("convcalc.layers.base", "MAX_SIZE"),
    ("convcalc.layers.containers", "MAX_REPEAT"),
    ("convcalc.analysis", "MAX_LAYERS"),
    ("convcalc.analysis", "MAX_FULL_NAME"),
    ("convcalc.onnx_import.model", "MAX_GRAPH_NODES"),
    ("convcalc.onnx_import.values", "MAX_FOLDED"),
    ("convcalc.receptive_field", "MAX_PERIOD"),
    ("convcalc.receptive_field", "MAX_FIELD_LOOKUPS"),
    ("convcalc.solve", "MAX_COMBINATIONS"),
    ("convcalc.solve", "MAX_CANDIDATES"),
    ("convcalc.solve", "MAX_INPUT_CANDIDATES"),
    ("convcalc.solve", "MAX_INPUT_ROWS"),
    ("convcalc.cli.app", "MAX_BATCH"),
    ("convcalc.cli.verify", "MAX_SEED"),
    ("convcalc.cli.guard", "MAX_MESSAGE"),
    ("convcalc.textsafe", "MAX_ECHO"),
    ("convcalc.reference.verify", "DEFAULT_MAX_MEMORY"),
    ("convcalc.reference.verify", "MAX_PROBE_WORK"),
    ("convcalc.reference.verify", "MAX_CHECKED_UNITS"),
    ("convcalc.reference.probe", "MAX_PROBE_TERMS"),
]


@pytest.mark.parametrize(("module", "name"), BOUNDS, ids=[n for _, n in BOUNDS])
def test_bound_is_documented_with_its_value(module: str, name: str) -> None:
    """The doc names the bound and states the number the code checks."""
    value = getattr(importlib.import_module(module), name)
    assert isinstance(value, int)
    row = next((line for line in DOC.splitlines() if f"`{name}`" in line), None)
    if row is None:  # bounds stated in prose, not in a table row
        assert f"{value:,}" in DOC or str(value) in DOC, name
        return
    assert f"{value:,}" in row, f"{name} = {value:,} is not what docs/reliability.md says"


def test_file_size_limit_is_documented() -> None:
    """The file-size limit is stated in MiB as the loader's message gives it."""
    from convcalc.loader import MAX_FILE_BYTES

    assert f"| {MAX_FILE_BYTES // 2**20} MiB |" in DOC


def test_every_exit_code_is_documented() -> None:
    """Each exit code the guard gives has a row in the exit-code table."""
    for code in (0, 1, 2, 3, 130, 141):
        assert f"\n| {code} |" in DOC, code
