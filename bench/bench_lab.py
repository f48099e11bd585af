"""Distillation and pruning on the built-in sentiment dataset: student vs teacher, accuracy vs heads removed.

1. Teacher: the embedded MiniLM-L6 fine-tuned on the train split (or --teacher DIR to reuse one).
2. Student: K of its layers (spread, or --layer-choice first) distilled (T, alpha) vs the same student
   trained alone; all scored on the test split; latency = median ms to classify one text, models
   measured interleaved.
3. Head pruning (Michel et al. 2019 importance, scored on the validation split) vs a random order,
   and magnitude pruning, on the teacher.

    python bench/bench_lab.py [--teacher DIR] [--student-layers 2] [--epochs 3] [--threads 1]

Prints the tables and the ratios (student speed-up and accuracy change vs the teacher).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.inputs.datasets import builtin_sentiment  # noqa: E402
from core.training.distill import distill, load_teacher  # noqa: E402
from core.training.config import DistillConfig
from core.training.pruning import default_counts, head_curve, head_importance, sparsity_curve  # noqa: E402
from core.training.finetune import finetune  # noqa: E402
from core.training.config import TrainConfig

TEACHER_DIR = Path(__file__).resolve().parent.parent / "build" / "bench-lab-teacher"
# The teacher is kept out of runs/ (it is not the user's), in a folder the loader is allowed to read.
os.environ["BERT_PLAYGROUND_MODEL_DIRS"] = os.pathsep.join(
    p for p in (os.environ.get("BERT_PLAYGROUND_MODEL_DIRS"), str(TEACHER_DIR.parent)) if p)


def table(rows: list[dict], keys: list[str]) -> None:
    print("  ".join(f"{k:>14}" for k in keys))
    for r in rows:
        print("  ".join(f"{r[k]:>14.4g}" if isinstance(r[k], float) else f"{str(r[k]):>14}" for k in keys))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", help="a fine-tuned classifier folder to reuse (default: fine-tune the embedded model)")
    ap.add_argument("--student-layers", type=int, default=2)
    ap.add_argument("--layer-choice", default="spread", choices=["spread", "first"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (2 thrash on a shared 2-core machine)")
    ap.add_argument("--points", type=int, default=7, help="points on the head-pruning curve")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    train = builtin_sentiment("train")
    validation = builtin_sentiment("validation", train.label_names)
    test = builtin_sentiment("test", train.label_names)
    print(f"built-in sentiment: {len(train)} train / {len(validation)} validation / {len(test)} test; "
          f"{args.threads} thread(s), CPU")

    if args.teacher:
        tokenizer, teacher = load_teacher(args.teacher)
    elif (TEACHER_DIR / "model.safetensors").is_file():
        tokenizer, teacher = load_teacher(TEACHER_DIR)
        print(f"reusing the teacher in {TEACHER_DIR}")
    else:
        t0 = time.perf_counter()
        result = finetune("embedded", train, validation, TrainConfig(epochs=2, batch_size=16), out_dir=TEACHER_DIR)
        tokenizer, teacher = result.tokenizer, result.model
        print(f"teacher fine-tuned in {time.perf_counter() - t0:.0f} s (validation accuracy {result.best.accuracy:.3f})")

    t0 = time.perf_counter()
    cfg = DistillConfig(student_layers=args.student_layers, layer_choice=args.layer_choice,
                        temperature=args.temperature, alpha=args.alpha, epochs=args.epochs)
    kd = distill(teacher, tokenizer, train, validation, test, cfg)
    print(f"\n== Distillation: MiniLM-L6 teacher -> {args.student_layers}-layer student ({args.layer_choice} layers, "
          f"T={args.temperature}, alpha={args.alpha}, {args.epochs} epochs; {time.perf_counter() - t0:.0f} s)")
    table(kd["rows"], ["model", "layers", "accuracy", "f1", "size_mb", "latency_ms", "speedup"])
    t_row, s_row = kd["rows"][0], kd["rows"][1]
    print(f"ratio student/teacher: speed-up x{s_row['speedup']}, accuracy {s_row['accuracy'] - t_row['accuracy']:+.3f}, "
          f"size {s_row['size_mb'] / t_row['size_mb']:.2f}")
    if len(kd["rows"]) > 2:
        print(f"distilled vs trained alone: accuracy {s_row['accuracy'] - kd['rows'][2]['accuracy']:+.3f}")

    t0 = time.perf_counter()
    importance = head_importance(teacher, tokenizer, validation)
    counts = default_counts(importance, args.points)
    heads = head_curve(teacher, tokenizer, importance, test, counts)
    control = head_curve(teacher, tokenizer, importance, test, counts, random_seed=0)
    print(f"\n== Head pruning (importance scored on validation; {time.perf_counter() - t0:.0f} s)")
    table([{**h, "random_accuracy": c["accuracy"]} for h, c in zip(heads, control)],
          ["heads_removed", "heads_left", "accuracy", "random_accuracy", "parameters", "latency_ms", "speedup"])

    t0 = time.perf_counter()
    sparse = sparsity_curve(teacher, tokenizer, test, [0.0, 0.3, 0.5, 0.7, 0.9])
    print(f"\n== Magnitude pruning ({time.perf_counter() - t0:.0f} s)")
    table(sparse, ["sparsity", "measured_sparsity", "accuracy", "nonzero_parameters", "latency_ms", "speedup"])
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    print(json.dumps({"distill": kd["rows"], "heads": heads, "heads_random": control, "sparsity": sparse}))


if __name__ == "__main__":
    main()
