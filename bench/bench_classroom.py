"""A classroom on one server: many browser sessions query the app while one of them fine-tunes.

Starts `streamlit run app.py` on loopback (offline, its own runs/ folder), then drives headless
Chromium (Debian's, via playwright) with tests/load.py:

1. alone: one session, no fine-tune — the reference response times;
2. same moment: --sessions sessions typing into the masked-word and attention pages at once, no
   fine-tune: the server CPU each answer costs;
3. classroom: the same plus one session fine-tuning the embedded model on the built-in dataset.

The browser (all sessions: one Chromium, a context each) runs at `nice -n --nice` (19), the server
at normal priority, as if each student's browser were on their own machine. The sessions open
their pages first, the browser finishes drawing them, then all type at the same moment. Prints
p50/p95 per page twice — drawn (keystroke to the finished rerun on the page, in the one browser
shared by all) and the server's answer (the session's message to the server's last bytes, timed
by a relay per session on loopback: what a student on their own machine waits for before their
own browser draws) — errors, answers from another session (must be 0), the server's and the
browser's CPU per answer, the shared model's fingerprint before/after, the server's memory, and
the ratio p95 classroom / p50 alone.

    python bench/bench_classroom.py [--sessions 30] [--rounds 3] [--rows 1090] [--nice 19]
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import running_app  # noqa: E402
from load import run_load  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=30, help="browser sessions, one of them fine-tuning")
    parser.add_argument("--rounds", type=int, default=3, help="sentences each querying session sends")
    parser.add_argument("--rows", type=int, default=1090, help="training rows of the fine-tune (built-in data)")
    parser.add_argument("--nice", type=int, default=19, help="the browser's niceness (0: same priority as the server)")
    args = parser.parse_args()
    (ROOT / "build").mkdir(exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as runs, running_app(Path(runs)) as server:
        nice = args.nice or None
        alone = run_load(server.url, server.process.pid, sessions=3, rounds=args.rounds, finetune_rows=0,
                         browser_nice=nice)
        print("alone (2 querying sessions, no fine-tune):")
        print("\n".join(alone.lines()))
        moment = run_load(server.url, server.process.pid, sessions=args.sessions, rounds=args.rounds,
                          finetune_rows=0, browser_nice=nice)
        print("same moment, no fine-tune:")
        print("\n".join(moment.lines()))
        crowd = run_load(server.url, server.process.pid, sessions=args.sessions, rounds=args.rounds,
                         finetune_rows=args.rows, browser_nice=nice)
        print("classroom:")
        print("\n".join(crowd.lines()))
        print(f"  the fine-tune was still running when the last answer came: {crowd.finetune_outlived_queries}")
    for page in ("masked", "attention"):
        print(f"ratio p95 classroom / p50 alone, {page}: drawn "
              f"{crowd.percentile(95, page) / alone.percentile(50, page):.1f}x, server's answer "
              f"{crowd.percentile(95, page, True) / alone.percentile(50, page, True):.1f}x")
    ok = not crowd.errors and not crowd.wrong and crowd.fingerprint_before == crowd.fingerprint_after \
        and not moment.errors and not moment.wrong
    for problem in moment.errors + moment.wrong + crowd.errors + crowd.wrong:
        print("problem:", problem)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
