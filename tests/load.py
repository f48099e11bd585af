"""Many browser sessions against one real `streamlit run` server while a fine-tune runs.

One session fine-tunes on the built-in dataset; every other session types its own sentences into
the masked-word page or the attention page, alternately. Each answer is timed from the keystroke
to the finished rerun and checked to be *that* session's answer (its own word, its own token
count, nobody else's). Around it: the shared model's weight fingerprint before and after, and the
server's memory. Used by tests/test_browser_load.py (CI: 10 sessions) and bench/bench_load.py.
"""
from __future__ import annotations

import asyncio
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from browser import CHROMIUM, CHROMIUM_ARGS

# One WordPiece each in the uncased vocabulary, so a session's sentence is recognisable in the output.
WORDS = ("cat dog horse sheep goat mouse tiger lion bear wolf fox duck goose camel zebra whale shark snake "
         "frog owl eagle rabbit monkey donkey pig cow deer crow swan bee").split()
LOOPBACK = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")
IDLE = "!document.querySelector('[data-testid=\"stStatusWidget\"]')"
MAIN = "document.querySelector('[data-testid=\"stMainBlockContainer\"]')"


@dataclass
class LoadReport:
    sessions: int
    rounds: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"masked": [], "attention": []})
    errors: list[str] = field(default_factory=list)  # exception boxes, page errors, timeouts
    wrong: list[str] = field(default_factory=list)  # an answer that was not the session's own
    finetune: str = ""
    finetune_outlived_queries: bool = False  # the fine-tune was still running when the last answer came
    fingerprint_before: str = ""
    fingerprint_after: str = ""
    rss_mb: list[float] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu_s: float = 0.0  # CPU the server process spent while the sessions queried (all its threads)

    @property
    def cpu_per_answer(self) -> float:
        return self.server_cpu_s / self.answers if self.answers else float("nan")

    @property
    def answers(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def percentile(self, q: float, page: str | None = None) -> float:
        values = sorted(self.latencies[page] if page else [x for v in self.latencies.values() for x in v])
        if len(values) < 2:
            return values[0] if values else float("nan")
        return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]

    def lines(self) -> list[str]:
        who = f"{self.sessions - 1} querying + 1 fine-tuning" if self.finetune else f"{self.sessions - 1} querying"
        out = [f"{self.sessions} sessions ({who}) x {self.rounds} rounds "
               f"in {self.seconds:.0f} s: {self.answers} answers, {len(self.errors)} errors, "
               f"{len(self.wrong)} answers from another session"]
        for page, values in self.latencies.items():
            if values:
                out.append(f"  {page:9s} p50 {self.percentile(50, page):5.1f} s  p95 {self.percentile(95, page):5.1f} s  "
                           f"max {max(values):5.1f} s  ({len(values)} answers)")
        if self.finetune:
            out.append(f"  fine-tune: {self.finetune}")
        out.append(f"  weights fingerprint {self.fingerprint_before} before, {self.fingerprint_after} after")
        if self.server_cpu_s:
            out.append(f"  server CPU while querying: {self.server_cpu_s:.1f} s = {self.cpu_per_answer:.3f} s per answer"
                       + (" (the fine-tune's share included)" if self.finetune else ""))
        if self.rss_mb:
            out.append(f"  server memory {self.rss_mb[0]:.0f} MB before, peak {max(self.rss_mb):.0f} MB, "
                       f"{self.rss_mb[-1]:.0f} MB after")
        return out


async def _page(context, report: LoadReport, name: str):
    page = await context.new_page()
    page.set_default_timeout(240_000)
    async def offline(route):  # nothing beyond loopback, as in a classroom without internet
        await (route.continue_() if route.request.url.startswith(LOOPBACK) else route.abort())

    await page.route("**/*", offline)
    page.on("pageerror", lambda err: report.errors.append(f"{name}: page error {err}"))
    return page


async def _no_exception(page, report: LoadReport, name: str) -> None:
    boxes = page.locator('[data-testid="stException"]')
    if await boxes.count():
        report.errors.append(f"{name}: {(await boxes.first.inner_text())[:200]}")


async def _wait_for(page, marker_js: str) -> None:
    await page.wait_for_function(f"(() => {{ const m = {MAIN}; return m && {IDLE} && ({marker_js}); }})()",
                                 polling=100)


async def _open(page, url: str) -> None:
    """Go to `url` and wait for the first run to finish (the sidebar's model caption is drawn)."""
    await page.goto(url)
    await page.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]').first.wait_for()
    await page.wait_for_function(IDLE, polling=200)


async def _fingerprint(context, url: str, report: LoadReport) -> str:
    page = await _page(context, report, "fingerprint")
    await _open(page, url + "/")
    await page.get_by_role("button", name="Fingerprint the weights").click()
    await page.get_by_text("SHA-256 of the weights").wait_for()
    text = await page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    await page.close()
    return re.search(r"SHA-256 of the weights: ([0-9a-f]{16})", text).group(1)


async def _masked_session(context, url: str, i: int, report: LoadReport) -> None:
    name = f"session {i} (masked)"
    page = await _page(context, report, name)
    await _open(page, url + "/masked")
    box = page.get_by_label("Sentence with masks")
    await box.wait_for()
    others = [w for w in WORDS[:report.sessions] if w != WORDS[i]]
    for r in range(report.rounds):
        shown = f"the {WORDS[i]} saw {r + 2}"  # the filled sentence as the page shows it (lower-cased tokens)
        started = time.perf_counter()
        await box.fill(f"The {WORDS[i]} saw {r + 2} [MASK] near the river.")
        await box.press("Enter")
        try:
            await _wait_for(page, f"m.innerText.includes({shown!r})")
        except Exception as err:  # noqa: BLE001 - a timeout is a finding, not a crash of the test
            report.errors.append(f"{name}: no answer ({type(err).__name__})")
            break
        report.latencies["masked"].append(time.perf_counter() - started)
        text = await page.locator('[data-testid="stMainBlockContainer"]').inner_text()
        report.wrong += [f"{name} shows '{w}'" for w in others if f"the {w} saw" in text]
        await _no_exception(page, report, name)
    await page.close()


async def _attention_session(context, url: str, i: int, report: LoadReport) -> None:
    name = f"session {i} (attention)"
    page = await _page(context, report, name)
    await _open(page, url + "/attention")
    box = page.get_by_label("Sentence", exact=True)
    await box.wait_for()
    for r in range(report.rounds):
        repeats = i + r * report.sessions  # a token count no other session or round asks for
        tokens = repeats + 6  # [CLS] the WORD ran*repeats home . [SEP]
        started = time.perf_counter()
        await box.fill(f"The {WORDS[i]} " + "ran " * repeats + "home.")
        await box.press("Control+Enter")
        try:
            await _wait_for(page, f"m.innerText.includes('{tokens} tokens · ')")
        except Exception as err:  # noqa: BLE001
            report.errors.append(f"{name}: no answer ({type(err).__name__})")
            break
        report.latencies["attention"].append(time.perf_counter() - started)
        await _no_exception(page, report, name)
    await page.close()


async def _finetune_session(context, url: str, rows: int, report: LoadReport, started: asyncio.Event) -> None:
    name = "fine-tuning session"
    page = await _page(context, report, name)
    try:
        await _open(page, url + "/finetune")
        limit = page.get_by_role("spinbutton", name="Train on at most this many rows")
        await limit.fill(str(rows))
        await limit.press("Enter")
        await page.wait_for_function(IDLE)
        await page.get_by_role("button", name="Start fine-tuning").click()
        await page.locator('[data-testid="stProgress"]').wait_for()
    except Exception as err:  # noqa: BLE001
        await page.screenshot(path="test-artifacts/load-finetune.png")
        report.errors.append(f"{name}: could not start ({type(err).__name__}: {str(err).splitlines()[0]})")
        return
    finally:
        started.set()
    outcome = page.get_by_text("Saved as").or_(page.locator('[data-testid="stAlertContentError"]'))
    await outcome.first.wait_for(timeout=900_000)
    metric = page.locator('[data-testid="stMetric"]').first
    report.finetune = (await outcome.first.inner_text()).splitlines()[0][:80]
    if await metric.count():
        report.finetune += " · " + " ".join((await metric.inner_text()).split())
    await _no_exception(page, report, name)
    await page.close()


async def _sample_memory(pid: int, report: LoadReport, stop: asyncio.Event) -> None:
    import psutil

    process = psutil.Process(pid)
    while not stop.is_set():
        report.rss_mb.append(process.memory_info().rss / 2**20)
        await asyncio.sleep(0.5)


def _cpu_seconds(pid: int | None) -> float:
    import psutil

    if not pid:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def niced_chromium(nice: int) -> str:
    """A Chromium that runs at `nice`, as if each student's browser were on their own machine."""
    from pathlib import Path

    wrapper = Path(__file__).resolve().parent.parent / "build" / f"chromium-nice{nice}"
    wrapper.parent.mkdir(exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {nice} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def _run(url: str, pid: int | None, sessions: int, rounds: int, finetune_rows: int,
               browser_nice: int | None = None) -> LoadReport:
    from playwright.async_api import async_playwright

    report = LoadReport(sessions, rounds)
    t0 = time.perf_counter()
    async with async_playwright() as p:
        executable = niced_chromium(browser_nice) if browser_nice else CHROMIUM
        browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        contexts = [await browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(sessions + 1)]
        report.fingerprint_before = await _fingerprint(contexts[-1], url, report)
        stop = asyncio.Event()
        sampler = asyncio.ensure_future(_sample_memory(pid, report, stop)) if pid else None
        training = asyncio.Event()
        if finetune_rows:
            finetune = asyncio.ensure_future(_finetune_session(contexts[0], url, finetune_rows, report, training))
            await training.wait()
        flows = [(_masked_session if i % 2 else _attention_session)(contexts[i], url, i, report)
                 for i in range(1, sessions)]
        cpu_before = _cpu_seconds(pid)
        await asyncio.gather(*flows)
        report.server_cpu_s = _cpu_seconds(pid) - cpu_before
        if finetune_rows:
            report.finetune_outlived_queries = not finetune.done()
            await finetune
        report.fingerprint_after = await _fingerprint(contexts[-1], url, report)
        stop.set()
        if sampler:
            await sampler
        await browser.close()
    report.seconds = time.perf_counter() - t0
    return report


def run_load(url: str, pid: int | None = None, sessions: int = 10, rounds: int = 2,
             finetune_rows: int = 400, browser_nice: int | None = None) -> LoadReport:
    """Drive `sessions` browser sessions (one fine-tuning, unless finetune_rows=0) against `url`.

    Runs in its own thread: pytest's sync playwright fixture already owns this thread's event loop.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _run(url, pid, sessions, rounds, finetune_rows, browser_nice)).result()
