"""The attention page in headless Chromium with every non-loopback request blocked.

Proves the offline promise: bertviz's head, model and neuron views draw their SVG from the
inlined libraries, and the plotly views render. Never runs `playwright install`: it uses
Debian's /usr/bin/chromium.
"""
from __future__ import annotations

import time

import pytest

from browser import offline_page
from core.offline import vendor_js
pytestmark = pytest.mark.skipif(
    not vendor_js.available(), reason="vendor_js/ is empty: run `python -m core vendor-js` (needs the npm registry)")


@pytest.fixture(scope="module")
def page(app_url, browser):
    errors: list[str] = []
    pg = offline_page(browser, errors)
    pg.set_default_timeout(120_000)  # the first run loads the model (cold imports on 2 cores)
    pg.blocked = []
    pg.on("requestfailed", lambda request: pg.blocked.append(request.url))
    pg.goto(f"{app_url}/attention", wait_until="domcontentloaded")
    yield pg
    pg.close()


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def _svg_in_frame(page, min_elements: int = 10) -> int:
    """Number of SVG elements bertviz drew inside the (last) embedded iframe."""
    frame = page.frame_locator("iframe").last
    frame.locator("svg").first.wait_for(timeout=60_000)
    deadline = time.time() + 30
    while (count := frame.locator("svg *").count()) < min_elements and time.time() < deadline:
        time.sleep(0.3)
    return count


def test_plotly_views_render(page):
    page.locator(".js-plotly-plot .main-svg").first.wait_for()
    assert page.locator(".js-plotly-plot").count() >= 1
    assert page.locator(".js-plotly-plot .hm image, .js-plotly-plot .heatmaplayer image").count() >= 1
    _open_tab(page, "All heads")
    page.get_by_text("Enlarge one head").wait_for(timeout=60_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)


@pytest.mark.parametrize("view", ["Head view", "Model view", "Neuron view"])
def test_bertviz_views_draw_offline(page, view):
    _open_tab(page, "bertviz views")
    page.get_by_text("Hover a token").wait_for(timeout=60_000)
    page.get_by_role("radio", name=view, exact=True).click()
    time.sleep(1.0)  # let Streamlit rerun and swap the iframe
    assert _svg_in_frame(page) > 10
    assert not [u for u in page.blocked if "cdnjs" in u or "jsdelivr" in u or "unpkg" in u], page.blocked
