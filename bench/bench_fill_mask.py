"""Latency per sentence: our batched fill-mask (the code behind `fill-mask --file`) vs
`transformers.pipeline("fill-mask")` on the same weights and sentences, in one process.

    python bench/bench_fill_mask.py [--model embedded] [--sentences 64] [--repeats 3]
    python bench/bench_fill_mask.py --whole [--sentences 120]   # whole processes, start-up included

Ratio = ours / pipeline; below 1 means we are faster. If the model's MLM head is not trained yet
(the embedded model before its heads land) the head's weights are random: the timing is the same
as for a trained head of that size, and the script says so.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TEMPLATES = [
    "The capital of France is [MASK].",
    "She went to the [MASK] to get some money.",
    "The cat sat on the [MASK] and watched the birds outside the window.",
    "I loved this film, it was [MASK] from start to finish.",
    "The food was [MASK] and the service was slow, so we left early.",
    "Students learn how [MASK] works in transformers by playing with small models.",
    "The quick brown [MASK] jumps over the lazy dog.",
    "After the rain the river [MASK] was muddy and the path was [MASK].",
    "He plays the [MASK] in a band that tours every summer across Europe and North America.",
    "Water boils at one hundred degrees [MASK] at sea level.",
    "The [MASK] of the company announced record profits on [MASK].",
    "My favourite [MASK] is pizza with extra cheese.",
    "They [MASK] the match after a long and exhausting final set.",
    "Paris is to France what [MASK] is to Italy.",
    "The doctor told him to take the [MASK] twice a day with food.",
    "It was a dark and [MASK] night, and the wind howled through the trees.",
]


def sentences(n: int) -> list[str]:
    return [TEMPLATES[i % len(TEMPLATES)] for i in range(n)]


def as_masked_lm(loaded):
    """A *ForMaskedLM copy of the same weights, the model class the pipeline expects."""
    from transformers import AutoModelForMaskedLM

    mlm = AutoModelForMaskedLM.from_config(loaded.config, attn_implementation=loaded.config._attn_implementation)
    missing = mlm.load_state_dict(loaded.model.state_dict(), strict=False).missing_keys
    if missing:
        raise SystemExit(f"cannot copy the weights into {type(mlm).__name__}: missing {missing[:3]}")
    return mlm.to(loaded.device).eval()


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


PIPELINE_PROCESS = """import sys
sys.path[:0] = [{root!r}, {bench!r}]
from transformers import pipeline
from bench_fill_mask import as_masked_lm
from core.models.loading import get_model
loaded = get_model({model!r})
pipe = pipeline("fill-mask", model=as_masked_lm(loaded), tokenizer=loaded.tokenizer, device=loaded.device)
pipe(open({path!r}, encoding="utf-8").read().splitlines(), top_k={top_k})
"""


def whole_processes(model: str, n: int, repeats: int, top_k: int) -> None:
    """What a user of the command line waits for: a new process that answers the sentences of a file
    (`python -m core fill-mask --file`) vs a new process running the pipeline on them; medians,
    alternating, and each process's peak memory."""
    import os
    import statistics
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parent.parent
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(sentences(n)) + "\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    runs = {
        "ours": [sys.executable, "-m", "core", "fill-mask", "--file", f.name, "--model", model, "--top-k", str(top_k)],
        "pipeline": [sys.executable, "-c", PIPELINE_PROCESS.format(root=str(root), bench=str(root / "bench"),
                                                                   model=model, path=f.name, top_k=top_k)],
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    peaks: dict[str, list[int]] = {k: [] for k in runs}
    for _ in range(repeats):
        for name, argv in runs.items():
            start = time.perf_counter()
            done = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], cwd=root, env=env, capture_output=True, text=True)
            times[name].append(time.perf_counter() - start)
            if done.returncode:
                raise SystemExit(f"{name} failed: {done.stderr[-500:]}")
            peaks[name].append(int(done.stderr.strip().splitlines()[-1]) // 1024)
    os.unlink(f.name)
    for name in runs:
        print(f"{name:9s} whole process: {statistics.median(times[name]):5.2f} s (median of {repeats}), "
              f"peak RSS {statistics.median(peaks[name])} MB")
    print(f"ratio ours / pipeline (whole processes, {n} sentences): "
          f"{statistics.median(times['ours']) / statistics.median(times['pipeline']):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--sentences", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--whole", action="store_true", help="time whole processes, start-up included")
    args = parser.parse_args()
    if args.whole:
        return whole_processes(args.model, args.sentences, args.repeats, args.top_k)

    import torch
    from transformers import pipeline

    from core.explain.masked import fill_masks, prepare
    from core.models.loading import get_model

    loaded = get_model(args.model)
    head = "trained"
    if not loaded.has_mlm:  # same weights and sizes; only the refusal is lifted, nothing is changed
        loaded = dataclasses.replace(loaded, has_mlm=True)
        head = "RANDOM (untrained) — timing only, predictions meaningless"
    texts = sentences(args.sentences)
    pipe = pipeline("fill-mask", model=as_masked_lm(loaded), tokenizer=loaded.tokenizer, device=loaded.device)

    def ours():
        return fill_masks(loaded, [prepare(loaded, t) for t in texts], top_k=args.top_k)

    def reference(batch_size: int):
        return pipe(texts, top_k=args.top_k, batch_size=batch_size)

    # Same answers first (top-1 of every mask), then warm up and time.
    mine = [p[0].token_id for r in ours() for p in r.predictions]
    theirs = []
    for out in reference(1):
        theirs += [out[0]["token"]] if isinstance(out[0], dict) else [o[0]["token"] for o in out]
    assert mine == theirs, "our predictions differ from the pipeline's"

    t_ours = best_of(args.repeats, ours)
    t_pipe = best_of(args.repeats, lambda: reference(1))
    t_pipe32 = best_of(args.repeats, lambda: reference(32))
    n = len(texts)
    s = loaded.summary()
    print(f"model: {loaded.choice} ({s['type']}, {s['layers']} layers, hidden {s['hidden']}, "
          f"vocab {s['vocab']:,}); MLM head: {head}")
    print(f"device: {loaded.device}, torch threads: {torch.get_num_threads()}, {n} sentences, "
          f"{len(mine)} masks, top-k {args.top_k}, best of {args.repeats}")
    print(f"ours (fill-mask --file code, batched):     {1000 * t_ours / n:8.2f} ms/sentence")
    print(f"pipeline('fill-mask'), default batch 1:   {1000 * t_pipe / n:8.2f} ms/sentence")
    print(f"pipeline('fill-mask'), batch_size=32:     {1000 * t_pipe32 / n:8.2f} ms/sentence")
    print(f"ratio ours / pipeline (default):   {t_ours / t_pipe:.3f}")
    print(f"ratio ours / pipeline (batch 32):  {t_ours / t_pipe32:.3f}")


if __name__ == "__main__":
    main()
