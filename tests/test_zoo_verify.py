"""verify passes on one zoo entry per family, at a reduced input given through --input.

The whole zoo at its default inputs is benchmarks/bench_zoo_verify.py's job (minutes);
here each family's smallest member runs at about the smallest input it takes, so the file
stays within a minute. A family with no entry yet is skipped, naming it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from convcalc import zoo
from convcalc.zoo.listing import family_of

pytest.importorskip("numba")

CASES = {
    # family: (its smallest entry, the input it is verified at)
    "alexnet": ("alexnet", "3x64x64"),
    "convnext": ("convnext_tiny", "3x64x64"),
    "densenet": ("densenet121", "3x64x64"),
    "efficientnet": ("efficientnet_b0", "3x64x64"),
    "efficientnet_v2": ("efficientnet_v2_s", "3x64x64"),
    "googlenet": ("googlenet", "3x64x64"),
    # The auxiliary head's 5×5 conv after a 5-stride-3 pool needs Mixed_6e's 17×17, which
    # only a 299×299 input (the default) gives.
    "inception": ("inception_v3", "3x299x299"),
    "mnasnet": ("mnasnet0_5", "3x64x64"),
    "mobilenet_v2": ("mobilenet_v2", "3x64x64"),
    "mobilenet_v3": ("mobilenet_v3_small", "3x64x64"),
    "regnet_x": ("regnet_x_400mf", "3x64x64"),
    "regnet_y": ("regnet_y_400mf", "3x64x64"),
    "resnet": ("resnet18", "3x64x64"),
    "resnext": ("resnext50_32x4d", "3x64x64"),
    "shufflenet_v2": ("shufflenet_v2_x0_5", "3x64x64"),
    "squeezenet": ("squeezenet1_1", "3x64x64"),
    "vgg": ("vgg11", "3x32x32"),
    "wide_resnet": ("wide_resnet50_2", "3x64x64"),
}


def test_cases_name_every_family_of_the_zoo() -> None:
    """Every family with an entry in the zoo has a case, and each case is of its family."""
    assert {family_of(name) for name in zoo.names()} <= set(CASES)
    assert all(family_of(entry) == family for family, (entry, _) in CASES.items())


@pytest.mark.parametrize(("family", "entry", "shape"),
                         [(family, *case) for family, case in CASES.items()], ids=list(CASES))
def test_verify_passes(run_cli: Callable[..., Any], family: str, entry: str,
                       shape: str) -> None:
    """verify zoo:ENTRY --input SHAPE exits 0 with every row agreeing, at that input."""
    if entry not in zoo.names():
        pytest.skip(f"family {family}: zoo:{entry} is not in the zoo yet")
    result = run_cli("verify", f"zoo:{entry}", "--input", shape, "--format", "json")
    assert result.exit_code == 0, result.stderr
    verification = json.loads(result.stdout)
    assert verification["ok"] is True
    assert verification["complete"] is True
    assert verification["input_shape"] == [int(d) for d in shape.split("x")]
    assert all(row["ok"] for row in verification["layers"])
