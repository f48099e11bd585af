"""The attention page in headless Chromium with every non-loopback request blocked.

Proves the offline promise: bertviz's head, model and neuron views draw their SVG from the
inlined libraries, and the plotly views render. Never runs `playwright install`: it uses
Debian's /usr/bin/chromium.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse

import pytest

from conftest import ROOT
from core import vendor_js

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
    pytest.mark.skipif(not vendor_js.available(),
                       reason="vendor_js/ is empty: run `python -m core vendor-js` (needs the npm registry)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    streamlit = shutil.which("streamlit", path=os.path.dirname(sys.executable)) or "streamlit"
    proc = subprocess.Popen(
        [streamlit, "run", "app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail("streamlit did not start")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(120_000)  # the first run loads the model (cold imports on 2 cores)
        pg.blocked = []

        def guard(route):
            url = urlparse(route.request.url)
            if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOOPBACK:
                pg.blocked.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        pg.route("**/*", guard)
        pg.goto(f"{app_url}/attention", wait_until="domcontentloaded")
        yield pg
        browser.close()


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
