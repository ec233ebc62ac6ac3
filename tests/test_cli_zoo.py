"""convcalc zoo and zoo show, and zoo:NAME as the network of every command."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from convcalc import zoo
from convcalc.render.zoo import agreement, zoo_text
from convcalc.zoo.listing import (
    PublishedFigures,
    ZooEntry,
    ZooListing,
    family_of,
    published_figures,
)

ZOO = Path(zoo.__file__).resolve().parent
TABLE = ROOT / "tests" / "data" / "torchvision_classification.tsv"
RESNET50 = ["resnet50", "resnet", "3×224×224", "25,557,032", "4.089", "25,557,032", "4.089",
            "✓"]


def _cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_listing_shows_resnet50_beside_its_published_figures(
        run_cli: Callable[..., Any]) -> None:
    """resnet50's row: 25,557,032 parameters and 4.089 GMACs, torchvision's same figures
    beside them, and ✓."""
    result = run_cli("zoo")
    assert result.exit_code == 0
    rows = {_cells(line)[0]: _cells(line) for line in result.stdout.splitlines()[4:-2]}
    assert rows["resnet50"] == RESNET50
    assert rows["vgg11_bn"] == ["vgg11_bn", "vgg", "3×224×224", "132,868,840", "7.609",
                                "132,868,840", "7.609", "✓"]
    assert rows["regnet_x_800mf"][4:7] == ["0.800", "7,259,656", "0.800"]


def test_listing_lists_every_entry_and_all_agree(run_cli: Callable[..., Any]) -> None:
    """Every zoo entry has one row, grouped by family and smallest first, and every one
    agrees with the published figures."""
    lines = run_cli("zoo").stdout.splitlines()
    count = len(zoo.names())
    assert lines[0] == (f"convcalc's zoo: {count} networks, {count} agree with the "
                        "published figures")
    assert _cells(lines[2]) == ["Name", "Family", "Input", "Params", "GMACs",
                                "Published params", "Published GMACs", "Agrees"]
    rows = [_cells(line) for line in lines[4:-2]]
    assert sorted(row[0] for row in rows) == sorted(zoo.names())
    assert all(row[-1] == "✓" for row in rows)
    resnets = [row[0] for row in rows if row[1] == "resnet"]
    assert resnets == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    assert lines[-1] == ("Published: torchvision 0.29.1, each builder's first weights. "
                         'GMACs: MACs / 10⁹ (its "GFLOPS").')


def test_listing_json(run_cli: Callable[..., Any]) -> None:
    """The JSON has every entry with exact MACs, the published weights and both verdicts."""
    result = run_cli("zoo", "--format", "json")
    listing = json.loads(result.stdout)
    assert listing["family"] is None
    entry = next(e for e in listing["entries"] if e["name"] == "resnet50")
    assert entry == {
        "name": "resnet50", "family": "resnet", "input_shape": [3, 224, 224],
        "params": 25_557_032, "macs": 4_089_184_256, "gmacs": 4.089,
        "published": {"weights": "ResNet50.IMAGENET1K_V1", "params": 25_557_032,
                      "gmacs": 4.089, "crop_size": 224},
        "params_agree": True, "macs_agree": True, "training": None,
    }
    assert listing["batch"] == 1
    assert len(listing["entries"]) == len(zoo.names())


def test_listing_csv_and_markdown(run_cli: Callable[..., Any]) -> None:
    """CSV gives exact counts per entry; Markdown the table's cells."""
    rows = list(csv.DictReader(io.StringIO(run_cli("zoo", "--format", "csv").stdout)))
    resnet50 = next(row for row in rows if row["name"] == "resnet50")
    assert resnet50 == {
        "name": "resnet50", "family": "resnet", "input_shape": "3x224x224",
        "params": "25557032", "macs": "4089184256", "gmacs": "4.089",
        "published_weights": "ResNet50.IMAGENET1K_V1", "published_params": "25557032",
        "published_gmacs": "4.089", "params_agree": "true", "macs_agree": "true",
    }
    markdown = run_cli("zoo", "--format", "markdown").stdout
    assert "| resnet50 | resnet | 3×224×224 | 25,557,032 | 4.089 | 25,557,032 | 4.089 | ✓ |" in (
        markdown.splitlines())


def test_family_filter(run_cli: Callable[..., Any]) -> None:
    """--family keeps that family's entries, smallest first."""
    result = run_cli("zoo", "--family", "squeezenet")
    lines = result.stdout.splitlines()
    assert lines[0] == ("convcalc's family squeezenet: 2 networks, 2 agree with the "
                        "published figures")
    assert [_cells(line) for line in lines[4:-2]] == [
        ["squeezenet1_1", "squeezenet", "3×224×224", "1,235,496", "0.349", "1,235,496",
         "0.349", "✓"],
        ["squeezenet1_0", "squeezenet", "3×224×224", "1,248,424", "0.819", "1,248,424",
         "0.819", "✓"],
    ]


def test_unknown_family(run_cli: Callable[..., Any]) -> None:
    """An unknown family is one line naming the nearest and listing the families."""
    result = run_cli("zoo", "--family", "resnt")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no zoo family named 'resnt' (did you mean "
                                    "'resnet'?); the families are alexnet, ")
    assert len(result.stderr.splitlines()) == 1


def test_a_disagreement_is_marked() -> None:
    """A figure that differs from the published one gets ✗ naming it, and no ✓."""
    published = PublishedFigures(weights="X.V1", params=10, gmacs=1.0, crop_size=224)
    entry = ZooEntry(name="x", family="x", input_shape=(3, 224, 224), params=11,
                     macs=1_000_400_000, gmacs=1.0, published=published, params_agree=False,
                     macs_agree=True)
    assert agreement(entry) == "✗ params"
    both = entry.model_copy(update={"macs_agree": False})
    assert agreement(both) == "✗ params, MACs"
    alone = entry.model_copy(update={"published": None, "params_agree": None,
                                     "macs_agree": None})
    assert agreement(alone) == "—"
    text = zoo_text(ZooListing(family=None, entries=(entry, alone)))
    assert text.splitlines()[0] == "convcalc's zoo: 2 networks, 0 agree with the published figures"
    assert _cells(text.splitlines()[5]) == ["x", "x", "3×224×224", "11", "1.000", "—", "—",
                                            "—"]


def test_published_figures_are_each_builders_first_row() -> None:
    """The shipped figures are the first row per builder: RegNetY-16GF's 224 crop, not its
    SWAG 384 one."""
    figures = published_figures()
    assert figures["regnet_y_16gf"] == PublishedFigures(
        weights="RegNet_Y_16GF.IMAGENET1K_V1", params=83_590_140, gmacs=15.912, crop_size=224)
    assert figures["efficientnet_b7"].crop_size == 600
    assert figures["inception_v3"].params == 27_161_264


def test_shipped_table_is_the_test_data() -> None:
    """convcalc/zoo/published.tsv is byte for byte the table the tests check against."""
    assert (ZOO / "published.tsv").read_bytes() == TABLE.read_bytes()


FAMILIES = {
    "alexnet": "alexnet", "convnext_tiny": "convnext", "convnext_large": "convnext",
    "densenet121": "densenet", "efficientnet_b0": "efficientnet",
    "efficientnet_b7": "efficientnet", "efficientnet_v2_s": "efficientnet_v2",
    "googlenet": "googlenet", "inception_v3": "inception", "mnasnet0_5": "mnasnet",
    "mobilenet_v2": "mobilenet_v2", "mobilenet_v3_large": "mobilenet_v3",
    "mobilenet_v3_small": "mobilenet_v3", "regnet_x_400mf": "regnet_x",
    "regnet_y_128gf": "regnet_y", "resnet18": "resnet", "resnet152": "resnet",
    "resnext50_32x4d": "resnext", "resnext101_64x4d": "resnext",
    "shufflenet_v2_x0_5": "shufflenet_v2", "squeezenet1_1": "squeezenet", "vgg11": "vgg",
    "vgg19_bn": "vgg", "wide_resnet50_2": "wide_resnet", "wide_resnet101_2": "wide_resnet",
}


@pytest.mark.parametrize(("name", "family"), FAMILIES.items())
def test_family_of(name: str, family: str) -> None:
    """A builder name gives its family; the longer prefix wins (wide_resnet, not resnet)."""
    assert family_of(name) == family


def test_every_published_cnn_has_a_family() -> None:
    """Every CNN builder of the published table maps to one of the 18 families."""
    with TABLE.open(encoding="utf-8", newline="") as stream:
        builders = {row["builder"] for row in csv.DictReader(stream, delimiter="\t")}
    cnns = {b for b in builders if not b.startswith(("vit_", "swin_", "maxvit_"))}
    assert len(cnns) == 68
    assert {family_of(b) for b in cnns} == {
        "alexnet", "convnext", "densenet", "efficientnet", "efficientnet_v2", "googlenet",
        "inception", "mnasnet", "mobilenet_v2", "mobilenet_v3", "regnet_x", "regnet_y",
        "resnet", "resnext", "shufflenet_v2", "squeezenet", "vgg", "wide_resnet"}


# ---------------------------------------------------------------------- zoo show


def test_show_prints_the_file_exactly(run_cli: Callable[..., Any]) -> None:
    """zoo show NAME prints the shipped YAML byte for byte (zoo:NAME works too)."""
    for name in ("resnet18", "zoo:resnet18"):
        result = run_cli("zoo", "show", name)
        assert result.exit_code == 0
        assert result.stdout == (ZOO / "resnet18.yaml").read_text(encoding="utf-8")
        assert result.stderr == ""


def test_show_writes_a_file_and_refuses_to_replace_one(run_cli: Callable[..., Any],
                                                       tmp_path: Path) -> None:
    """-o writes the YAML; an existing file is left alone without --force, replaced with."""
    target = tmp_path / "mine.yaml"
    first = run_cli("zoo", "show", "alexnet", "-o", str(target))
    assert first.exit_code == 0
    assert target.read_text(encoding="utf-8") == zoo.text("alexnet")
    assert first.stderr == f"wrote {target}\n"
    target.write_text("mine", encoding="utf-8")
    refused = run_cli("zoo", "show", "vgg11", "-o", str(target))
    assert refused.exit_code == 2
    assert refused.stderr == f"error: {target}: already exists; pass --force to replace it\n"
    assert target.read_text(encoding="utf-8") == "mine"
    forced = run_cli("zoo", "show", "vgg11", "-o", str(target), "--force")
    assert forced.exit_code == 0
    assert target.read_text(encoding="utf-8") == zoo.text("vgg11")


def test_show_unknown_name(run_cli: Callable[..., Any]) -> None:
    """An unknown name is one line with the nearest entry's name."""
    result = run_cli("zoo", "show", "resnet05")
    assert result.exit_code == 2
    assert result.stderr == ("error: zoo:resnet05: no zoo entry named 'resnet05' (did you "
                             "mean 'resnet50'?); `convcalc zoo` lists them\n")


# ------------------------------------------------------- zoo:NAME in every command


def _same_but_name(zoo_run: Any, file_run: Any, name: str, path: str) -> None:
    assert zoo_run.exit_code == file_run.exit_code == 0
    assert zoo_run.stdout.replace(f"zoo:{name}", "FILE") == file_run.stdout.replace(path,
                                                                                     "FILE")


@pytest.mark.parametrize("args", [
    ("net", "{}"), ("net", "{}", "--explain", "--format", "json"), ("net", "{}", "--depth", "1"),
    ("export", "--to", "pytorch", "{}"), ("solve", "inputs", "{}", "--max", "64"),
    ("diff", "{}", "zoo:resnet18"),
], ids=lambda args: " ".join(args[:2]))
def test_zoo_source_equals_its_file(run_cli: Callable[..., Any], args: tuple[str, ...]) -> None:
    """zoo:squeezenet1_1 gives each command's output for the shipped file itself."""
    path = str(ZOO / "squeezenet1_1.yaml")
    by_name = run_cli(*(a.format("zoo:squeezenet1_1") for a in args))
    by_file = run_cli(*(a.format(path) for a in args))
    _same_but_name(by_name, by_file, "squeezenet1_1", path)


def test_zoo_source_in_verify(run_cli: Callable[..., Any]) -> None:
    """verify zoo:NAME checks the entry (at a small input here, to stay quick)."""
    path = str(ZOO / "squeezenet1_1.yaml")
    args = ("--input", "3x48x48", "--format", "json")
    by_name = run_cli("verify", "zoo:squeezenet1_1", *args)
    _same_but_name(by_name, run_cli("verify", path, *args), "squeezenet1_1", path)
    assert json.loads(by_name.stdout)["ok"] is True


def test_zoo_source_in_plot(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    """plot zoo:NAME draws the figure of the shipped file."""
    pytest.importorskip("matplotlib")
    by_name = run_cli("plot", "zoo:alexnet", "-o", str(tmp_path / "a.png"))
    by_file = run_cli("plot", str(ZOO / "alexnet.yaml"), "-o", str(tmp_path / "b.png"))
    assert by_name.exit_code == by_file.exit_code == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.parametrize("args", [
    ("net", "zoo:resnet05"), ("verify", "zoo:resnet05"), ("diff", "zoo:resnet05", "zoo:vgg11"),
    ("export", "--to", "pytorch", "zoo:resnet05"), ("solve", "inputs", "zoo:resnet05"),
    ("plot", "zoo:resnet05", "-o", "never.png"), ("net", "zoo:resnet05", "--explain"),
], ids=lambda args: args[0])
def test_unknown_zoo_name_in_every_command(run_cli: Callable[..., Any],
                                           args: tuple[str, ...]) -> None:
    """Every command refuses an unknown zoo name with the same line and the nearest name."""
    result = run_cli(*args)
    assert result.exit_code == 2
    assert result.stderr == ("error: zoo:resnet05: no zoo entry named 'resnet05' (did you "
                             "mean 'resnet50'?); `convcalc zoo` lists them\n")


# ------------------------------------------------------------------ installation


def test_the_built_wheel_carries_the_zoo(tmp_path: Path) -> None:
    """`pip install .` ships every entry's YAML and the published figures (package data)."""
    pytest.importorskip("setuptools")
    source = tmp_path / "src"
    shutil.copytree(ROOT / "convcalc", source / "convcalc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         str(source), "-w", str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=300, check=False)
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {built.stderr.strip()[-200:]}")
    wheel = next((tmp_path / "dist").glob("convcalc-*.whl"))
    files = set(zipfile.ZipFile(wheel).namelist())
    assert "convcalc/zoo/published.tsv" in files
    assert {f"convcalc/zoo/{name}.yaml" for name in zoo.names()} <= files
