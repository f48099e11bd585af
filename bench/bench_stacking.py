"""Stacking vs mean / vote / best member / oracle on the built-in reviews, with the lab's small members.

    python bench/bench_stacking.py [--members 3] [--folds 3] [--layers 2] [--epochs 2]

Members are the lab's: the first `layers` blocks of the embedded MiniLM, one seed each. Stacking
trains each member folds + 1 times (out-of-fold predictions, then the whole split); mean and
vote use the members trained on the whole split, so all four are scored on the same test split.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import torch

    from core.inputs.datasets import builtin_sentiment
    from core.training.ensemble import member_fit, report
    from core.training.stacking import stack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    print(f"torch {torch.__version__} · {torch.get_num_threads()} threads")
    train = builtin_sentiment("train")
    validation, test = (builtin_sentiment(s, train.label_names) for s in ("validation", "test"))
    members = {f"member-{s}": member_fit(validation, s, args.layers, args.epochs) for s in range(args.members)}
    start = time.perf_counter()
    stacker, probs, stacked = stack(members, train, test, args.folds)
    seconds = time.perf_counter() - start
    result = report(probs, test.labels, stacked)
    print(f"{args.members} members × {args.folds + 1} trainings each: {seconds:.0f} s")
    for m in result["members"]:
        print(f"  {m['model']:<12} {m['accuracy']:.3f}")
    for method in ("mean", "vote", "stack"):
        r = result[method]
        print(f"  {method:<12} {r['accuracy']:.3f}  (fixed {r['fixed']}, broke {r['broken']} vs the best member)")
    print(f"  {'oracle':<12} {result['oracle']:.3f}")
    for w in stacker.weights():
        print(f"  weight {w}")


if __name__ == "__main__":
    main()
