"""Figures to take away: standalone HTML (plotly.js inlined, so it opens offline) and PNG / SVG.

PNG and SVG are drawn by kaleido in a headless Chromium; without one, `image_bytes` says what to
install and the HTML export still works.
"""
from __future__ import annotations

import os
import shutil

import plotly.graph_objects as go

from core.errors import UserError

FORMATS = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
INSTALL_HINT = "PNG and SVG need Chromium on the server: `sudo apt install chromium` (the HTML download works without it)."


def browser_found() -> bool:
    """Can kaleido draw images here? (it looks at $BROWSER_PATH, then the PATH)"""
    return bool(os.environ.get("BROWSER_PATH") and os.path.exists(os.environ["BROWSER_PATH"])) or \
        any(shutil.which(name) for name in _BROWSERS)


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
    """The figure in `fmt` (png, svg or html) as bytes for a download."""
    if fmt == "html":
        return standalone_html(fig).encode()
    return image_bytes(fig, fmt)
