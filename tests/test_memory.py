"""The hosted app's memory, guarded: one user tours every page and tab and runs the Layers jobs
(the probes and the neighbour index once took the server to 2 GB), on a fresh server, in a real
browser; the server's peak and settled memory must stay within a margin of what was measured
(bench/bench_memory.py --quick, bench/RESULTS.md), so a change that doubles memory fails here."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from bench_memory import tour  # noqa: E402

MEASURED_PEAK_MB = 1333  # the quick tour (pages + Layers jobs), bench/RESULTS.md; 2,099 before the fixes
MEASURED_SETTLED_MB = 1022  # 1,970 before
MARGIN = 1.3


def test_a_tour_with_the_layers_jobs_stays_within_its_memory(browser):
    result = tour(browser, quick=True, settle_s=20, with_baseline=False)
    names = [name for name, _peak, _end in result.steps]
    assert {"home", "layers", "lab", "Layers · probes (job)", "Layers · neighbour index (job)"} <= set(names)
    assert "layers · Neighbours" in names  # the tabs were visited too
    assert result.peak <= MARGIN * MEASURED_PEAK_MB, result.steps
    assert result.settled <= MARGIN * MEASURED_SETTLED_MB, (result.settled, result.steps)
