"""The plain-torch twins of examples/ reproduce the published sizes of their networks."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

import torch_models as tm

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Parameter counts: torchvision's model cards for the first five, the papers or the
# classic hand count for the rest (LeNet-5 avgpool/tanh variant, MobileNetV1 1.0-224).
PUBLISHED_PARAMS = {
    "lenet5": 61_706,
    "alexnet": 61_100_840,
    "vgg16": 138_357_544,
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "mobilenet_v1": 4_231_976,
    "mobilenet_v2": 3_504_872,
}

# Conv + linear weight multiply-accumulates per 224x224 image, in G, to the published
# precision (torchvision's "GFLOPS" column counts these; MobileNetV1's paper says 569 M).
PUBLISHED_GMACS = {
    "alexnet": (0.71, 2),
    "vgg16": (15.47, 2),
    "resnet18": (1.81, 2),
    "resnet50": (4.09, 2),
    "mobilenet_v1": (0.569, 3),
    "mobilenet_v2": (0.30, 2),
}

OUTPUT_SHAPES = {name: (1000,) for name in PUBLISHED_GMACS} | {
    "lenet5": (10,),
    "unet_small": (2, 64, 64),
}


def test_builders_cover_every_example() -> None:
    """There is one torch builder per examples/*.yaml file, keyed by its stem."""
    assert set(tm.BUILDERS) == {p.stem for p in EXAMPLES.glob("*.yaml")}
    assert set(tm.INPUT_SHAPES) == set(tm.BUILDERS)


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_param_count_matches_published(name: str) -> None:
    """The builder's parameter count equals the published one exactly."""
    assert tm.count_params(tm.BUILDERS[name]()) == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMACS))
def test_gmacs_round_to_published(name: str) -> None:
    """Hook-counted conv+linear GMACs round to the published figure."""
    macs, _ = tm.count_macs(tm.BUILDERS[name](), tm.INPUT_SHAPES[name])
    published, digits = PUBLISHED_GMACS[name]
    assert round(macs / 1e9, digits) == published


@pytest.mark.parametrize("name", sorted(OUTPUT_SHAPES))
def test_output_shape(name: str) -> None:
    """A single input sample gives the expected output shape."""
    _, shape = tm.count_macs(tm.BUILDERS[name](), tm.INPUT_SHAPES[name])
    assert shape == OUTPUT_SHAPES[name]


def test_lenet5_macs_by_hand() -> None:
    """LeNet-5's MACs equal the hand count of its two convs and three linears."""
    conv = 28 * 28 * 6 * 1 * 25 + 10 * 10 * 16 * 6 * 25
    linear = 400 * 120 + 120 * 84 + 84 * 10
    assert tm.count_macs(tm.lenet5(), (1, 32, 32))[0] == conv + linear


def test_unet_small_size() -> None:
    """The small U-Net's parameters and MACs (transposed conv counted per input element)."""
    model = tm.unet_small()
    assert tm.count_params(model) == 117_090
    assert tm.count_macs(model, (1, 64, 64))[0] == 99_287_040
