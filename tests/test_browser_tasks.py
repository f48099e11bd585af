"""A token classifier fine-tuned and tried in a real browser, offline, on the built-in entities."""
from __future__ import annotations

from browser import offline_page, wait_for_app
from test_browser_faults import main_text, no_exception, start


def test_a_tagger_fine_tunes_on_a_small_sample_and_tags_a_sentence(app_server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page = offline_page(context, errors)
    page.goto(app_server.url + "/finetune")
    wait_for_app(page, timeout_ms=300_000)
    page.locator('[data-testid="stRadio"] label').filter(has_text="Named entities").click()
    wait_for_app(page)
    assert "360 sentences" in main_text(page) and "first piece" in main_text(page)
    for label, value in (("Train on at most this many rows", 40), ("Epochs", 1)):
        box = page.get_by_role("spinbutton", name=label, exact=True)
        box.fill(str(value))
        box.press("Enter")
        wait_for_app(page)
    start(page)
    page.get_by_text("Saved as").wait_for(timeout=300_000)
    wait_for_app(page)
    no_exception(page)
    text = main_text(page)
    assert "Entity F1" in text and "Precision / recall" in text and "Every token and its tag" in text
    box = page.get_by_role("textbox", name="A sentence to tag").first
    box.fill("Ada Lovelace visited Turin.")
    box.press("Enter")
    wait_for_app(page)
    no_exception(page)
    tagged = page.locator('[data-testid="stHtml"]').filter(has_text="Turin")
    assert tagged.count() == 1 and "Lovelace" in tagged.inner_text()  # the sentence, marked up as tagged
    assert [e for e in errors if "Failed to load resource" not in e and "ERR_" not in e] == []
    context.close()
