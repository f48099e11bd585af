"""Where the server's CPU goes while a class queries it: py-spy samples a real `streamlit run`.

    pip install py-spy==0.4.3   # a profiler, not a dependency of the app
    python bench/profile_server.py [--sessions 11] [--rounds 3] [--top 25]

Starts the app offline, drives --sessions browser sessions (tests/load.py, the browser at nice 19)
on the masked-word and attention pages, records the server with py-spy (all threads, CPU only),
and prints the functions with the largest share of the server's samples (inclusive).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import running_app  # noqa: E402
from load import run_load  # noqa: E402


def frame_name(frame: str) -> str:
    """'fill_masks (/…/core/explain/masked.py:233)' -> 'fill_masks (core/explain/masked.py)'."""
    name, _, where = frame.partition(" (")
    if not where:
        return frame
    path = where.rstrip(")").rsplit(":", 1)[0].split("site-packages/")[-1].replace(str(ROOT) + "/", "")
    return f"{name} ({path})"


WAITING = ("wait ", "get ", "sleep ", "select ", "poll ", "acquire ", "_run_once ", "recv", "accept ")


def shares(raw: str, top: int) -> list[tuple[str, float]]:
    """(function, share of the busy samples in which it is on the stack) from py-spy's collapsed stacks;
    a sample whose innermost frame is a wait (a lock, a queue, sleep, select) is idle, not counted."""
    inclusive, total = Counter(), 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit() and not stack.split(";")[-1].lstrip().startswith(WAITING):
            total += int(count)
            for name in {frame_name(f) for f in stack.split(";")}:
                inclusive[name] += int(count)
    return [(name, n / max(total, 1)) for name, n in inclusive.most_common(top)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory() as runs, running_app(Path(runs)) as server:
        run_load(server.url, server.process.pid, sessions=3, rounds=1, finetune_rows=0, browser_nice=19)  # warm
        out = ROOT / "build" / "server-profile.txt"  # py-spy's collapsed stacks, kept for a flame graph
        recorder = subprocess.Popen([spy, "record", "--pid", str(server.process.pid), "--format", "raw",
                                     "--output", str(out), "--rate", "50", "--nonblocking"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        report = run_load(server.url, server.process.pid, sessions=args.sessions, rounds=args.rounds,
                          finetune_rows=0, browser_nice=19)
        recorder.send_signal(2)  # SIGINT: py-spy writes its file and exits
        recorder.wait(timeout=60)
        print("\n".join(report.lines()))
        for name, share in shares(out.read_text(), args.top):
            print(f"{share:6.1%}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
