"""The lab's decoder and encoder twins: loss after the same steps, time on this machine, samples.

    python bench/bench_twins.py [--steps 300] [--layers 2] [--hidden 64]

Both train on the same WordNet blocks, the same batches and steps, from the same start; the
decoder's loss is next-token cross-entropy over every position, the encoder's is cross-entropy
over the 15% hidden tokens.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import tempfile

    import torch

    from core.progress import SilentReporter
    from core.training.twins import GAP, PROMPT, fill, generate, load_twin, train_twins, twin_spec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args()
    print(f"torch {torch.__version__} · {torch.get_num_threads()} threads")
    spec = twin_spec(layers=args.layers, hidden=args.hidden, steps=args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = train_twins(spec, SilentReporter(), tmp)
        seconds = time.perf_counter() - start
        h = summary["history"]
        mean = lambda rows, key: sum(r[key] for r in rows) / len(rows)  # noqa: E731
        print(f"{summary['parameters'] / 1e6:.2f}M parameters each, {args.steps} steps of batch {spec.batch_size} "
              f"× {spec.max_length} tokens: {seconds:.0f} s for both ({summary['train_s']:.0f} s training)")
        for key in ("decoder", "encoder"):
            print(f"  {key}: loss {mean(h[:10], key):.2f} (first 10 steps) -> {mean(h[-10:], key):.2f} (last 10)")
        decoder, tok, _ = load_twin(summary["out"]["decoder"])
        encoder, _, _ = load_twin(summary["out"]["encoder"])
        print(f"  greedy continuation of '{PROMPT}': {generate(decoder, tok, PROMPT, 12, top_k=1)[0]}")
        print(f"  sampled (T=1, top-10, seed 0): {generate(decoder, tok, PROMPT, 12, top_k=10)[0]}")
        print(f"  encoder on '{GAP}': {[g['token'] for g in fill(encoder, tok, GAP)[0]]}")


if __name__ == "__main__":
    main()
