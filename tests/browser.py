"""Real-browser fixtures: the app under `streamlit run` on loopback, and Debian's Chromium via playwright.

conftest.py registers the fixtures once, so every module shares one server and one browser.
Tests skip (with the reason) where chromium or playwright is missing; CI installs both.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.lessons.pages import app_pages

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "test-artifacts"


PAGES = [path for path, _title, _icon in app_pages(ROOT)]  # the scripts app.py navigates to


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen
    runs: Path  # the server's runs/ folder


@contextmanager
def running_app(runs: Path, abandon_after_s: float = 3, app: str = "app.py"):
    """`streamlit run app.py` (or another `app` script) offline on a free loopback port, with its own runs/ folder and a short
    grace (`abandon_after_s`) before a job whose tab closed stops itself."""
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "BERT_PLAYGROUND_RUNS": str(runs),
           "BERT_PLAYGROUND_ABANDON_S": str(abandon_after_s)}
    log = open(ROOT / "build" / f"streamlit-{port}.log", "w") if (ROOT / "build").is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", app, "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("streamlit did not answer /_stcore/health within 60 s") from None
                time.sleep(0.3)
        yield AppServer(url, proc, runs)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a busy server (a model mid-load) may not stop politely
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The app under a real server for every browser test (one per test session)."""
    with running_app(tmp_path_factory.mktemp("server-runs")) as server:
        yield server


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server.url


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium (never `playwright install`)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def offline_page(browser, console_errors: list[str]):
    """A new page (in `browser`, or in a browser context: a separate user) whose requests beyond
    loopback are aborted, collecting console errors."""
    is_context = hasattr(browser, "browser")
    page = browser.new_page() if is_context else browser.new_page(viewport={"width": 1400, "height": 1000})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")) else route.abort())
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: console_errors.append(str(err)))
    return page


def tab_panel(page, name: str):
    """Open the tab called `name` (again: a page without a tab key shows its first tab after a
    rerun) and return its panel."""
    page.get_by_role("tab", name=name).click()
    return page.get_by_role("tabpanel", name=name)


def wait_for_app(page, timeout_ms: int = 120_000) -> None:
    """Wait until Streamlit has run the page script: our sidebar caption exists, nothing is
    running, and the main area has stopped changing for a second and a quarter."""
    page.wait_for_selector('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]', timeout=timeout_ms)
    page.wait_for_function(
        """() => {
            const main = document.querySelector('[data-testid="stMainBlockContainer"]');
            if (!main || document.querySelector('[data-testid="stStatusWidget"]')) { window.__stable = 0; return false; }
            const size = main.innerHTML.length;
            window.__stable = (window.__lastSize === size) ? (window.__stable || 0) + 1 : 0;
            window.__lastSize = size;
            return window.__stable >= 5;
        }""",
        timeout=timeout_ms, polling=250)
