"""Every page answers hostile text with a result or a friendly message: no exception, and text a
user typed is never rendered as HTML."""
from __future__ import annotations

import pytest

from browser import PAGES
from conftest import tiny_choice
from hostile import HOSTILE_TEXTS
from test_explain import toy_classifier
from test_pages import open_page

UI_TEXTS = ["empty", "whitespace", "one char", "10k words", "600 tokens", "emoji", "right-to-left",
            "zero-width", "control chars", "html injection", "markdown injection", "50 masks",
            "mask only", "wrong mask token", "cjk"]
INJECTED = ("<script>alert", "onerror=alert", "javascript:alert")


def rendered_html(at) -> list[str]:
    """Markdown the page allowed to render as raw HTML."""
    return [md.value for md in at.markdown if md.proto.allow_html]


# Lazy tabs draw (and compute) only the open tab: the tabs with text of their own, opened. The
# query-key map reads the projector tab's sentences, so its hostile text is put in the session.
TABS = [("pages/masked.py", "mlm_tab", "Click to mask", None), ("pages/masked.py", "mlm_tab", "Next sentence", None),
        ("pages/explain.py", "xp_tab", "Edit and compare", None), ("pages/layers.py", "ly_tab", "Query-key map", "ly_text")]


@pytest.mark.parametrize("text_name", UI_TEXTS)
@pytest.mark.parametrize("path, tab_key, tab, text_key",
                         [(p, None, None, None) for p in PAGES if p != "pages/home.py"] + TABS)
def test_page_survives_hostile_text(path, tab_key, tab, text_key, text_name):
    # The explain page asks for its sentence once a classifier is picked.
    extra = {"xp_classifier": f"local:{toy_classifier()}"} if path == "pages/explain.py" else {}
    if tab_key:
        extra[tab_key] = tab
    if text_key:
        extra[text_key] = HOSTILE_TEXTS[text_name][:10_000]
    at = open_page(path, model_choice=tiny_choice("bert"), **extra)
    fields = [*at.main.text_area, *at.main.text_input]
    assert fields or text_key, f"{path} has no text field to try"
    for field in fields:
        field.set_value(HOSTILE_TEXTS[text_name][: field.proto.max_chars or None])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    leaked = [html for html in rendered_html(at) if any(bad in html for bad in INJECTED)]
    assert not leaked, f"user text rendered as HTML on {path}: {leaked[0][:200]}"
