"""BERT's other tasks, this project's trainer against transformers' `Trainer`, and the embedded
model's scores on each built-in test split.

    python bench/bench_tasks.py [--task tokens|qa|pairs|all] [--no-reference] [--record]

Both fine-tune the embedded MiniLM on the task's built-in train split with the same settings
(epochs, batch, learning rate, length, warmup, weight decay, seed), evaluate on the validation
split after every epoch and run one after the other in this process, at the same thread count.
The references are the Trainer as transformers' own examples use it: for entities, `run_ner`'s
label alignment (first piece, -100 elsewhere) with `DataCollatorForTokenClassification`; for
questions, `run_qa`'s `prepare_train_features` (question first, the context cut with a stride,
[CLS] for answers outside the window) with `DataCollatorWithPadding`. Both sides are scored by
the same code (seqeval entity F1; SQuAD EM / F1 of the best span over windows). Prints samples/s
(wall and per CPU-second), the ratio and the scores; then ours on the test split. `--record`
writes the test-split scores to core/data/task_scores.json, which the fine-tuning page shows.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

def settings(task: str) -> dict:
    """The page's recipe for the task (core.tasks.sources.RECIPES), at batch 16."""
    from core.tasks.sources import RECIPES

    return dict(RECIPES[task], batch_size=16)


def run_ours(task: str, train, evaluation, test, config) -> dict:
    from accelerate.utils import set_seed

    from core.models.classifiers import load_base_classifier
    from core.tasks.heads import task_of
    from core.training.finetune import score, train_classifier

    set_seed(config.seed)
    head = task_of(train)
    tokenizer, model = load_base_classifier("embedded", head.labels(train), head)
    cpu = time.process_time()
    result = train_classifier(model, tokenizer, train, evaluation, config)
    cpu = time.process_time() - cpu
    evals = [e for e in result.history if e.get("type") == "eval"]
    tested = score(result.model, tokenizer, test, config.max_length)
    return {"samples_per_s": result.samples_per_s, "train_s": result.train_s, "cpu_samples_per_s": result.samples_seen / cpu,
            "final_f1": evals[-1]["f1"], "best_f1": result.best.f1, "best_accuracy": result.best.accuracy,
            "test": {"accuracy": tested.accuracy, "f1": tested.f1, **tested.details}, "windows": result.samples_seen}


def _hf_run(model, tokenizer, train_ds, eval_ds, collator, compute_metrics, config, rows: int) -> dict:
    from transformers import Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=64,
            num_train_epochs=config.epochs, learning_rate=config.lr, weight_decay=config.weight_decay,
            warmup_steps=config.warmup_ratio, max_grad_norm=config.max_grad_norm, eval_strategy="epoch",
            save_strategy="no", logging_strategy="epoch", report_to="none", seed=config.seed, use_cpu=True,
            disable_tqdm=True, dataloader_num_workers=0)
        trainer = Trainer(model=model, args=targs, train_dataset=train_ds, eval_dataset=eval_ds,
                          data_collator=collator, compute_metrics=compute_metrics)
        started, cpu = time.perf_counter(), time.process_time()
        trainer.train()
        train_s, cpu = time.perf_counter() - started, time.process_time() - cpu
    f1s = [h["eval_f1"] for h in trainer.state.log_history if "eval_f1" in h]
    return {"samples_per_s": rows * config.epochs / train_s, "train_s": train_s, "cpu_samples_per_s": rows * config.epochs / cpu,
            "final_f1": f1s[-1], "best_f1": max(f1s)}


def run_hf_tokens(train, evaluation, config) -> dict:
    """run_ner: labels on each word's first piece, -100 on the rest and on special tokens."""
    from datasets import Dataset
    from transformers import AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification, set_seed

    from core.models.embedded import encoder_path
    from core.tasks.metrics import entity_scores

    set_seed(config.seed)
    names = train.tag_names
    tokenizer = AutoTokenizer.from_pretrained(encoder_path())
    model = AutoModelForTokenClassification.from_pretrained(
        encoder_path(), num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})

    def as_dataset(data):
        enc = tokenizer(data.tokens, is_split_into_words=True, truncation=True, max_length=config.max_length)
        labels = []
        for i, tags in enumerate(data.tags):
            row, previous = [], None
            for word in enc.word_ids(i):
                row.append(-100 if word is None or word == previous else tags[word])
                previous = word
            labels.append(row)
        return Dataset.from_dict({**{k: enc[k] for k in enc.keys()}, "labels": labels})

    def compute_metrics(prediction):
        predicted = []
        for pred, gold, words in zip(prediction.predictions.argmax(-1), prediction.label_ids, evaluation.tokens):
            tags = [names[p] for p, y in zip(pred, gold) if y != -100]
            predicted.append(tags + ["O"] * (len(words) - len(tags)))
        return {"f1": entity_scores(evaluation.tag_strings(), predicted)["f1"]}

    return _hf_run(model, tokenizer, as_dataset(train), as_dataset(evaluation),
                   DataCollatorForTokenClassification(tokenizer), compute_metrics, config, len(train))


def run_hf_qa(train, evaluation, config, stride: int) -> dict:
    """run_qa: `prepare_train_features` for training; the best span over windows for scoring."""
    from datasets import Dataset
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, DataCollatorWithPadding, set_seed

    from core.models.embedded import encoder_path
    from core.tasks.metrics import squad_scores
    from core.tasks.spans import best_answers, encode_questions

    set_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(encoder_path())
    model = AutoModelForQuestionAnswering.from_pretrained(encoder_path())
    enc = tokenizer(train.questions, train.contexts, truncation="only_second", max_length=config.max_length,
                    stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    starts, ends = [], []
    for i, offsets in enumerate(enc["offset_mapping"]):
        cls_index = enc["input_ids"][i].index(tokenizer.cls_token_id)
        sequence = enc.sequence_ids(i)
        text, start_char = train.answers[enc["overflow_to_sample_mapping"][i]][0]
        end_char = start_char + len(text)
        first = sequence.index(1)
        last = len(sequence) - 1 - sequence[::-1].index(1)
        if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
            starts.append(cls_index), ends.append(cls_index)
            continue
        while first < len(offsets) and offsets[first][0] <= start_char:
            first += 1
        while offsets[last][1] >= end_char:
            last -= 1
        starts.append(first - 1), ends.append(last + 1)
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
    train_ds = Dataset.from_dict({**{k: enc[k] for k in keys}, "start_positions": starts, "end_positions": ends})
    # With their answer positions, so that the Trainer computes an evaluation loss and calls compute_metrics.
    features = encode_questions(tokenizer, evaluation.questions, evaluation.contexts, evaluation.answers,
                                config.max_length, stride)
    eval_ds = Dataset.from_dict({k: [f[k] for f in features] for k in (*keys[:-1], "start_positions", "end_positions")
                                 if k in features[0]})

    def compute_metrics(prediction):
        start_logits, end_logits = prediction.predictions
        answers = best_answers(features, list(zip(start_logits, end_logits)), evaluation.contexts)
        return {"f1": squad_scores([a[0] for a in answers], [[t for t, _ in g] for g in evaluation.answers])["f1"]}

    ours = encode_questions(tokenizer, train.questions, train.contexts, train.answers, config.max_length, stride)
    agree = sum((f["start_positions"], f["end_positions"]) == (s, e) for f, s, e in zip(ours, starts, ends))
    print(f"  run_qa windows: {len(starts)} (ours {len(ours)}); answer positions equal in {agree} of them", flush=True)
    return _hf_run(model, tokenizer, train_ds, eval_ds, DataCollatorWithPadding(tokenizer), compute_metrics, config,
                   len(starts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="all", choices=["tokens", "qa", "pairs", "all"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-reference", action="store_true", help="ours only (the test-split scores)")
    parser.add_argument("--record", action="store_true", help="write the test-split scores to core/data/task_scores.json")
    args = parser.parse_args()

    from core.tasks.sources import task_data
    from core.tasks.scores import SCORES_FILE
    from core.training.config import TrainConfig

    threads = torch.get_num_threads()
    recorded = json.loads(SCORES_FILE.read_text()) if SCORES_FILE.is_file() else {}
    for task in (["tokens", "qa", "pairs"] if args.task == "all" else [args.task]):
        source = task_data(task)
        train, evaluation, test = (source.builtin(s) for s in ("train", "validation", "test"))
        config = TrainConfig(seed=args.seed, **settings(task))
        print(f"{task}: {len(train)} train / {len(evaluation)} validation / {len(test)} test; {settings(task)}; "
              f"{threads} threads", flush=True)
        ours = run_ours(task, train, evaluation, test, config)
        print(f"  ours        {ours['samples_per_s']:7.2f} samples/s  {ours['train_s']:7.1f} s  "
              f"validation F1 final {ours['final_f1']:.3f} best {ours['best_f1']:.3f}; test {ours['test']}", flush=True)
        if task in ("tokens", "qa") and not args.no_reference:
            ref = run_hf_tokens(train, evaluation, config) if task == "tokens" else \
                run_hf_qa(train, evaluation, config, config.max_length // 4)
            print(f"  HF Trainer  {ref['samples_per_s']:7.2f} samples/s  {ref['train_s']:7.1f} s  "
                  f"validation F1 final {ref['final_f1']:.3f} best {ref['best_f1']:.3f}", flush=True)
            print(f"  ratio ours / HF Trainer: {ours['samples_per_s'] / ref['samples_per_s']:.2f}x samples/s (wall), "
                  f"{ours['cpu_samples_per_s'] / ref['cpu_samples_per_s']:.2f}x per CPU-second; "
                  f"F1 {ours['final_f1']:.3f} vs {ref['final_f1']:.3f} (final), {ours['best_f1']:.3f} vs "
                  f"{ref['best_f1']:.3f} (best)", flush=True)
        recorded[task] = {"test": {k: v for k, v in ours["test"].items() if k != "per_type"}, "train_s": round(ours["train_s"], 1),
                          "settings": settings(task), "train_rows": len(train), "test_rows": len(test),
                          "machine": f"{os.cpu_count()} cores, {platform.machine()}, {threads} torch threads",
                          "date": time.strftime("%Y-%m-%d")}
    if args.record:
        SCORES_FILE.write_text(json.dumps(recorded, indent=1, default=float) + "\n")
        print(f"recorded in {SCORES_FILE}")


if __name__ == "__main__":
    main()
