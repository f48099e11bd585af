"""Attention views of a 512-token input on the embedded model: ours vs bertviz's model view.

Ours: forward pass + head statistics + rollout + every figure the page can show (one head at
full 512 x 512, the 6 x 12 grid, head average, rollout, a statistic, the head ranking),
serialised to JSON as Streamlit does. Reference: the same forward pass + bertviz's
`model_view(..., html_action="return")`, the HTML a notebook would display (bertviz ships every
number to the browser, which then has to draw 72 x 512 x 512 lines on top of this).
Both warm, in one process, median of a few runs. Run: python bench/bench_attention.py
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXT = ("Attention lets every token look at every other token and decide how much of each to mix "
        "into its new vector, and different heads learn different habits. ") * 40


def median_time(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall time and CPU time (the CPU time shows the cost when the machine is shared)."""
    fn()  # warm-up
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def main() -> None:
    import torch
    from bertviz import model_view

    from core.explain.attention import compute_attention, head_average, rank_heads, result_stats, rollout
    from core.figures import attention as figs
    from core.models.loading import get_model
    from core.inputs.text import encode

    loaded = get_model("embedded")

    def ours():
        result = compute_attention(loaded, TEXT)
        stats = result_stats(result)
        flow = rollout(result.attn)
        everything = range(result.layers), range(result.heads)
        figures = [figs.head_figure(result, 0, 2), figs.grid_figure(result, *map(list, everything)),
                   figs.matrix_figure(head_average(result.attn)[-1], result.tokens, "average"),
                   figs.matrix_figure(flow[-1], result.tokens, "rollout"), figs.stat_figure(stats, "prev"),
                   figs.ranking_figure(rank_heads(result.attn, 5, 4), "a", "b")]
        return result.n, sum(len(f.to_json()) for f in figures)

    def bertviz():
        enc = encode(loaded, TEXT)
        with torch.inference_mode():
            attention = loaded.encoder(**enc.inputs, output_attentions=True).attentions
        return len(model_view(attention, enc.tokens, html_action="return").data)

    t_ours, cpu_ours, (n, ours_bytes) = median_time(ours, repeats=5)
    t_bv, cpu_bv, bv_bytes = median_time(bertviz, repeats=2)
    print(f"input: {n} tokens, embedded MiniLM-L6 (6 layers x 12 heads), 2-core CPU, no GPU, warm")
    print(f"ours   : {t_ours:6.2f} s ({cpu_ours:5.2f} s CPU)  attentions + statistics + rollout + 6 figures as JSON "
          f"({ours_bytes / 2**20:.1f} MB)")
    print(f"bertviz: {t_bv:6.2f} s ({cpu_bv:5.2f} s CPU)  attentions + model view HTML ({bv_bytes / 2**20:.1f} MB to draw in the browser)")
    print(f"ratio  : bertviz / ours = {t_bv / t_ours:.1f}x wall time, {cpu_bv / cpu_ours:.1f}x CPU time, "
          f"{bv_bytes / ours_bytes:.1f}x bytes")
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
