"""Where a classroom answer's time goes on the student's side: the browser's CPU per answer.

    python bench/profile_browser.py [--answers 8]

Starts the app offline and drives one Chromium (Debian's, via playwright) through --answers new
sentences on the masked-word page and on the attention page, one answer at a time, nothing else
running. For each page it prints, per answer: the wall time from the keystroke to the finished
rerun, the CPU the browser's processes spent (all of them: renderers, GPU process, browser), the
server's CPU, the bytes the server sent over the websocket, and Chromium's own split of the
renderer's time (script, layout, style; CDP Performance.getMetrics). With thirty students on one
2-core machine, the browser's share is what the waits are made of (bench/RESULTS.md, issue 22).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402
from load import IDLE, MAIN, WORDS, browser_cpu_seconds, cpu_seconds  # noqa: E402

METRICS = ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "TaskDuration")


async def metrics(cdp) -> dict[str, float]:
    raw = await cdp.send("Performance.getMetrics")
    return {m["name"]: m["value"] for m in raw["metrics"] if m["name"] in METRICS}


ASKS = {  # page -> (input label, key to send, the sentence of answer r, JS that is true once it is shown)
    "masked": ("Sentence with masks", "Enter", lambda r: f"The {WORDS[r]} saw a [MASK] near the river.",
               lambda r: f"m.innerText.includes('the {WORDS[r]} saw')"),
    "attention": ("Sentence", "Control+Enter", lambda r: f"The {WORDS[r]} " + "ran " * (r + 1) + "home.",
                  lambda r: f"m.innerText.includes('{r + 7} tokens · ')"),
}


async def profile_page(browser, url: str, pid: int, name: str, answers: int) -> list[dict]:
    label, key, sentence, shown = ASKS[name]
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    received = [0]
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.__setitem__(
        0, received[0] + len(frame if isinstance(frame, (bytes, str)) else b""))))
    await page.goto(f"{url}/{name}")
    box = page.get_by_label(label, exact=True)
    await box.wait_for(timeout=240_000)
    await page.wait_for_function(IDLE, polling=100)
    cdp = await context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    rows = []
    for r in range(answers + 1):  # the first answer warms the caches of this page: not counted
        await asyncio.sleep(1.0)  # let the previous answer's paints settle
        before = (time.perf_counter(), browser_cpu_seconds(), cpu_seconds(pid), received[0], await metrics(cdp))
        await box.fill(sentence(r))
        await box.press(key)
        await page.wait_for_function(f"(() => {{ const m = {MAIN}; return m && {IDLE} && ({shown(r)}); }})()",
                                     polling=50, timeout=240_000)
        await asyncio.sleep(1.0)  # paints after the rerun's last message count too
        after = (time.perf_counter(), browser_cpu_seconds(), cpu_seconds(pid), received[0], await metrics(cdp))
        if r:
            rows.append({"browser CPU": after[1] - before[1], "server CPU": after[2] - before[2],
                         "websocket kB": (after[3] - before[3]) / 1e3,
                         **{m: after[4].get(m, 0) - before[4].get(m, 0) for m in METRICS}})
    await context.close()
    return rows


async def run(url: str, pid: int, answers: int) -> dict[str, list[dict]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        out = {name: await profile_page(browser, url, pid, name, answers) for name in ASKS}
        await browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=8)
    args = parser.parse_args()
    (ROOT / "build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as runs, running_app(Path(runs)) as server:
        results = asyncio.run(run(server.url, server.process.pid, args.answers))
    print("per answer, median of", args.answers, "(seconds; the 1 s settle after each answer included in CPU)")
    for name, rows in results.items():
        cells = ", ".join(f"{k} {statistics.median(r[k] for r in rows):.3f}" for k in rows[0])
        print(f"  {name}: {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
