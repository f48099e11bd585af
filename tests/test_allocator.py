"""The server's allocator gives a job's freed memory back to the system (core/memory.py)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent("""
    import sys, threading
    sys.path.insert(0, {root!r})
    from core.memory import give_back, tune_allocator

    def rss_mb():
        return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

    tuned = tune_allocator()
    before = rss_mb()

    def job():  # a job's way of using memory: many mid-sized blocks on a thread of its own
        blocks = [bytearray(200_000) for _ in range(2000)]
        del blocks[::2]
        keep = [bytearray(200_000) for _ in range(500)]
        del blocks, keep

    threading.Thread(target=job).start()
    threading.enumerate()[-1].join()
    give_back()
    print(tuned, round(rss_mb() - before))
""")


def _after_a_job() -> tuple[bool, int]:
    """In a fresh process with the allocator tuned: (was it tunable, MB a finished job left behind)."""
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT))],
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0] == "True", int(out[1])


def test_a_jobs_freed_memory_goes_back_to_the_system():
    tuned, kept = _after_a_job()
    if not tuned:
        pytest.skip("not glibc: there is nothing to tune (macOS, Windows, musl)")
    assert kept < 20, f"{kept} MB of a job's 500 MB stayed in the process"
