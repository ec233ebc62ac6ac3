"""The cost figure draws the report's own numbers, one bar or point per layer."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

import pytest

pytest.importorskip("matplotlib")

import numpy as np
from conftest import EXAMPLES
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from convcalc import analyze, load_network
from convcalc.loader import network_from_data
from convcalc.render.plot import cost_figure, figure_bytes, plotted_rows
from convcalc.results import Report


def report_of(name: str, batch: int = 1) -> Report:
    """Return convcalc's report of an example network."""
    return analyze(load_network(EXAMPLES / f"{name}.yaml").network, batch=batch)


def ydata(line: Line2D) -> list[float]:
    """Return the y values of a plotted line as floats (NaN where nothing is drawn)."""
    values: list[float] = np.asarray(line.get_ydata(), dtype=float).tolist()
    return values


def heights(axes: Axes) -> list[float]:
    """Return the heights of the bars drawn on ``axes``."""
    (bars,) = axes.containers
    return [bar.get_height() for bar in bars]


def test_panels_plot_the_reports_numbers() -> None:
    """MACs, parameters and memory bars and the receptive-field line equal the report's rows."""
    report = report_of("unet_small", batch=2)
    rows = plotted_rows(report)
    assert len(rows) == 37  # 35 layers and 2 merges, without the 7 container subtotals
    assert all(not row.container for row in rows)
    macs, params, memory, field = cost_figure(report).axes[:4]
    assert heights(macs) == [row.macs for row in rows]
    assert heights(params) == [row.params for row in rows]
    assert heights(memory) == [row.activation_bytes for row in rows]
    assert ydata(field.lines[0]) == [row.receptive_field.size[0]  # type: ignore[union-attr]
                                     for row in rows]
    assert sum(heights(macs)) == report.totals.macs == 2 * 99_287_040
    assert [t.get_text() for t in field.get_xticklabels()] == [row.name for row in rows]
    assert macs.get_yscale() == params.get_yscale() == memory.get_yscale() == "log"


def test_global_rows_leave_the_field_line_blank() -> None:
    """After flatten the receptive field is global: no point is drawn, the span is marked."""
    report = report_of("lenet5")
    field = cost_figure(report).axes[3]
    drawn = ydata(field.lines[0])
    # conv1 5, tanh1 5, pool1 6, conv2 14, tanh2 14, pool2 16, then global from flatten on.
    assert drawn[:6] == [5, 5, 6, 14, 14, 16]
    assert all(math.isnan(v) for v in drawn[6:]) and len(drawn) == 12
    assert "global" in [text.get_text() for text in field.texts]


def test_many_layers_get_container_spans() -> None:
    """Past 48 layers the x axis counts layers and the top-level containers are labelled."""
    report = report_of("resnet18")
    figure = cost_figure(report)
    assert len(heights(figure.axes[0])) == 69
    labels = [text.get_text() for text in figure.axes[0].texts]
    assert labels == ["layer1", "layer2", "layer3", "layer4"]
    assert figure.axes[3].get_xlabel() == "layer (execution order)"


def test_unequal_dims_get_a_line_each() -> None:
    """With H ≠ W the receptive field is drawn per dimension, labelled along H and W."""
    source = network_from_data({"input": "1x32x16", "layers": [
        {"type": "conv", "filters": 2, "kernel": [5, 3]}, "relu"]}, "<test>")
    field = cost_figure(analyze(source.network)).axes[3]
    assert [line.get_label() for line in field.lines[:2]] == ["size along H", "size along W"]
    assert [ydata(line) for line in field.lines[:2]] == [[5, 5], [3, 3]]


def test_empty_panels_say_so() -> None:
    """Without weights or spatial dims the panels say so rather than draw an empty log axis."""
    source = network_from_data({"input": [10], "layers": ["relu", "softmax"]}, "<test>")
    macs, params, _, field = cost_figure(analyze(source.network)).axes[:4]
    assert [t.get_text() for t in macs.texts] == ["none in this network"]
    assert [t.get_text() for t in params.texts] == ["none in this network"]
    assert [t.get_text() for t in field.texts] == ["no spatial dimensions"]


@pytest.mark.parametrize(("file_format", "check"), [
    ("png", lambda data: data[:8] == b"\x89PNG\r\n\x1a\n"),
    ("svg", lambda data: ET.fromstring(data).tag == "{http://www.w3.org/2000/svg}svg"),
    ("pdf", lambda data: data[:5] == b"%PDF-"),
])
def test_figure_bytes_are_the_format_asked(file_format: str, check: Any) -> None:
    """The figure renders as a real PNG, an SVG document or a PDF."""
    assert check(figure_bytes(cost_figure(report_of("lenet5")), file_format))
