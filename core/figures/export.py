"""Figures to take away: standalone HTML (plotly.js inlined, so it opens offline) and PNG / SVG.

PNG and SVG are drawn by kaleido in a headless Chromium; without one, `image_bytes` says what to
install and the HTML export still works.
"""
from __future__ import annotations

import os
import shutil

import plotly.graph_objects as go
import plotly.io as pio

from core.errors import UserError

FORMATS = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
INSTALL_HINT = "PNG and SVG need Chromium on the server: `sudo apt install chromium` (the HTML download works without it)."
EXPORT_TEMPLATE = "plotly_white"
MIN_WIDTH, MIN_HEIGHT = 500, 320  # px: room for a title, the ticks and the axis titles around a few bars
MIN_MARGIN = 24  # px: half of an end tick label such as "100%", which plotly hides rather than let it overflow


def browser_found() -> bool:
    """Can kaleido draw images here? (it looks at $BROWSER_PATH, then the PATH)"""
    return bool(os.environ.get("BROWSER_PATH") and os.path.exists(os.environ["BROWSER_PATH"])) or \
        any(shutil.which(name) for name in _BROWSERS)


def for_export(fig: go.Figure) -> go.Figure:
    """A copy of `fig` that draws outside Streamlit as it does inside (the page's figure is untouched).

    On screen Streamlit's theme gives the colours and its frame absorbs the tight 10 px margins; a
    plain plotly render has neither: Streamlit's template holds placeholder colours (#000001, …)
    that draw every line black, and tick labels and axis titles are cut or overlap. So the copy gets
    a real template where it has none, margins that grow to fit the labels on every axis, and a
    minimum size and margin. Colours the figure sets itself are kept.
    """
    out = go.Figure(fig)
    colorway = out.layout.template.layout.colorway
    if not colorway or ("streamlit" in pio.templates and colorway == pio.templates["streamlit"].layout.colorway):
        out.layout.template = EXPORT_TEMPLATE
    out.update_xaxes(automargin=True)
    out.update_yaxes(automargin=True)
    for side in "lrtb":
        if out.layout.margin[side] is not None:
            out.layout.margin[side] = max(out.layout.margin[side], MIN_MARGIN)
    if out.layout.width is not None:
        out.layout.width = max(out.layout.width, MIN_WIDTH)
    if out.layout.height is not None:
        out.layout.height = max(out.layout.height, MIN_HEIGHT)
    return out


def standalone_html(fig: go.Figure) -> str:
    """One HTML file that shows the interactive figure with no network."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def image_bytes(fig: go.Figure, fmt: str, scale: float = 2) -> bytes:
    """The figure as PNG or SVG bytes (a few seconds: kaleido starts a headless browser)."""
    if fmt not in ("png", "svg"):
        raise UserError(f"Images come as png or svg, not {fmt!r}.")
    if not browser_found():
        raise UserError(INSTALL_HINT)
    return fig.to_image(format=fmt, scale=scale if fmt == "png" else 1)


def export(fig: go.Figure, fmt: str) -> bytes:
    """The figure in `fmt` (png, svg or html) as bytes for a download, drawn `for_export`."""
    fig = for_export(fig)
    if fmt == "html":
        return standalone_html(fig).encode()
    return image_bytes(fig, fmt)
