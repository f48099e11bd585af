"""A fresh server's first seconds: the first students arrive together (issue 23).

The test starts its own servers, so that what it sees is a server's very first requests: the
home page and, less than half a second later, the seven other pages at the same moment. On a
fresh server two script threads used to import torch, transformers and core in
different orders and one got a half-initialised module (ImportError shown to the student).
`BERT_PLAYGROUND_FRESH_SERVERS` sets how many fresh servers it tries (default 1: a race needs more to show reliably, e.g. 5 before a release; CI keeps to one to stay under its time).
"""
from __future__ import annotations

import os
import time
from pathlib import Path


from browser import PAGES, ROOT, offline_page, running_app, wait_for_app

FRESH_SERVERS = int(os.environ.get("BERT_PLAYGROUND_FRESH_SERVERS", "1"))
ERROR_TEXT = "This app has encountered an error"


def address(url: str, path: str) -> str:
    slug = Path(path).stem
    return url + ("/" if slug == "home" else f"/{slug}")


def visit(browser, url: str):
    """A new user (own browser context) opening `url`; returns at once, before the page is drawn."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page = offline_page(context, errors)
    page.goto(url, wait_until="commit")
    return context, page


def drawn_or_failed(page) -> str:
    """Wait until the page shows our sidebar (it ran through app.py) or an exception; say which."""
    page.wait_for_function(
        """(errorText) => document.querySelector('[data-testid="stException"]')
            || document.body.innerText.includes(errorText)
            || document.querySelector('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]')""",
        arg=ERROR_TEXT, timeout=180_000, polling=250)
    if page.locator('[data-testid="stException"]').count() or ERROR_TEXT in page.inner_text("body"):
        return "exception: " + page.inner_text("body")[:300].replace("\n", " ")
    wait_for_app(page)
    if page.locator('[data-testid="stException"]').count():
        return "exception: " + page.locator('[data-testid="stException"]').first.inner_text()[:300]
    return "ok"


def server_errors(port_log: Path) -> list[str]:
    text = port_log.read_text() if port_log.is_file() else ""
    return [line for line in text.splitlines() if "Error" in line or "Traceback" in line]


def test_first_visitors_of_fresh_servers_never_see_an_exception(browser, tmp_path):
    """On each fresh server: a deep link to one page first (nobody opened the home page), then
    within half a second seven other pages at once (eight concurrent first visits); every one must
    be drawn through app.py, cleanly, and Streamlit's legacy `pages/` mode must not take over."""
    assert len(PAGES) >= 8
    first = "pages/masked.py"
    others = [p for p in PAGES if p != first][:7]
    (ROOT / "build").mkdir(exist_ok=True)
    for attempt in range(FRESH_SERVERS):
        with running_app(tmp_path / f"runs-{attempt}") as server:
            log = ROOT / "build" / f"streamlit-{server.url.rsplit(':', 1)[1]}.log"
            visits = [(first, *visit(browser, address(server.url, first)))]
            time.sleep(0.3)
            visits += [(path, *visit(browser, address(server.url, path))) for path in others]
            outcomes = {path: drawn_or_failed(page) for path, _ctx, page in visits}
            deep = visits[0][2]
            nav = deep.locator('[data-testid="stSidebarNav"]').inner_text()
            assert "Masked words & NSP" in nav and "common" not in nav
            assert deep.get_by_label("Sentence with masks").count() == 1
            for _path, context, _page in visits:
                context.close()
            bad = {p: o for p, o in outcomes.items() if o != "ok"}
            assert not bad, f"fresh server {attempt + 1}: {bad}"
            assert not server_errors(log), server_errors(log)
