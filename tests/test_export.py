"""Figures to take away: real PNG and SVG files, standalone HTML that needs no network, and a
clear message where no browser can draw images."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest

from core.errors import UserError
from core.figures import export


@pytest.fixture(scope="module")
def fig():
    return go.Figure(go.Bar(x=["the", "cat"], y=[0.25, 0.75]), layout={"title": "attention"})


def test_png_and_svg_are_real_images(fig):
    png = export.export(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")  # IHDR: scale 2 doubles plotly's 700 px default
    assert width == 1400
    svg = export.export(fig, "svg").decode()
    assert svg.startswith("<svg") and "attention" in svg and svg.rstrip().endswith("</svg>")


def test_html_inlines_plotly_so_it_opens_offline(fig):
    html = export.export(fig, "html").decode()
    assert html.lower().startswith("<!doctype html>") and "Plotly.newPlot" in html
    assert '<script src="http' not in html and len(html) > 1_000_000  # plotly.js is inside


def test_without_a_browser_images_say_what_to_install_and_html_still_works(fig, monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    assert not export.browser_found()
    with pytest.raises(UserError, match="apt install chromium"):
        export.export(fig, "png")
    assert b"Plotly.newPlot" in export.export(fig, "html")
    with pytest.raises(UserError, match="png or svg"):
        export.image_bytes(fig, "gif")


def test_a_page_report_holds_inputs_model_charts_and_tables_with_user_text_escaped(fig):
    from core.figures.report import MAX_ROWS, page_report

    evil = "<script>alert('x')</script>"
    tables = [[{"token": evil, "score": 0.5}], pd.DataFrame({"n": range(MAX_ROWS + 10)})]
    html = page_report("Masked words & NSP", "embedded", {"mlm_text": [evil], "xp_methods": ["ig", "occlusion"]},
                       [fig, fig], tables, link="http://class:8501/masked?mlm_text=x")
    assert html.startswith("<!DOCTYPE html>") and "<title>BERT Playground · Masked words &amp; NSP</title>" in html
    assert evil not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "ig | occlusion" in html and "<b>embedded</b>" in html and 'href="http://class:8501/masked?mlm_text=x"' in html
    assert html.count("Plotly.newPlot") == 2 and '<script src="http' not in html  # plotly.js inside, once
    assert f"<td>{MAX_ROWS - 1}</td>" in html and f"<td>{MAX_ROWS}</td>" not in html
    assert f"First {MAX_ROWS} of {MAX_ROWS + 10:,} rows." in html
