"""The zoo's catalogue: every entry's figures as convcalc computes them, beside the ones
torchvision publishes.

``published.tsv`` beside this module is torchvision 0.29.1's weight metadata (a copy of
``tests/data/torchvision_classification.tsv``, which a test keeps equal): one row a
weight, with its builder, ``num_params``, ``gflops`` — torchvision counts the
multiplications of conv and matmul layers only, i.e. convcalc's MACs / 10⁹, to three
decimals — and ``crop_size``. An entry is compared with its builder's first row, whose
crop size is the entry's default input.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
from importlib import resources
from typing import TYPE_CHECKING

from convcalc.analysis import analyze
from convcalc.common import Frozen
from convcalc.errors import InputError
from convcalc.results import TrainingTotals
from convcalc.textsafe import MAX_ECHO, echo
from convcalc.zoo import names, source

if TYPE_CHECKING:  # convcalc.training is imported only when a training step is asked for
    from convcalc.training import TrainingSpec

__all__ = ["PublishedFigures", "ZooEntry", "ZooListing", "family_of", "published_figures",
           "zoo_listing"]

_FAMILIES = (
    # (name prefix, family): the first prefix that matches wins, so longer ones come first.
    ("wide_resnet", "wide_resnet"), ("resnext", "resnext"), ("resnet", "resnet"),
    ("efficientnet_v2", "efficientnet_v2"), ("efficientnet", "efficientnet"),
    ("mobilenet_v2", "mobilenet_v2"), ("mobilenet_v3", "mobilenet_v3"),
    ("regnet_x", "regnet_x"), ("regnet_y", "regnet_y"), ("shufflenet_v2", "shufflenet_v2"),
    ("squeezenet", "squeezenet"), ("densenet", "densenet"), ("vgg", "vgg"),
    ("mnasnet", "mnasnet"), ("convnext", "convnext"), ("inception", "inception"),
    ("googlenet", "googlenet"), ("alexnet", "alexnet"),
)
"""Families as torchvision's builder names group them; variants that change the block
(ResNeXt's groups, RegNetY's squeeze-and-excitation, EfficientNetV2's fused blocks) are
families of their own."""


def family_of(name: str) -> str:
    """Return the family of the zoo entry ``name`` (``resnet50`` → ``resnet``); a name no
    prefix matches is its own family."""
    return next((family for prefix, family in _FAMILIES if name.startswith(prefix)), name)


class PublishedFigures(Frozen):
    """What torchvision publishes for a builder's first weights.

    Attributes:
        weights: the weight's name (``ResNet50.IMAGENET1K_V1``).
        params: ``num_params``.
        gmacs: ``gflops``: multiply-accumulates / 10⁹, to three decimals.
        crop_size: the input side the figures are for (3 × crop × crop).
    """

    weights: str
    params: int
    gmacs: float
    crop_size: int


class ZooEntry(Frozen):
    """One zoo entry at its default input, with the published figures beside.

    Attributes:
        name: the entry's name, torchvision's builder name.
        family: the family (``resnet``, ``vgg``, ``densenet``, …).
        input_shape: the default input shape, channels first.
        params: the trainable parameters convcalc counts.
        macs: the multiply-accumulates convcalc counts, for one input.
        gmacs: ``macs`` / 10⁹ rounded to three decimals, as published.
        published: torchvision's figures, or None when it publishes none for the name.
        params_agree: whether ``params`` equals the published count (None: none published).
        macs_agree: whether ``gmacs`` equals the published figure (None: none published).
        training: a training step's totals at the listing's batch (``--training``), else
            None.
    """

    name: str
    family: str
    input_shape: tuple[int, ...]
    params: int
    macs: int
    gmacs: float
    published: PublishedFigures | None
    params_agree: bool | None
    macs_agree: bool | None
    training: TrainingTotals | None = None


class ZooListing(Frozen):
    """The zoo entries, by family, smallest first (by MACs, then parameters).

    Attributes:
        family: the family asked for, or None for every entry.
        entries: the entries.
        batch: the batch a training step is counted for (``--training``); 1 otherwise.
    """

    family: str | None
    entries: tuple[ZooEntry, ...]
    batch: int = 1


@functools.cache
def published_figures() -> dict[str, PublishedFigures]:
    """Return each builder's first row of ``published.tsv``, by builder name."""
    text = resources.files(__package__ or "convcalc.zoo").joinpath("published.tsv").read_text(
        encoding="utf-8")
    figures: dict[str, PublishedFigures] = {}
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        figures.setdefault(row["builder"], PublishedFigures(
            weights=row["weights"], params=int(row["num_params"]),
            gmacs=float(row["gflops"]), crop_size=int(row["crop_size"])))
    return figures


def _entry(name: str, training: TrainingSpec | None, batch: int) -> ZooEntry:
    entry = source(name)
    network = entry.network
    try:
        totals = analyze(network, batch=batch, training=training).totals
        macs = totals.macs // batch  # the figures are per input; the training step's not
    except InputError as error:
        raise entry.annotate(error) from None
    gmacs = round(macs / 1e9, 3)
    published = published_figures().get(name)
    # The figures are for a crop size: at another input they cannot agree by design.
    same_input = published is not None and network.input == (3, published.crop_size,
                                                              published.crop_size)
    return ZooEntry(
        name=name, family=family_of(name), input_shape=network.input, params=totals.params,
        macs=macs, gmacs=gmacs, published=published,
        params_agree=None if published is None else totals.params == published.params,
        macs_agree=None if published is None else same_input and gmacs == published.gmacs,
        training=totals.training,
    )


def zoo_listing(family: str | None = None, training: TrainingSpec | None = None,
                batch: int = 1) -> ZooListing:
    """Return every zoo entry (or those of ``family``) analysed at its default input,
    grouped by family, smallest first; with ``training``, each with a training step's
    totals at ``batch``.

    Raises InputError, naming the nearest family, when no entry is of ``family``.
    """
    entries = names()
    if family is not None:
        entries = tuple(name for name in entries if family_of(name) == family)
        if not entries:
            known = sorted({family_of(name) for name in names()})
            close = (difflib.get_close_matches(family, known, n=1, cutoff=0.6)
                     if len(family) <= MAX_ECHO else [])
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(f"no zoo family named {echo(family)}{hint}; the families are "
                             f"{', '.join(known)}")
    analysed = sorted((_entry(name, training, batch) for name in entries),
                      key=lambda e: (e.family, e.macs, e.params, e.name))
    return ZooListing(family=family, entries=tuple(analysed), batch=batch)
