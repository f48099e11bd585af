"""Numbers a reader can use, and downloads that work on a slide: cell and bar texts with at most 4
decimals, probability bars on a 0-100% axis (zoomable), accuracy axes that stop at 100%, and
exported figures whose labels fit in the picture and whose lines keep distinct colours, even for
figures built under Streamlit's theme (placeholder colours, 10 px margins) as the app builds them."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace as NS

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from core.explain.faithfulness import RANDOM
from core.figures import attention, explain, inside, lab, layers, masked, tasks, training
from core.figures.export import browser_found, export, for_export
from core.figures.report import page_report

WORDS = [("heartbreaking", 0.04), ("spectacular", 0.03), ("ok", 0.01)]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(params=["streamlit", "none"])
def built_under(request):
    """Figures built as the app builds them (Streamlit's template is plotly's default there), or
    with no template at all."""
    before = pio.templates.default
    import streamlit  # noqa: F401  registers its template and makes it the default, as in the app

    pio.templates.default = request.param
    yield request.param
    pio.templates.default = before


def _predictions(zoom: bool = False, title: str = "") -> go.Figure:
    preds = [NS(token=w, token_id=i, score=p) for i, (w, p) in enumerate(WORDS)]
    return masked.predictions_bar(preds, title, original_id=1, zoom=zoom)


# --- 1. texts in cells and bars ---------------------------------------------------------------

def _too_precise(fig: go.Figure) -> list[str]:
    """Texts shown in cells / on bars with more than 4 decimals, or numbers printed unformatted."""
    bad = []
    for trace in fig.data:
        template = getattr(trace, "texttemplate", None) or ""
        for name, fmt in re.findall(r"%\{(\w+)(?::([^}]*))?\}", template):
            digits = re.search(r"\.(\d+)", fmt or "")
            if name != "text" and not (digits and int(digits.group(1)) <= 4):
                bad.append(f"{trace.type}: {template}")
        texts = getattr(trace, "text", None)
        for item in np.ravel(np.asarray(texts, dtype=object)) if texts is not None else ():
            shown = item if isinstance(item, str) else repr(float(item))  # plotly prints the float64 of a float32
            if re.search(r"\d\.\d{5,}", shown):
                bad.append(f"{trace.type}: {shown}")
    return bad


def test_the_rule_catches_float32_noise():
    values = np.array([[0.1, 0.7]], dtype=np.float32)
    old = go.Figure(go.Heatmap(z=values, text=np.round(values, 2), texttemplate="%{text}"))
    assert _too_precise(old) and _too_precise(go.Figure(go.Heatmap(z=values, texttemplate="%{z}")))


def test_stat_heatmap_prints_two_decimals():
    values = np.array([[0.1, 0.7, 1 / 3], [0.25, 0.9, 0.05]], dtype=np.float32)
    fig = attention.stat_figure({"entropy": values}, "entropy")
    assert fig.data[0].texttemplate == "%{z:.2f}" and fig.data[0].text is None
    assert not _too_precise(fig)


@pytest.mark.parametrize("build", [
    lambda: attention.stat_figure({"x": np.random.default_rng(0).random((3, 4), dtype=np.float32)}, "x"),
    lambda: training.confusion_figure([[5, 1], [2, 7]], ["neg", "pos"]),
    lambda: training.class_probabilities({"neg": 1 / 3, "pos": 2 / 3}),
    lambda: _predictions(),
    lambda: inside.predictions([("cat", 1 / 3), ("dog", 1 / 7)], "next word"),
    lambda: lab.compare_bars([{"model": "teacher", "accuracy": 2 / 3, "latency_ms": 1 / 3, "size_mb": 417.123456}]),
    lambda: lab.ensemble_bars({"members": [{"model": "a", "accuracy": 2 / 3}, {"model": "b", "accuracy": 0.7}],
                               "mean": {"accuracy": 5 / 7}, "oracle": 0.8}),
])
def test_no_shown_number_has_more_than_four_decimals(build):
    assert _too_precise(build()) == []


# --- 2. probability bars: 0-100% by default, zoomable -------------------------------------------

SPAN = (["[CLS]", "who", "[SEP]", "the", "cat"], [0.1, 0.0, 0.0, 0.04, 0.02], [0.0, 0.0, 0.0, 0.01, 0.05],
        [False, False, False, True, True])
PROBABILITY_BARS = {
    "masked": (lambda **kw: _predictions(**kw), "xaxis"),
    "class probabilities": (lambda **kw: training.class_probabilities({"neg": 0.03, "pos": 0.01}, **kw), "xaxis"),
    "inside": (lambda **kw: inside.predictions([("cat", 0.04), ("dog", 0.02)], "next word", **kw), "xaxis"),
    "answer span": (lambda **kw: tasks.span_probabilities(*SPAN, answer=(3, 4), **kw), "yaxis"),
    "attention ranking": (lambda **kw: attention.ranking_figure(
        [{"layer": 0, "head": 1, "attention": 0.04, "reverse": 0.01}], "cat", "mat", **kw), "xaxis"),
}


@pytest.mark.parametrize("name", PROBABILITY_BARS)
def test_probability_bars_run_from_0_to_100_percent(name):
    build, axis = PROBABILITY_BARS[name]
    default = build().layout[axis]
    assert tuple(default.range) == (0, 1)
    assert name == "attention ranking" or "%" in default.tickformat  # attention weights stay decimals, as on the page


@pytest.mark.parametrize("name", ["masked", "attention ranking"])
def test_the_small_probability_bars_zoom_to_their_bars_on_request(name):
    """The masked-word and head-ranking pages offer a zoom toggle: their bars are often a few percent."""
    build, axis = PROBABILITY_BARS[name]
    zoomed = build(zoom=True).layout[axis]
    assert zoomed.range is None and zoomed.autorange in (None, True)


# --- 3. accuracy and probability axes end at 100% -----------------------------------------------

def _evals(metric: str = "accuracy") -> list[dict]:
    return ([{"type": "step", "step": s, "loss": 1 / (s + 1)} for s in range(20)]
            + [{"type": "eval", "step": s, "eval_loss": 0.4, metric: a, "best": a == 1.0}
               for s, a in ((5, 0.8), (15, 1.0))])


ACCURACY_AXES = {
    "training curves": (lambda: training.training_curves(_evals(), total_steps=20), "yaxis2"),
    "training curves, F1": (lambda: training.training_curves(_evals("f1"), metric="f1"), "yaxis2"),
    "pretraining": (lambda: lab.pretrain_curves(
        [{"step": s, "mlm_loss": 2.0, "nsp_loss": 0.6, "mlm_acc": 0.3, "nsp_acc": 1.0} for s in range(5)],
        [{"step": 4, "mlm_loss": 2.0, "nsp_loss": 0.6, "mlm_acc": 0.3, "nsp_acc": 1.0}]), "yaxis2"),
    "student vs teacher": (lambda: lab.compare_bars([{"model": "t", "accuracy": 1.0, "latency_ms": 3, "size_mb": 9}]),
                           "yaxis"),
    "student training": (lambda: lab.student_training(
        [{"model": "s", "type": "step", "step": 1, "loss": 0.5}, {"model": "s", "type": "eval", "epoch": 1,
                                                                  "accuracy": 1.0}]), "yaxis2"),
    "pruning": (lambda: lab.pruning_curve([{"heads": 0, "accuracy": 1.0, "speedup": 1.0},
                                           {"heads": 4, "accuracy": 0.9, "speedup": 1.3}], "heads", "heads pruned"),
                "yaxis"),
    "probes": (lambda: layers.probe_figure({"pos": NS(layers=[0, 1], accuracy=[0.9, 1.0], majority=0.3)}), "yaxis"),
    "deletion": (lambda: explain.deletion_figure({"ig": [0.99, 0.5, 0.1], RANDOM: [0.99, 0.9, 0.8]}, "pos"), "yaxis"),
}


@pytest.mark.parametrize("name", ACCURACY_AXES)
def test_accuracy_and_probability_axes_stop_at_100_percent(name):
    build, axis = ACCURACY_AXES[name]
    fig = build()
    assert tuple(fig.layout[axis].range) == (0, 1) and "%" in fig.layout[axis].tickformat
    points = [t for t in fig.data if t.type == "scatter" and (t.yaxis or "y") == "y" + axis[5:]
              and "markers" in (t.mode or "markers")]  # plotly's default mode draws markers on short lines
    assert all(t.cliponaxis is False for t in points)  # a point at exactly 100% is drawn whole


def test_logit_lens_axis_never_passes_100_percent():
    top = [NS(token="paris", score=1.0)]
    steps = [NS(layer=i, final_probability=p, top=top) for i, p in enumerate((0.2, 0.9, 1.0))]
    assert masked.logit_lens_figure(steps).layout.yaxis.range[1] <= 1.0


# --- 4. exports: labels inside the picture, real colours ---------------------------------------

def _translate(transform: str | None) -> tuple[float, float]:
    match = re.search(r"translate\(\s*([-\d.e]+)[ ,]+([-\d.e]+)\s*\)", transform or "")
    return (float(match.group(1)), float(match.group(2))) if match else (0.0, 0.0)


def _texts(svg: bytes) -> list[dict]:
    """Every tick label and axis title of an SVG drawn by plotly: its text, where its anchor lies in
    the picture (every ancestor's translate() summed), how it is anchored, its font size and role."""
    found = []

    def walk(node, dx: float, dy: float, parent_class: str):
        tx, ty = _translate(node.get("transform"))
        dx, dy = dx + tx, dy + ty
        if node.tag == SVG + "text":
            own = node.get("class") or ""
            role = "tick" if re.fullmatch(r"[xy]\d*tick", parent_class) else own if re.fullmatch(
                r"[xy]\d*title", own) else None
            if role:
                size = float(re.search(r"font-size:\s*([\d.]+)px", node.get("style", "")).group(1))
                found.append(dict(text="".join(node.itertext()), x=dx + float(node.get("x", 0)),
                                  y=dy + float(node.get("y", 0)), anchor=node.get("text-anchor", "start"),
                                  size=size, role=role, axis=(role if role != "tick" else parent_class)[0],
                                  rotated="rotate" in (node.get("transform") or "")))
        for child in node:
            walk(child, dx, dy, node.get("class") or "")

    walk(ET.fromstring(svg), 0.0, 0.0, "")
    return found


def _extent(label: dict) -> tuple[float, float]:
    """Left and right edge of an unrotated label. The width is a lower bound (0.35 em a character,
    narrower than any font's average), so an edge found outside the picture really is outside."""
    width = 0.35 * label["size"] * len(label["text"])
    shift = {"start": 0.0, "middle": width / 2, "end": width}[label["anchor"]]
    return label["x"] - shift, label["x"] - shift + width


@pytest.mark.skipif(not browser_found(), reason="kaleido needs Chromium to draw SVG (apt install chromium)")
def test_exported_svg_keeps_every_label_inside_the_picture(built_under):
    fig = _predictions(title="What fits?")  # long words on the left, a 10 px margin
    svg = export(fig, "svg")
    root = ET.fromstring(svg)
    width, height = float(root.get("width")), float(root.get("height"))
    labels = _texts(svg)
    ticks = [t for t in labels if t["role"] == "tick"]
    assert {"1. heartbreaking", "2. spectacular", "3. ok", "0%", "100%"} <= {t["text"] for t in ticks}
    for label in labels:
        assert 0 <= label["x"] <= width and label["size"] * 0.6 <= label["y"] <= height, label
    for tick in ticks:
        assert not tick["rotated"], tick  # the extent below assumes horizontal text
        left, right = _extent(tick)
        assert left >= 0 and right <= width, tick
    x_title = next(t for t in labels if t["role"] == "xtitle")
    lowest_tick = max(t["y"] for t in ticks if t["axis"] == "x")
    assert x_title["y"] - 0.6 * x_title["size"] > lowest_tick, "the axis title overlaps the tick labels"


def _plots(html: str) -> list[tuple[list, dict]]:
    """(data, layout) of every Plotly.newPlot call in a page."""
    decoder, plots = json.JSONDecoder(), []
    for call in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', html):
        data, end = decoder.raw_decode(html, call.end())
        layout, _ = decoder.raw_decode(html, end + re.match(r",\s*", html[end:]).end())
        plots.append((data, layout))
    return plots


def test_page_report_lines_keep_distinct_real_colours(built_under):
    lines = go.Figure([go.Scatter(x=[0, 1], y=[i, i + 1], name=f"line {i}") for i in range(3)])
    lines.update_layout(margin=dict(l=10, r=10, t=10, b=10))
    html = page_report("Lab", "embedded", {}, [lines, _predictions()], [])
    (data, layout), (bars, _) = _plots(html)
    colorway = layout.get("colorway") or layout["template"]["layout"]["colorway"]
    colours = [trace.get("line", {}).get("color") or colorway[i % len(colorway)] for i, trace in enumerate(data)]
    placeholders = set(pio.templates["streamlit"].layout.colorway)  # Streamlit swaps these on screen only
    assert len(set(colours)) == 3 and not placeholders & set(colours), colours
    assert bars[0]["marker"]["color"] == ["#4e79a7", "#f28e2b", "#4e79a7"]  # the figure's own colours are kept
    assert all(layout[axis]["automargin"] for axis in ("xaxis", "yaxis"))


def test_for_export_is_a_copy_and_reaches_every_axis(built_under):
    fig = training.training_curves(_evals())  # a secondary y axis, 10 px margins, height 360
    fig.update_layout(height=150)
    before = fig.to_plotly_json()
    out = for_export(fig)
    assert fig.to_plotly_json() == before  # the page's figure is untouched
    axes = [name for name in out.layout if re.fullmatch(r"[xy]axis\d*", name)]
    assert {"xaxis", "yaxis", "yaxis2"} <= set(axes) and all(out.layout[a].automargin for a in axes)
    assert out.layout.height >= 300 and min(out.layout.margin[s] for s in "lrtb") > 10
    assert out.layout.template.layout.colorway and out.data[0].line.color == "#4e79a7"
