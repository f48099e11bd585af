"""Memory of the hosted app: one user tours every page and tab and runs every job the pages offer,
in a real browser against `streamlit run app.py` (offline, embedded model), while a sampler reads
the memory of the server and every process it started, four times a second.

    python bench/bench_memory.py [--quick] [--settle-s 60]

Memory is the processes' PSS summed (a page shared between parent and child counts once, as the
host's cgroup counts it). Printed per step: the peak during the step and the memory at its end;
then the tour's peak and the memory `--settle-s` seconds after the last job ended. The reference
is a baseline server in the same run: an empty Streamlit app that loads the embedded model.
`--quick` tours the pages and the Layers jobs only (the test in CI runs that one).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import CHROMIUM, CHROMIUM_ARGS, offline_page, running_app, wait_for_app  # noqa: E402

MB = 2**20
JOB_LIMIT_MS = 600_000


def family(root: int) -> list[int]:
    """`root` and every process below it."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)] = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, grew = {root}, True
    while grew:
        new = {p for p, pp in parent.items() if pp in found} - found
        found |= new
        grew = bool(new)
    return sorted(found)


def pss_mb(root: int) -> float:
    """The PSS of `root` and its descendants, in MB."""
    total = 0
    for pid in family(root):
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            pass
    return total / MB


@dataclass
class Sampler:
    """Reads the memory of a process tree every `every` seconds on a thread of its own."""

    root: int
    every: float = 0.25
    peak: float = 0.0
    last: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self._stop.is_set():
            self.last = pss_mb(self.root)
            self.peak = max(self.peak, self.last)
            self._stop.wait(self.every)

    def window(self) -> float:
        """The peak since the last call, then start a new window."""
        peak, self.peak = self.peak, self.last
        return peak

    def stop(self):
        self._stop.set()


@contextmanager
def user(browser):
    """A new user's page in `browser` (a playwright Chromium)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield offline_page(context, [])
    finally:
        context.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_for_app(page)


def run_job(page, button: str, done_text: str | None = None) -> None:
    """Click the job's start button and wait for its end: the Cancel button gone (and `done_text`
    shown, where the job's end shows one)."""
    page.get_by_role("button", name=button).first.click()
    cancel = page.get_by_role("button", name="⏹ Cancel")
    try:
        cancel.first.wait_for(timeout=30_000)
    except Exception:  # noqa: BLE001 - a job quicker than the wait leaves no Cancel button to see
        pass
    cancel.first.wait_for(state="detached", timeout=JOB_LIMIT_MS)
    if done_text:
        page.get_by_text(done_text, exact=False).first.wait_for(timeout=JOB_LIMIT_MS)
    wait_for_app(page, timeout_ms=JOB_LIMIT_MS)
    if page.locator('[data-testid="stException"]').count() or page.locator('[data-testid="stAlertContentError"]').count():
        raise SystemExit(f"the job behind {button!r} failed: {page.inner_text('[data-testid=stMain]')[:500]}")


def pages_and_tabs(page, url: str):
    """Every page in the sidebar, and every tab on it: (step name, action)."""
    page.goto(url)
    wait_for_app(page, timeout_ms=180_000)
    links = page.locator('[data-testid="stSidebarNav"] a')
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    for href in hrefs:
        target = href if href.startswith("http") else url + "/" + href.lstrip("/")
        name = urlsplit(target).path.strip("/") or "home"

        def visit(target=target):
            page.goto(target)
            wait_for_app(page, timeout_ms=180_000)

        yield name, visit
        tabs = page.get_by_role("tab")
        for k in range(tabs.count()):
            label = tabs.nth(k).inner_text().strip()
            yield f"{name} · {label}", lambda k=k: (tabs.nth(k).click(), wait_for_app(page, timeout_ms=180_000))


def jobs(page, url: str, quick: bool):
    """Every job the pages offer: (step name, action). `quick`: the Layers jobs only."""
    def layers():
        page.goto(url + "/layers")
        wait_for_app(page, timeout_ms=180_000)

    def umap():
        layers()
        page.get_by_text("UMAP", exact=True).first.click()
        wait_for_app(page, timeout_ms=JOB_LIMIT_MS)

    def probes():
        layers()
        open_tab(page, "Probes")
        run_job(page, "▶ Run the probes", "selectivity")

    def index():
        layers()
        open_tab(page, "Neighbours")
        run_job(page, "🗂 Build the index", "Their words")

    yield "Layers · projector with UMAP", umap
    yield "Layers · probes (job)", probes
    yield "Layers · neighbour index (job)", index
    if quick:
        return

    def explain():
        page.goto(url + "/explain")
        wait_for_app(page, timeout_ms=180_000)
        run_job(page, "⚡ Quick fine-tune")
        open_tab(page, "Is it faithful?")
        run_job(page, "▶ Measure the explainers")

    def finetune():
        page.goto(url + "/finetune")
        wait_for_app(page, timeout_ms=180_000)
        run_job(page, "▶ Start fine-tuning")

    def pretrain():
        page.goto(url + "/lab")
        wait_for_app(page, timeout_ms=180_000)
        run_job(page, "▶ Start pretraining")

    def twins():
        page.goto(url + "/lab")
        wait_for_app(page, timeout_ms=180_000)
        open_tab(page, "Decoder vs encoder")
        run_job(page, "▶ Train the twins", "Decoder: continue a text")

    yield "Explain · quick fine-tune + faithfulness (jobs)", explain
    yield "Fine-tuning · default run (job)", finetune
    yield "Lab · pretraining (job)", pretrain
    yield "Lab · twins (job)", twins


BASELINE_APP = '''import streamlit as st
from core.models.loading import get_model

@st.cache_resource
def model():
    return get_model("embedded")

st.title("Baseline")
st.caption(f"{model().summary()['type']} loaded")
'''


def baseline(browser, runs: Path) -> float:
    """An empty Streamlit app holding the embedded model, once visited: its memory in MB."""
    script = ROOT / "build" / "baseline_app.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(BASELINE_APP)
    with running_app(runs, app=script.relative_to(ROOT).as_posix()) as server, user(browser) as page:
        page.goto(server.url)
        page.get_by_text("loaded").wait_for(timeout=180_000)
        time.sleep(2)
        return pss_mb(server.process.pid)


@dataclass
class Tour:
    steps: list[tuple[str, float, float]]  # (name, peak MB, MB at the end)
    peak: float
    settled: float
    base: float
    seconds: float


def tour(browser, quick: bool = False, settle_s: float = 60, with_baseline: bool = True, say=None) -> Tour:
    """Run the tour on a fresh server (and the baseline on another) and return what they used;
    `say(name, peak, end)` hears each step as it ends."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        base = baseline(browser, runs / "baseline") if with_baseline else float("nan")
        start = time.time()
        steps = []
        with running_app(runs / "app") as server, user(browser) as page:
            sampler = Sampler(server.process.pid)
            try:
                for name, act in chain(pages_and_tabs(page, server.url), jobs(page, server.url, quick)):  # lazily: a page's tabs are counted once it is open
                    act()
                    steps.append((name, sampler.window(), sampler.last))
                    if say:
                        say(*steps[-1])
                page.goto(server.url)  # a quiet page while the server settles
                wait_for_app(page, timeout_ms=180_000)
                peak = max(p for _, p, _ in steps)
                time.sleep(settle_s)
                settled = sampler.last
            finally:
                sampler.stop()
        return Tour(steps, peak, settled, base, time.time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the pages and the Layers jobs only")
    parser.add_argument("--settle-s", type=float, default=60)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        print(f"{'step':<48}  peak MB  end MB")
        result = tour(browser, args.quick, args.settle_s,
                      say=lambda name, peak, end: print(f"{name:<48}  {peak:7.0f}  {end:6.0f}", flush=True))
        browser.close()
    print(f"tour: {result.seconds:.0f} s; peak {result.peak:.0f} MB, {args.settle_s:.0f} s after the last job "
          f"{result.settled:.0f} MB")
    print(f"baseline (empty Streamlit app + embedded model): {result.base:.0f} MB")
    print(f"ratio peak / baseline: {result.peak / result.base:.2f}; settled / baseline: "
          f"{result.settled / result.base:.2f}")


if __name__ == "__main__":
    main()
