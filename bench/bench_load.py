"""Loading the embedded model: time (cold in a fresh process, warm in-process) and memory.

Reference: transformers' plain `BertModel.from_pretrained` on the pip package's folder, which
loads the encoder only — ours adds the MLM/NSP heads and LoRA merge on top.
Run: python bench/bench_load.py
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, time, sys
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import torch, transformers
t_import = time.perf_counter() - t0
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
{load}
t_load = time.perf_counter() - t1
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"import_s": t_import, "load_s": t_load, "rss_mb": rss1 / 1024, "load_rss_mb": (rss1 - rss0) / 1024}}))
"""
OURS = "from core.models.loading import load_model; m = load_model('embedded')"
REF = ("from transformers import BertModel; from core.models.embedded import encoder_path; "
       "transformers.logging.set_verbosity_error(); m = BertModel.from_pretrained(encoder_path())")


def cold(load: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), load=load)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def warm(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    import transformers
    from transformers import BertModel

    from core.models.embedded import encoder_path
    from core.models.loading import load_model

    transformers.logging.set_verbosity_error()
    ours_cold, ref_cold = cold(OURS), cold(REF)
    ours_warm = warm(lambda: load_model("embedded"))
    ref_warm = warm(lambda: BertModel.from_pretrained(encoder_path()))
    print(f"cold  ours: import {ours_cold['import_s']:.2f} s + load {ours_cold['load_s']:.2f} s, "
          f"peak RSS {ours_cold['rss_mb']:.0f} MB (+{ours_cold['load_rss_mb']:.0f} MB for the load)")
    print(f"cold  ref : import {ref_cold['import_s']:.2f} s + load {ref_cold['load_s']:.2f} s, "
          f"peak RSS {ref_cold['rss_mb']:.0f} MB (+{ref_cold['load_rss_mb']:.0f} MB for the load)")
    print(f"warm  ours: {ours_warm:.3f} s   ref: {ref_warm:.3f} s   ratio ours/ref: {ours_warm / ref_warm:.2f}")


if __name__ == "__main__":
    main()
