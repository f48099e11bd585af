"""Faults in a real browser against a real server: jobs at once, a tab closed mid-job, isolation.

The server (tests/browser.py) runs with its own runs/ folder and a 3-second grace before a job
whose tab closed stops itself; the server allows 2 background jobs at once.
"""
from __future__ import annotations

import time

import pytest

from browser import offline_page, wait_for_app


def open_finetune(browser, url: str, rows: int = 300, epochs: int = 20):
    """A new browser session on the fine-tuning page, set for a long run on `rows` rows."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page = offline_page(context, errors)
    page.goto(url + "/finetune")
    wait_for_app(page, timeout_ms=300_000)  # the first page of a fresh server loads the model
    for label, value in (("Train on at most this many rows", rows), ("Epochs", epochs)):
        box = page.get_by_role("spinbutton", name=label, exact=True)
        box.fill(str(value))
        box.press("Enter")
        wait_for_app(page)
    return context, page


def start(page) -> None:
    page.get_by_role("button", name="Start fine-tuning").click()


def main_text(page) -> str:
    return page.locator('[data-testid="stMainBlockContainer"]').inner_text()


def no_exception(page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


def slots_busy(browser, url: str) -> int:
    """What a fresh session's fine-tuning page says about the server's background jobs."""
    context, page = open_finetune(browser, url, rows=20, epochs=1)
    text = main_text(page)
    context.close()
    return int(text.split("Background jobs running on this server: ")[1].split(" of ")[0])


def sidebar_models(page, typed: str) -> list[str]:
    """The sidebar model picker's options that match `typed`, as a user sees them searching it."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.keyboard.type(typed)
    time.sleep(0.5)
    options = [o for o in page.get_by_role("option").all_inner_texts() if typed in o]
    page.keyboard.press("Escape")
    return options


def wait_until(check, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (value := check()):
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_two_jobs_run_at_once_a_third_is_told_to_wait_and_cancel_frees_a_slot(app_url, browser):
    sessions = [open_finetune(browser, app_url) for _ in range(3)]
    (ctx_a, a), (ctx_b, b), (ctx_c, c) = sessions
    start(a)
    a.locator('[data-testid="stProgress"]').wait_for(timeout=120_000)
    start(b)
    b.locator('[data-testid="stProgress"]').wait_for(timeout=120_000)
    start(c)
    c.get_by_text("The server is busy with 2 jobs").wait_for(timeout=60_000)
    assert c.locator('[data-testid="stProgress"]').count() == 0
    # A's second start is not possible while its job runs: the button is disabled.
    assert a.get_by_role("button", name="Start fine-tuning").is_disabled()
    a.get_by_role("button", name="Cancel").click()
    a.get_by_text("Cancelled: nothing from this run was kept.").wait_for(timeout=120_000)
    start(c)  # the freed slot is C's now
    c.locator('[data-testid="stProgress"]').wait_for(timeout=120_000)
    for page in (b, c):
        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("Cancelled").wait_for(timeout=120_000)
    for context, page in sessions:
        no_exception(page)
        context.close()


def test_closing_the_tab_mid_job_frees_its_slot_and_keeps_nothing(app_server, browser):
    saved_before = set(app_server.runs.glob("**/model.safetensors"))  # other tests' models
    context, page = open_finetune(browser, app_server.url)
    start(page)
    page.locator('[data-testid="stProgress"]').wait_for(timeout=120_000)
    assert slots_busy(browser, app_server.url) == 1
    context.close()  # the student closes the tab mid-epoch
    wait_until(lambda: slots_busy(browser, app_server.url) == 0, 90, "the abandoned job to stop")
    assert set(app_server.runs.glob("**/model.safetensors")) == saved_before  # nothing half-trained was saved
    assert not list(app_server.runs.glob("**/.partial/*"))
    # That a finished fine-tune is kept, in its session's folder only, the load test and
    # test_page_finetune check; a reload keeping the student (`?me=`) test_browser_share does.


def test_one_sessions_text_never_reaches_another(app_server, browser):
    errors: list[str] = []
    ctx_a, ctx_b = (browser.new_context() for _ in range(2))
    a, b = offline_page(ctx_a, errors), offline_page(ctx_b, errors)
    for page in (a, b):
        page.goto(app_server.url + "/masked")
        wait_for_app(page)
    box = a.get_by_label("Sentence with masks")
    box.fill("The zebra painted a [MASK] yesterday.")
    box.press("Enter")
    wait_for_app(a)
    assert "zebra painted" in main_text(a)
    b.reload()
    wait_for_app(b)
    assert "zebra" not in main_text(b) and "zebra" not in b.get_by_label("Sentence with masks").input_value()
    ctx_a.close()
    ctx_b.close()
