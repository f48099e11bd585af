"""Every page opens in a real browser, offline, with no exception box and no console error."""
from __future__ import annotations

from pathlib import Path

import pytest

from browser import PAGES, SCREENSHOTS, offline_page, wait_for_app

# Console noise that is not ours: Streamlit's own telemetry/feature probes blocked by the offline route.
BENIGN = ("net::ERR_FAILED", "Failed to load resource", "ERR_INTERNET_DISCONNECTED")


@pytest.mark.parametrize("path", PAGES)
def test_page_opens_without_errors(app_url, browser, path):
    errors: list[str] = []
    page = offline_page(browser, errors)
    slug = Path(path).stem
    page.goto(app_url + ("/" if slug == "home" else f"/{slug}"))
    wait_for_app(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{slug}.png"), full_page=True)
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()
    assert page.locator('[data-testid="stSidebar"]').inner_text().count("Model") >= 1
    real_errors = [e for e in errors if not any(b in e for b in BENIGN)]
    assert not real_errors, real_errors
    if slug == "home":  # the architecture, drawn with the embedded model's real sizes
        page.wait_for_selector('[data-testid="stGraphVizChart"] svg', timeout=30_000)
        svg = page.locator('[data-testid="stGraphVizChart"] svg').text_content()
        assert "Encoder layer × 6" in svg and "12 heads" in svg and "30,522" in svg
    page.close()
