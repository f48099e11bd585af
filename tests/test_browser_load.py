"""Issue #10's load test, CI size: 10 browser sessions on one real server while a fine-tune runs.

The full classroom version (30 sessions, more rounds) is bench/bench_load.py; its numbers are in
bench/RESULTS.md.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from browser import CHROMIUM
from load import run_load

pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def test_ten_sessions_while_a_fine_tune_runs(app_server):
    saved_before = set(app_server.runs.glob("**/model.safetensors"))  # other tests' models
    report = run_load(app_server.url, app_server.process.pid, sessions=10, rounds=1, finetune_rows=120)
    print("\n".join(report.lines()))
    assert report.errors == []
    assert report.wrong == []  # every session saw its own answers
    assert report.answers == 9  # 9 querying sessions, one round each, every one answered
    server = [t for times in report.server_latencies.values() for t in times]  # timed by the relays
    assert len(server) == 9 and all(0 < t < 120 for t in server), report.server_latencies
    assert report.finetune.startswith("Saved as"), report.finetune
    assert report.fingerprint_before == report.fingerprint_after  # the shared model was never changed
    assert max(report.rss_mb) - report.rss_mb[0] < 2048  # memory stays bounded
    # The fine-tune was saved in its session's own folder, nowhere shared.
    saved = set(app_server.runs.glob("**/model.safetensors")) - saved_before
    assert len(saved) == 1 and next(iter(saved)).parent.parent.parent.name == "sessions", saved
