"""The zoo's API, its files against their generator, and the examples they equal."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLES
from test_zoo_published import CNN_ROWS

from convcalc import analyze, load_network, zoo
from convcalc.errors import InputError
from convcalc.zoo import _generate

ZOO = Path(zoo.__file__).resolve().parent

ENTRIES = (
    "alexnet",
    "convnext_base", "convnext_large", "convnext_small", "convnext_tiny",
    "densenet121", "densenet161", "densenet169", "densenet201",
    "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
    "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
    "efficientnet_v2_l", "efficientnet_v2_m", "efficientnet_v2_s",
    "googlenet",
    "inception_v3",
    "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3",
    "mobilenet_v2",
    "mobilenet_v3_large", "mobilenet_v3_small",
    "regnet_x_16gf", "regnet_x_1_6gf", "regnet_x_32gf", "regnet_x_3_2gf", "regnet_x_400mf",
    "regnet_x_800mf", "regnet_x_8gf",
    "regnet_y_128gf", "regnet_y_16gf", "regnet_y_1_6gf", "regnet_y_32gf", "regnet_y_3_2gf",
    "regnet_y_400mf", "regnet_y_800mf", "regnet_y_8gf",
    "resnet101", "resnet152", "resnet18", "resnet34", "resnet50",
    "resnext101_32x8d", "resnext101_64x4d", "resnext50_32x4d",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "squeezenet1_0", "squeezenet1_1",
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "wide_resnet101_2", "wide_resnet50_2",
)


def test_all_is_exact() -> None:
    """convcalc.zoo exports exactly names, source and text."""
    assert zoo.__all__ == ["names", "source", "text"]


def test_names_are_every_entry_sorted() -> None:
    """names() lists every shipped entry, sorted, by its torchvision builder name."""
    assert zoo.names() == ENTRIES


def test_source_is_named_zoo_colon_name() -> None:
    """source() parses the entry under the name zoo:<name>, with its text for errors."""
    found = zoo.source("resnet50")
    assert found.name == "zoo:resnet50"
    assert found.text == zoo.text("resnet50")
    assert found.network.name == "resnet50"
    assert found.network.input == (3, 224, 224)


def test_unknown_name_suggests_the_nearest() -> None:
    """An unknown name is an InputError naming the nearest entry."""
    with pytest.raises(InputError) as caught:
        zoo.text("resnet05")
    assert str(caught.value) == (
        "zoo:resnet05: no zoo entry named 'resnet05' (did you mean 'resnet50'?); "
        "`convcalc zoo` lists them")


def test_unknown_name_without_a_near_one() -> None:
    """A name near no entry gets no suggestion."""
    with pytest.raises(InputError) as caught:
        zoo.source("transformer")
    assert "did you mean" not in str(caught.value)


def test_files_equal_the_generator_output(tmp_path: Path) -> None:
    """Running the generator reproduces the committed files exactly, and no file more."""
    written = _generate.write(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in ZOO.glob("*.yaml"))
    for path in written:
        assert path.read_text(encoding="utf-8") == (ZOO / path.name).read_text(
            encoding="utf-8"), path.name


def test_every_entry_gives_1000_classes() -> None:
    """Every entry loads and analyses at its default input into ImageNet's 1000 classes."""
    for name in zoo.names():
        report = analyze(zoo.source(name).network)
        assert report.output_shape == (1000,), name


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2"])
def test_examples_equal_their_entries(name: str) -> None:
    """An example that is also a zoo entry has the same rows: names, shapes, params, MACs."""
    def rows(network: object) -> list[tuple[object, ...]]:
        report = analyze(network)  # type: ignore[arg-type]
        return [(r.name, r.output_shape, r.params, r.macs) for r in report.layers]

    example = load_network(EXAMPLES / f"{name}.yaml").network
    assert rows(zoo.source(name).network) == rows(example)


def test_regnet_stages_follow_torchvision() -> None:
    """RegNetX-400MF's widths and depths come out as torchvision's (and its paper's)."""
    assert _generate.regnet_stages(22, 24, 24.48, 2.54, 16) == [
        (32, 1, 16), (64, 2, 16), (160, 7, 16), (400, 12, 16)]


def test_default_input_is_the_first_rows_crop_size() -> None:
    """Each entry's default input is 3×S×S with S the crop size of its builder's first row
    in torchvision's weight table (Inception v3 299, EfficientNet-B7 600, most 224)."""
    first_crop: dict[str, int] = {}
    for row in CNN_ROWS:
        first_crop.setdefault(row["builder"], int(row["crop_size"]))
    for name in zoo.names():
        size = first_crop[name]
        assert zoo.source(name).network.input == (3, size, size), name
