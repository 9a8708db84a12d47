"""The inline SVG charts of the results pages."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kb.site.plots import choose_axes, svg_chart


def test_axes_prefer_accuracy_and_skip_text_keys() -> None:
    points = [
        {"model": "a", "sparsity": 0.0, "accuracy": 0.9, "bytes": 10},
        {"model": "b", "sparsity": 0.5, "accuracy": 0.8, "bytes": 5},
    ]
    assert choose_axes(points) == ("sparsity", ["accuracy"])
    assert choose_axes([{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}]) == ("step", ["loss"])
    assert choose_axes([{"name": "x", "value": 1}]) is None


def test_chart_is_well_formed_svg_with_one_marker_per_point_and_escaped_labels() -> None:
    points = [{"rank<&>": r, "accuracy": a} for r, a in [(4, 0.8), (1, 0.5), (16, 0.95)]]
    svg = svg_chart(points, "accuracy vs rank <script>")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}circle")) == 3
    line = root.find(f"{ns}polyline").get("points").split()
    assert [float(p.split(",")[0]) for p in line] == sorted(float(p.split(",")[0]) for p in line)  # drawn in x order
    assert root.find(f"{ns}title").text == "accuracy vs rank <script>"
    assert "rank<&>" in [t.text for t in root.iter(f"{ns}text")]
    assert svg_chart([{"x": 1, "y": 2}], "one point") is None


def test_accuracy_goes_up_the_y_axis_whatever_the_key_order() -> None:
    points = [{"accuracy": 0.98, "latency_ms": 0.9, "step": 0}, {"accuracy": 0.99, "latency_ms": 0.5, "step": 1}]
    assert choose_axes(points) == ("latency_ms", ["accuracy"])
