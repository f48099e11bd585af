"""Forward time of the from-scratch BERT (SDPA path) vs transformers' BertModel (sdpa attention).

Same weights, batch 8 × 128 tokens, torch.inference_mode, one process, interleaved runs,
warmup then the median of repeats. Goal: ratio scratch / transformers <= 1.0. The from-scratch
model multiplies by the fused [W_Q | W_K | W_V] once where transformers does three matmuls.

    python bench/bench_scratch_bert.py [--repeats 15] [--base]

--base also times a randomly initialised BERT-base shape (12 layers, 768 hidden).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.bert import from_transformers  # noqa: E402


def _time(fn, inputs) -> float:
    start = time.perf_counter()
    fn(**inputs)
    return time.perf_counter() - start


def bench(name: str, reference, repeats: int, batch: int = 8, length: int = 128) -> float:
    """Median seconds of each model on one random batch; prints and returns the ratio."""
    reference.eval()
    scratch = from_transformers(reference)
    g = torch.Generator().manual_seed(0)
    inputs = {
        "input_ids": torch.randint(1000, reference.config.vocab_size, (batch, length), generator=g),
        "attention_mask": torch.ones(batch, length, dtype=torch.long),
        "token_type_ids": torch.zeros(batch, length, dtype=torch.long),
    }
    with torch.inference_mode():
        diff = (scratch(**inputs)[0] - reference(**inputs).last_hidden_state).abs().max().item()
        for _ in range(2):  # warmup
            reference(**inputs), scratch(**inputs)
        ours, theirs = [], []
        for i in range(repeats):  # interleaved, order alternating: both see the same machine load
            pair = [(theirs, reference), (ours, scratch)]
            for times, model in pair if i % 2 else pair[::-1]:
                times.append(_time(model, inputs))
    t_ours, t_theirs = statistics.median(ours), statistics.median(theirs)
    # Median of per-pair ratios: each pair ran back to back, so a busy machine cancels out.
    ratio = statistics.median(a / b for a, b in zip(ours, theirs))
    print(f"{name}: batch {batch}x{length}, threads {torch.get_num_threads()}, max |diff| {diff:.1e}\n"
          f"  from-scratch (SDPA)      {t_ours * 1000:8.1f} ms (median of {repeats})\n"
          f"  transformers BertModel   {t_theirs * 1000:8.1f} ms ({reference.config._attn_implementation})\n"
          f"  fastest runs: {min(ours) * 1000:.1f} ms vs {min(theirs) * 1000:.1f} ms\n"
          f"  ratio scratch/transformers = {ratio:.3f} (median of paired runs; {'OK' if ratio <= 1.0 else 'slower'})")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--base", action="store_true", help="also time a BERT-base-sized random model")
    args = parser.parse_args()
    from transformers import BertConfig, BertModel
    from transformers.utils import logging

    from core.models.embedded import encoder_path

    logging.set_verbosity_error()
    torch.manual_seed(0)
    # A separate BertModel with transformers' default attention (sdpa), from the embedded weights.
    bench("MiniLM-L6 (embedded weights)", BertModel.from_pretrained(encoder_path(), local_files_only=True),
          args.repeats)
    if args.base:
        bench("BERT-base shape (random weights)", BertModel(BertConfig(attn_implementation="sdpa")),
              max(5, args.repeats // 3))


if __name__ == "__main__":
    main()
