"""The lab's new parts in a real browser: the twins train, then the decoder writes and the encoder fills."""
from __future__ import annotations

import time

from browser import offline_page, tab_panel, wait_for_app
from test_browser import BENIGN

TAB = "Decoder vs encoder"


def twins_panel(page):
    """The tab's panel (a lazy tab: clicking it again when open changes nothing)."""
    return tab_panel(page, TAB)


def test_the_twins_train_and_generate_in_a_browser(app_url, browser):
    errors: list[str] = []
    page = offline_page(browser, errors)
    page.goto(app_url + "/lab")
    wait_for_app(page)
    steps = twins_panel(page).get_by_label("Steps")
    steps.fill("10")
    steps.press("Enter")
    wait_for_app(page)
    twins_panel(page).get_by_role("button", name="Train the twins").click()
    deadline = time.monotonic() + 180
    while not twins_panel(page).get_by_text("Decoder: continue a text").count():
        assert time.monotonic() < deadline, "the twins did not finish training in 3 minutes"
        page.wait_for_timeout(2_000)
    wait_for_app(page)
    panel = twins_panel(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert panel.locator('[data-testid="stCode"]').first.inner_text().startswith("a dog is")
    assert panel.get_by_text("Mask 1:").count() == 1
    real_errors = [e for e in errors if not any(b in e for b in BENIGN)]
    assert not real_errors, real_errors
    page.close()
