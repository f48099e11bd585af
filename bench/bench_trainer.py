"""This project's trainer against transformers' `Trainer`: same model, data, batch, length, epochs.

    python bench/bench_trainer.py [--limit N] [--epochs E] [--batch-size B] [--max-length L]

Both fine-tune the embedded MiniLM on the built-in sentiment dataset (train split, or its first
N rows) and evaluate on its validation split after every epoch, in this one process. The
reference is the Trainer as its docs recommend it: dynamic padding (DataCollatorWithPadding),
no checkpoint saving (so it does strictly less work), torch's default thread count. Ours pads
each batch of similar-length texts, evaluates sorted by length in inference mode, and picks its
thread count (sensible_threads). A third run of ours at the Trainer's thread count separates the
padding win from the thread win. Prints samples/s (wall clock, and per CPU-second, which is
steadier on a shared machine), the ratios and validation accuracy.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def run_ours(train, evaluation, args, threads: int) -> dict:
    from accelerate.utils import set_seed

    from core.training.finetune import train_classifier
    from core.training.config import TrainConfig
    from core.models.classifiers import load_base_classifier

    torch.set_num_threads(threads)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, max_length=args.max_length,
                         seed=args.seed)
    set_seed(args.seed)
    tokenizer, model = load_base_classifier("embedded", train.label_names)
    cpu = time.process_time()
    result = train_classifier(model, tokenizer, train, evaluation, config)
    cpu = time.process_time() - cpu
    evals = [e for e in result.history if e.get("type") == "eval"]
    return {"samples_per_s": result.samples_per_s, "train_s": result.train_s, "threads": threads,
            "cpu_samples_per_s": len(train) * args.epochs / cpu,
            "final_accuracy": evals[-1]["accuracy"], "best_accuracy": result.best.accuracy}


def run_hf_trainer(train, evaluation, args, threads: int) -> dict:
    from datasets import Dataset, disable_progress_bars
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments, set_seed)
    from transformers.utils import logging as hf_logging

    from core.models.embedded import encoder_path

    hf_logging.set_verbosity_error()
    disable_progress_bars()
    torch.set_num_threads(threads)
    set_seed(args.seed)
    path = encoder_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(train.label_names))

    def as_dataset(data):
        ds = Dataset.from_dict({"text": data.texts, "label": data.labels})
        return ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=args.max_length), batched=True,
                      remove_columns=["text"])

    def accuracy(pred):
        return {"accuracy": float((np.argmax(pred.predictions, -1) == pred.label_ids).mean())}

    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=args.batch_size,
            num_train_epochs=args.epochs, learning_rate=args.lr, weight_decay=0.01, warmup_steps=0.1,
            max_grad_norm=1.0, eval_strategy="epoch", save_strategy="no", logging_strategy="epoch",
            report_to="none", seed=args.seed, use_cpu=True, disable_tqdm=True, dataloader_num_workers=0)
        trainer = Trainer(model=model, args=targs, train_dataset=as_dataset(train),
                          eval_dataset=as_dataset(evaluation), data_collator=DataCollatorWithPadding(tokenizer),
                          compute_metrics=accuracy)
        started, cpu = time.perf_counter(), time.process_time()
        trainer.train()
        train_s, cpu = time.perf_counter() - started, time.process_time() - cpu
    accs = [h["eval_accuracy"] for h in trainer.state.log_history if "eval_accuracy" in h]
    return {"samples_per_s": len(train) * args.epochs / train_s, "train_s": train_s, "threads": threads,
            "cpu_samples_per_s": len(train) * args.epochs / cpu,
            "final_accuracy": accs[-1], "best_accuracy": max(accs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="first N training rows (0: all)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-ablation", action="store_true", help="skip ours-at-the-Trainer's-threads")
    parser.add_argument("--threads", type=int, default=0,
                        help="run both at N threads (0: the Trainer at torch's default, ours at its own choice)")
    args = parser.parse_args()

    from core.inputs.datasets import builtin_sentiment
    from core.training.kit import sensible_threads

    train = builtin_sentiment("train")
    if args.limit:
        train.texts, train.labels = train.texts[:args.limit], train.labels[:args.limit]
    evaluation = builtin_sentiment("validation", train.label_names)
    default_threads = args.threads or torch.get_num_threads()
    ours_threads = args.threads or sensible_threads()
    print(f"data: {len(train)} train / {len(evaluation)} validation rows; batch {args.batch_size}, "
          f"max length {args.max_length}, {args.epochs} epochs; torch threads {default_threads}, "
          f"ours {ours_threads}", flush=True)
    runs = {"ours": lambda: run_ours(train, evaluation, args, ours_threads),
            "hf_trainer": lambda: run_hf_trainer(train, evaluation, args, default_threads)}
    if not args.no_ablation and ours_threads != default_threads:
        runs["ours_same_threads"] = lambda: run_ours(train, evaluation, args, default_threads)
    results = {}
    for name, fn in runs.items():
        results[name] = fn()
        r = results[name]
        print(f"{name:18s} {r['samples_per_s']:7.2f} samples/s  {r['train_s']:7.1f} s  threads {r['threads']}  "
              f"accuracy final {r['final_accuracy']:.3f} best {r['best_accuracy']:.3f}", flush=True)
    ours, ref = results["ours"], results["hf_trainer"]
    print(f"ratio ours / HF Trainer: {ours['samples_per_s'] / ref['samples_per_s']:.2f}x samples/s (wall), "
          f"{ours['cpu_samples_per_s'] / ref['cpu_samples_per_s']:.2f}x per CPU-second; "
          f"accuracy {ours['best_accuracy']:.3f} vs {ref['best_accuracy']:.3f} (best), "
          f"{ours['final_accuracy']:.3f} vs {ref['final_accuracy']:.3f} (final epoch)")
    if "ours_same_threads" in results:
        same = results["ours_same_threads"]
        print(f"ratio at the same thread count ({default_threads}): "
              f"{same['samples_per_s'] / ref['samples_per_s']:.2f}x")


if __name__ == "__main__":
    main()
