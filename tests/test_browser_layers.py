"""The Layers page in a real browser: the projector plays through the layers, the neighbour index builds
and answers, the query-key map draws."""
from __future__ import annotations

import time

from browser import offline_page, tab_panel, wait_for_app
from test_browser import BENIGN


def test_layers_page_projector_neighbours_and_query_keys(app_url, browser):
    errors: list[str] = []
    page = offline_page(browser, errors)
    page.goto(app_url + "/layers")
    wait_for_app(page)
    projector = tab_panel(page, "Projector")
    projector.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert projector.locator(".js-plotly-plot").count() == 2  # the cloud and the senses
    assert projector.locator(".slider-container").count() == 1
    projector.get_by_text("▶", exact=True).first.click()  # play through the layers, in the browser alone
    page.wait_for_timeout(3_500)

    neighbours = tab_panel(page, "Neighbours")
    neighbours.get_by_role("button", name="Build the index").click()
    deadline = time.monotonic() + 180
    while not tab_panel(page, "Neighbours").get_by_text("Their words").count():
        assert time.monotonic() < deadline, "the neighbour index was not built in 3 minutes"
        page.wait_for_timeout(2_000)
    wait_for_app(page)
    marked = tab_panel(page, "Neighbours").locator("mark").all_inner_texts()
    assert len(marked) == 10 and sum(m.lower() == "bank" for m in marked) >= 5

    qk = tab_panel(page, "Query-key map")
    qk.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert qk.get_by_text("own attention to").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    real_errors = [e for e in errors if not any(b in e for b in BENIGN)]
    assert not real_errors, real_errors
    page.close()
