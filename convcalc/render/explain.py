"""The worked formulas of ``--explain``, as rich text, Markdown, or inside the JSON report."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.text import Text

from convcalc.common import shape_text
from convcalc.explain import Explanation
from convcalc.render.cells import markdown_cell, terminal_text
from convcalc.results import Report

__all__ = ["explained_json", "explanation_markdown", "explanation_text", "shown"]


def shown(report: Report, explanations: Sequence[Explanation]) -> list[Explanation]:
    """Return the explanations of the rows ``report`` holds, in order: a report folded by
    ``--depth`` holds fewer rows, and the formulas of the rows folded away are not shown."""
    names = {row.name for row in report.layers}
    return [e for e in explanations if e.layer in names]


def _headings(report: Report, explanations: Sequence[Explanation]) -> list[tuple[str, str]]:
    """Return each layer's name and the rest of its heading: `` (conv): 3×32×32 → …``."""
    rows = {row.name: row for row in report.layers}
    return [(e.layer, f" ({e.type}): {shape_text(rows[e.layer].input_shape)} → "
                      f"{shape_text(rows[e.layer].output_shape)}") for e in explanations]


def explanation_text(report: Report, explanations: Sequence[Explanation],
                     headings: bool = True) -> Text:
    """Return the formulas as rich text: a bold heading per layer, its lines indented.

    Without ``headings`` (the one-layer card names its layer already) the lines of the
    single explanation follow the title alone. Only the rows ``report`` holds are
    explained (``shown``).
    """
    explanations = shown(report, explanations)
    text = Text("\n")
    text.append("Worked formulas\n", style="bold")
    for explanation, (name, rest) in zip(explanations, _headings(report, explanations),
                                         strict=True):
        if headings:
            text.append(terminal_text(name), style="bold")
            text.append(rest + "\n")
        for line in explanation.lines:
            text.append(f"  {terminal_text(line)}\n")
    text.rstrip()
    return text


def explanation_markdown(report: Report, explanations: Sequence[Explanation]) -> str:
    """Return the formulas as Markdown: a heading, then a text block per layer (of the
    rows ``report`` holds)."""
    explanations = shown(report, explanations)
    parts = ["", "### Worked formulas", ""]
    for explanation, (name, rest) in zip(explanations, _headings(report, explanations),
                                         strict=True):
        parts += [f"**{markdown_cell(name)}**{rest}", "", "```text",
                  *(terminal_text(line) for line in explanation.lines),
                  "```", ""]
    return "\n".join(parts)


def explained_json(report: Report, explanations: Sequence[Explanation]) -> str:
    """Return the JSON report with an ``explanations`` array after its other keys: one for
    each layer and merge row the (perhaps folded) report holds."""
    data = report.model_dump(mode="json")
    data["explanations"] = [e.model_dump(mode="json") for e in shown(report, explanations)]
    return json.dumps(data, indent=2, ensure_ascii=False)
