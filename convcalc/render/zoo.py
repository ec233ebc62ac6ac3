"""The zoo's catalogue as text: a table, Markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from convcalc.common import shape_text
from convcalc.render.cells import aligned, csv_cell, markdown_cell, terminal_text
from convcalc.render.numbers import exact, human_bytes
from convcalc.zoo.listing import ZooEntry, ZooListing

__all__ = ["CSV_COLUMNS", "zoo_csv", "zoo_json", "zoo_markdown", "zoo_text"]

AGREE = "✓"
DISAGREE = "✗"
SOURCE_NOTE = ("Published: torchvision 0.29.1, each builder's first weights. GMACs: MACs / "
               "10⁹ (its \"GFLOPS\").")

CSV_COLUMNS = (
    "name", "family", "input_shape", "params", "macs", "gmacs", "published_weights",
    "published_params", "published_gmacs", "params_agree", "macs_agree",
)


def _gmacs(value: float) -> str:
    return f"{value:,.3f}"


def agreement(entry: ZooEntry) -> str:
    """Return ✓ when both figures agree, ✗ naming those that do not, — when none is
    published."""
    if entry.published is None:
        return "—"
    wrong = [what for what, agrees in (("params", entry.params_agree),
                                       ("MACs", entry.macs_agree)) if not agrees]
    return f"{DISAGREE} {', '.join(wrong)}" if wrong else AGREE


Column = tuple[str, str, Callable[[ZooEntry], str]]
"""A column: header, alignment ('<' or '>'), the cell of an entry."""

COLUMNS: list[Column] = [
    ("Name", "<", lambda e: e.name),
    ("Family", "<", lambda e: e.family),
    ("Input", "<", lambda e: shape_text(e.input_shape)),
    ("Params", ">", lambda e: exact(e.params)),
    ("GMACs", ">", lambda e: _gmacs(e.gmacs)),
    ("Published params", ">", lambda e: exact(e.published.params) if e.published else "—"),
    ("Published GMACs", ">", lambda e: _gmacs(e.published.gmacs) if e.published else "—"),
    ("Agrees", "<", agreement),
]


TRAINING_COLUMNS: list[Column] = [
    ("Saved (train)", ">", lambda e: human_bytes(e.training.saved_bytes) if e.training else ""),
    ("Peak (train)", ">", lambda e: human_bytes(e.training.peak_bytes) if e.training else ""),
]
"""The columns ``--training`` adds: saved activations and the training peak at the batch."""


def _columns(listing: ZooListing) -> list[Column]:
    training = any(entry.training is not None for entry in listing.entries)
    return COLUMNS + TRAINING_COLUMNS if training else COLUMNS


def _headline(listing: ZooListing) -> str:
    entries = listing.entries
    agreeing = sum(agreement(entry) == AGREE for entry in entries)
    what = f"family {listing.family}" if listing.family else "zoo"
    count = f"{len(entries)} network{'s' if len(entries) != 1 else ''}"
    trained = next((e.training for e in entries if e.training is not None), None)
    step = (f"; a training step at batch {listing.batch}, {trained.optimizer}, "
            f"{trained.dtype}" if trained is not None else "")
    return f"convcalc's {what}: {count}, {agreeing} agree with the published figures{step}"


def zoo_text(listing: ZooListing) -> str:
    """Return the catalogue as an aligned table, a headline above and the source below."""
    columns = _columns(listing)
    cells = [[terminal_text(cell(entry)) for _, _, cell in columns]
             for entry in listing.entries]
    header, rule, rows = aligned([(name, align) for name, align, _ in columns], cells)
    lines = [_headline(listing), "", header, rule, *rows, rule, SOURCE_NOTE]
    return "\n".join(lines) + "\n"


def zoo_markdown(listing: ZooListing) -> str:
    """Return the catalogue as a GitHub-flavoured Markdown table."""
    columns = _columns(listing)
    lines = [f"**{markdown_cell(_headline(listing))}**", "",
             "| " + " | ".join(header for header, _, _ in columns) + " |",
             "|" + "".join("---:|" if align == ">" else "---|" for _, align, _ in columns)]
    lines += ["| " + " | ".join(markdown_cell(cell(entry)) for _, _, cell in columns) + " |"
              for entry in listing.entries]
    lines += ["", SOURCE_NOTE]
    return "\n".join(lines) + "\n"


def _flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()


def zoo_csv(listing: ZooListing) -> str:
    """Return one CSV row per entry; shapes are written ``3x224x224``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    training = any(entry.training is not None for entry in listing.entries)
    writer.writerow(CSV_COLUMNS + (("saved_bytes", "peak_bytes") if training else ()))
    for entry in listing.entries:
        published = entry.published
        step = entry.training
        trained = [step.saved_bytes, step.peak_bytes] if step is not None else ["", ""]
        writer.writerow([
            csv_cell(entry.name), csv_cell(entry.family),
            "x".join(str(d) for d in entry.input_shape), entry.params, entry.macs,
            f"{entry.gmacs:.3f}", published.weights if published else "",
            published.params if published else "",
            f"{published.gmacs:.3f}" if published else "", _flag(entry.params_agree),
            _flag(entry.macs_agree), *(trained if training else []),
        ])
    return buffer.getvalue()


def zoo_json(listing: ZooListing) -> str:
    """Return the catalogue as JSON: ``{"family": …, "entries": [...]}`` (docs/zoo.md)."""
    return listing.model_dump_json(indent=2)
