"""The reference ops: every layer type's and merge's pointer names an op, and the ops
import nothing of the rules they check."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from convcalc.layers import REGISTRY
from convcalc.layers.merges import MERGES
from convcalc.reference.ops._op import MergeOp, Op

OPS = Path(__file__).resolve().parent.parent / "convcalc" / "reference" / "ops"


def _resolve(pointer: str) -> object:
    module_name, _, name = pointer.partition(":")
    return getattr(importlib.import_module(module_name), name, None)


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_layer_type_points_at_an_op(type_name: str) -> None:
    """Each registered leaf type's pointer names an Op in its module."""
    cls = REGISTRY[type_name]
    if cls.container:
        pytest.skip("a container has no op of its own")
    pointer = cls.reference_op_of(type_name)
    found = _resolve(pointer)
    assert isinstance(found, Op), f"{type_name}: {pointer} is not a reference op"


@pytest.mark.parametrize("name", sorted(MERGES))
def test_every_merge_points_at_a_merge_op(name: str) -> None:
    """Each registered merge's pointer names a MergeOp in ops/merge.py."""
    pointer = MERGES[name].reference_op
    found = _resolve(pointer)
    assert isinstance(found, MergeOp), f"merge {name}: {pointer} is not a merge op"


def test_the_ops_import_none_of_the_rules_they_check() -> None:
    """Importing every ops module loads neither convcalc.geometry nor
    convcalc.layers.window.

    The package ``convcalc`` itself imports its public API (the analysis, so geometry);
    the subprocess stands the two packages in without running their ``__init__`` so that
    what is loaded is what the ops import.
    """
    modules = sorted(path.stem for path in OPS.glob("*.py") if path.stem != "__init__")
    script = f"""
import sys, types
from pathlib import Path
ops = Path({str(OPS)!r})
for name, folder in (("convcalc", ops.parent.parent), ("convcalc.reference", ops.parent)):
    package = types.ModuleType(name)
    package.__path__ = [str(folder)]
    sys.modules[name] = package
import importlib
for module in {modules!r}:
    importlib.import_module("convcalc.reference.ops." + module)
print(" ".join(sorted(m for m in sys.modules if m.startswith("convcalc"))))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    loaded = set(result.stdout.split())
    assert "convcalc.reference.ops.conv" in loaded
    assert "convcalc.geometry" not in loaded
    assert "convcalc.layers.window" not in loaded
    assert not any(name.startswith("convcalc.layers") for name in loaded), loaded
