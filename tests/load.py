"""Many browser sessions against one real `streamlit run` server while a fine-tune runs.

Every session but one opens the masked-word page or the attention page, alternately; once all are
open, the last one starts fine-tuning on the built-in dataset and the others type their own
sentences at the same moment. Each answer is timed twice: from the keystroke to the finished
rerun on the page (what this browser, shared by every session, managed to draw), and from the
session's message reaching the server to the server's last message of the answer (tests/tap.py,
a relay per session: what a student on their own machine waits for before drawing). Each answer is checked to be *that*
session's (its own word, its own token count, nobody else's). Around it: the shared model's
weight fingerprint before and after, the server's memory, and the CPU the server and the browser
spent per answer. Used by tests/test_browser_load.py (CI: 10 sessions) and bench/bench_classroom.py.
"""
from __future__ import annotations

import asyncio
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from browser import CHROMIUM, CHROMIUM_ARGS
from tap import Relays

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
    # the session's message -> the server's last message of the answer, timed by tests/tap.py
    server_latencies: dict[str, list[float]] = field(default_factory=lambda: {"masked": [], "attention": []})
    errors: list[str] = field(default_factory=list)  # exception boxes, page errors, timeouts
    wrong: list[str] = field(default_factory=list)  # an answer that was not the session's own
    finetune: str = ""
    finetune_outlived_queries: bool = False  # the fine-tune was still running when the last answer came
    fingerprint_before: str = ""
    fingerprint_after: str = ""
    rss_mb: list[float] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu_s: float = 0.0  # CPU the server process spent while the sessions queried (all its threads)
    browser_cpu_s: float = 0.0  # CPU every Chromium process spent meanwhile
    opening_server_cpu_s: float = 0.0  # CPU the server spent opening the sessions' pages, before they typed
    settle_s: float = 0.0  # after opening, the wait for the browser to finish drawing the pages

    @property
    def cpu_per_answer(self) -> float:
        return self.server_cpu_s / self.answers if self.answers else float("nan")

    @property
    def answers(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def percentile(self, q: float, page: str | None = None, server: bool = False) -> float:
        """The q-th percentile of the answer times (`server`: to the server's answer, not drawn)."""
        times = self.server_latencies if server else self.latencies
        values = sorted(times[page] if page else [x for v in times.values() for x in v])
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
                           f"max {max(values):5.1f} s  ({len(values)} answers drawn); server's answer p50 "
                           f"{self.percentile(50, page, True):5.2f} s  p95 {self.percentile(95, page, True):5.2f} s")
        if self.finetune:
            out.append(f"  fine-tune: {self.finetune}")
        out.append(f"  weights fingerprint {self.fingerprint_before} before, {self.fingerprint_after} after")
        if self.server_cpu_s:
            out.append(f"  server CPU while querying: {self.server_cpu_s:.1f} s = {self.cpu_per_answer:.3f} s per answer"
                       + (" (the fine-tune's share included)" if self.finetune else "")
                       + f"; opening the pages before: {self.opening_server_cpu_s:.1f} s "
                       f"(then {self.settle_s:.0f} s until the browser had drawn them)")
        if self.browser_cpu_s:
            out.append(f"  browser CPU while querying: {self.browser_cpu_s:.1f} s = "
                       f"{self.browser_cpu_s / max(self.answers, 1):.3f} s per answer")
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


class StartTogether:
    """Every querying session opens its page first; then they all type at the same moment."""

    def __init__(self, sessions: int) -> None:
        self.waiting, self.all_open, self.go = sessions, asyncio.Event(), asyncio.Event()

    def opened(self) -> None:  # called once per session, opened or failed
        self.waiting -= 1
        if self.waiting == 0:
            self.all_open.set()


async def _ask(page, report: LoadReport, name: str, kind: str, rounds: list[tuple],
               start: StartTogether, check=None) -> None:
    """Once every session is ready, type each round's (box, key, text, marker): press `key` in `box`
    with `text`, wait until `marker` (JS) is true, time it, then `check` the page."""
    start.opened()
    await start.go.wait()
    for box, key, text, marker in rounds:
        started = time.perf_counter()
        await box.fill(text)
        await box.press(key)
        try:
            await _wait_for(page, marker)
        except Exception as err:  # noqa: BLE001 - a timeout is a finding, not a crash of the test
            report.errors.append(f"{name}: no answer ({type(err).__name__})")
            break
        report.latencies[kind].append(time.perf_counter() - started)
        if check:
            await check()
        await _no_exception(page, report, name)


async def _open_box(context, url: str, report: LoadReport, name: str, label: str, start: StartTogether):
    """(page, its text box labelled `label`), or None (noted, and counted as ready) if it did not open."""
    try:
        page = await _page(context, report, name)
        await _open(page, url)
        box = page.get_by_label(label, exact=True)
        await box.wait_for()
        return page, box
    except Exception as err:  # noqa: BLE001 - a page that does not open is a finding
        report.errors.append(f"{name}: did not open ({type(err).__name__})")
        start.opened()
        return None


async def _masked_session(context, url: str, i: int, report: LoadReport, start: StartTogether) -> None:
    name = f"session {i} (masked)"
    if not (opened := await _open_box(context, url + "/masked", report, name, "Sentence with masks", start)):
        return
    page, box = opened
    others = [w for w in WORDS[:report.sessions] if w != WORDS[i]]

    async def own_words_only():
        text = await page.locator('[data-testid="stMainBlockContainer"]').inner_text()
        report.wrong.extend(f"{name} shows '{w}'" for w in others if f"the {w} saw" in text)

    # the marker: the filled sentence as the page shows it (lower-cased tokens)
    rounds = [(box, "Enter", f"The {WORDS[i]} saw {r + 2} [MASK] near the river.",
               f"m.innerText.includes({f'the {WORDS[i]} saw {r + 2}'!r})") for r in range(report.rounds)]
    await _ask(page, report, name, "masked", rounds, start, own_words_only)


async def _attention_session(context, url: str, i: int, report: LoadReport, start: StartTogether) -> None:
    name = f"session {i} (attention)"
    if not (opened := await _open_box(context, url + "/attention", report, name, "Sentence", start)):
        return
    page, box = opened
    rounds = []
    for r in range(report.rounds):
        repeats = i + r * report.sessions  # a token count no other session or round asks for
        tokens = repeats + 6  # [CLS] the WORD ran*repeats home . [SEP]
        rounds.append((box, "Control+Enter", f"The {WORDS[i]} " + "ran " * repeats + "home.",
                       f"m.innerText.includes('{tokens} tokens · ')"))
    await _ask(page, report, name, "attention", rounds, start)


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
        # training (a low-priority browser may draw nothing more until a short fine-tune is over)
        await page.locator('[data-testid="stProgress"]').or_(page.get_by_text("Saved as")).first.wait_for()
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


def cpu_seconds(pid: int | None) -> float:
    import psutil

    if not pid:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def _browser_settles(limit_s: float = 60) -> float:
    """Wait until the browser has finished drawing the opened pages (under a fifth of a core for a
    second), so the answers do not compete with the pages' first drawing; returns the wait."""
    started = time.perf_counter()
    before = browser_cpu_seconds()
    while time.perf_counter() - started < limit_s:
        await asyncio.sleep(1)
        now = browser_cpu_seconds()
        if now - before < 0.2:
            break
        before = now
    return time.perf_counter() - started


def browser_cpu_seconds() -> float:
    """CPU of every Chromium process under this one (playwright's driver starts them), with the
    children they reaped (a closed tab's renderer)."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name():
                times = child.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def niced_chromium(nice: int) -> str:
    """A Chromium that runs at `nice`, as if each student's browser were on their own machine.

    `nice` alone does not do it on Linux: playwright starts the browser in a session of its own,
    and with autogroup scheduling (`/proc/sys/kernel/sched_autogroup_enabled`) each session is a
    scheduling group that gets its fair share whatever its processes' niceness (and Chromium run
    as root sets its own). So the wrapper lowers its session's group (`/proc/self/autogroup`,
    sched(7)) as well; measured: 14 pages at plain `nice 19` kept the server's threads waiting
    57 s for a CPU while they opened."""
    from pathlib import Path

    wrapper = Path(__file__).resolve().parent.parent / "build" / f"chromium-nice{nice}"
    wrapper.parent.mkdir(exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\n(echo {nice} > /proc/self/autogroup) 2>/dev/null\n'
                       f'exec nice -n {nice} {CHROMIUM} "$@"\n')
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
        start = StartTogether(sessions - 1)
        opening = cpu_seconds(pid)
        with Relays(urlsplit(url).port, sessions) as relays:  # each querying session through its own relay
            flows = asyncio.gather(*[(_masked_session if i % 2 else _attention_session)(
                contexts[i], relays.url(i), i, report, start) for i in range(1, sessions)])
            await start.all_open.wait()
            report.settle_s = await _browser_settles()
            training = asyncio.Event()
            if finetune_rows:  # started last, so it is training while the class asks
                finetune = asyncio.ensure_future(_finetune_session(contexts[0], url, finetune_rows, report, training))
                await training.wait()
            cpu_before, browser_before, go = cpu_seconds(pid), browser_cpu_seconds(), time.monotonic()
            report.opening_server_cpu_s = cpu_before - opening
            start.go.set()
            await flows
            report.server_cpu_s = cpu_seconds(pid) - cpu_before
            report.browser_cpu_s = browser_cpu_seconds() - browser_before
        for i in range(1, sessions):
            report.server_latencies["masked" if i % 2 else "attention"] += relays.answer_times(i, go)
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
