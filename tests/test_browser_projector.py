"""Every page on a classroom projector (1024 × 768): nothing wider than the screen, every tab in
sight (no tab hidden behind a scroll arrow), and bertviz's model view whole, every head drawn."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from browser import PAGES, offline_page, wait_for_app
from core.offline import vendor_js
from test_browser_faults import no_exception

PROJECTOR = {"width": 1024, "height": 768}


@pytest.fixture(scope="module")
def projector(browser):
    context = browser.new_context(viewport=PROJECTOR)
    yield offline_page(context, [])
    context.close()


def _hidden_tabs(page) -> list[str]:
    """Tabs whose button lies outside their tab list's box (scrolled out of sight)."""
    return page.evaluate("""() => [...document.querySelectorAll('[data-testid="stTabs"] [role="tablist"]')].flatMap(list => {
        const box = list.getBoundingClientRect();
        return [...list.querySelectorAll('[role="tab"]')].filter(tab => {
            const r = tab.getBoundingClientRect();
            return r.right > box.right + 1 || r.left < box.left - 1;
        }).map(tab => tab.innerText);
    })""")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_fits_a_projector_with_every_tab_in_sight(app_url, projector, path):
    slug = "" if Path(path).stem == "home" else Path(path).stem
    projector.goto(f"{app_url}/{slug}")
    wait_for_app(projector, timeout_ms=180_000)
    no_exception(projector)
    overflow = projector.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMainBlockContainer"]');
        return main.scrollWidth - main.clientWidth; }""")
    assert overflow <= 1, f"{path}: {overflow} px wider than the screen"
    assert _hidden_tabs(projector) == [], path


@pytest.mark.skipif(not vendor_js.available(), reason="vendor_js/ is empty: run `python -m core vendor-js`")
def test_bertviz_model_view_shows_every_head_on_a_projector(app_url, projector):
    projector.goto(f"{app_url}/attention?attn_tab=bertviz+views&bv_view=Model+view")
    wait_for_app(projector, timeout_ms=180_000)
    frame = next(f for f in projector.frames if f.url == "about:srcdoc")
    frame.locator("svg").first.wait_for(timeout=60_000)
    deadline, fits = time.time() + 20, False
    while not fits and time.time() < deadline:  # bertviz draws, then the view shrinks to its frame
        fits = frame.evaluate("""() => {
            const zoom = parseFloat(document.body.style.zoom) || 1;
            return document.documentElement.scrollWidth * zoom <= window.innerWidth + 1; }""")
        time.sleep(0.25)
    assert fits
    heads = frame.evaluate("() => document.body.innerText")
    assert "11" in heads.split()  # the twelfth head's number (bertviz counts from 0) is drawn


def test_every_chart_on_every_page_and_tab_has_its_download_menu_and_readable_numbers(app_url, browser):
    """Each plotly chart of every page and tab comes with "⬇ Download figure", and no number drawn
    in a chart has more than 4 decimals (float noise such as 0.0999999977648)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = offline_page(context, [])
    seen = 0
    for path in PAGES:
        slug = "" if Path(path).stem == "home" else Path(path).stem
        page.goto(f"{app_url}/{slug}")
        wait_for_app(page, timeout_ms=180_000)
        tabs = page.locator('[data-testid="stTabs"]').first.get_by_role("tab")
        for k in range(max(tabs.count(), 1)):
            if tabs.count():
                tabs.nth(k).click()
                wait_for_app(page, timeout_ms=180_000)
            no_exception(page)
            charts = page.locator('[data-testid="stPlotlyChart"]').count()
            menus = page.get_by_role("button", name="⬇ Download figure").count()
            assert menus >= charts, (path, k, charts, menus)
            noise = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] svg text')]
                .map(t => t.textContent).filter(s => /\\d\\.\\d{5,}/.test(s))""")
            assert noise == [], (path, k, noise[:40])
            seen += charts
    assert seen > 20  # the walk really met the charts
    context.close()
