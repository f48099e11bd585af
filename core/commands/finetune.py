"""`python -m core finetune --train T.csv --eval E.csv ... --json`: fine-tune a classifier.

`--task` picks BERT's fine-tuning shape: `sentences` (a CSV of text,label), `pairs` (a CSV of
text_a,text_b,label), `tokens` (CoNLL columns or JSONL {"tokens", "tags"}) or `qa` (SQuAD JSON or
JSONL {"context", "question", "answers"}). `--train builtin` / `--eval builtin` use the task's
built-in train / validation splits; without `--eval`, 20% of the training rows are held out. Runs the same under
`accelerate launch [--cpu --num_processes N] -m core finetune ...`: only the main process saves
and prints. The last stdout line with `--json` is
{"task", "accuracy", "f1", "train_s", "train_samples_per_s", "out"} on the evaluation data, best checkpoint.
"""
from __future__ import annotations

import json
import os
import time

from core.commands import add_config_arguments, config_from_args
from core.progress import StderrReporter
from core.tasks.heads import TASKS
from core.training.config import METRICS, PRECISIONS, TrainConfig


def register(sub) -> None:
    p = sub.add_parser("finetune", help="fine-tune a model for sentences, pairs, tokens (entities) or qa (built-in data or files)")
    p.add_argument("--task", default="sentences", choices=TASKS, help="what the new head predicts (default: sentences)")
    p.add_argument("--train", required=True, help="training file, or 'builtin' (the task's built-in train split)")
    p.add_argument("--eval", help="evaluation file, or 'builtin' (validation split); default: 20%% of --train")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--model", default="embedded", help="embedded, a hub id, or local:runs/NAME")
    add_config_arguments(p, TrainConfig(), flags={"warmup_ratio": "--warmup"},
                         choices={"precision": PRECISIONS, "metric": METRICS}, helps={
                             "grad_accum": "micro-batches per optimizer step",
                             "patience": "evaluations without improvement before stopping (0: off)",
                             "eval_every": "optimizer steps between evaluations (0: each epoch)",
                             "warmup_ratio": "warmup as a fraction of all steps",
                             "metric": "the validation metric that picks the best checkpoint"})
    p.add_argument("--out", help="output folder (default runs/<model>-<data>-<time>)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def load_task_data(args):
    """(train, eval) of a pairs, tokens or qa task from the arguments."""
    from core.inputs.datasets import BUILTIN
    from core.tasks.sources import hold_out, task_data

    source = task_data(args.task)
    train = source.builtin("train") if args.train == BUILTIN else source.read(args.train, None, f"'{args.train}'")
    names = getattr(train, "label_names", None) or getattr(train, "tag_names", None)
    if args.eval == BUILTIN or (args.eval is None and args.train == BUILTIN):
        return train, source.builtin("validation")
    if args.eval:
        return train, source.read(args.eval, names, f"'{args.eval}'")
    return hold_out(train, 0.2, args.seed)


def load_data(args):
    """(train, eval) from the arguments: LabelledTexts, or the other tasks' data types."""
    from core.inputs.datasets import BUILTIN, builtin_sentiment, read_labelled_csv, split_validation

    if args.task != "sentences":
        return load_task_data(args)
    if args.train == BUILTIN:
        train = builtin_sentiment("train")
    else:
        train = read_labelled_csv(args.train, args.text_column, args.label_column, name=f"'{args.train}'")
    if args.eval == BUILTIN:
        evaluation = builtin_sentiment("validation", train.label_names)
    elif args.eval:
        evaluation = read_labelled_csv(args.eval, args.text_column, args.label_column, train.label_names,
                                       name=f"'{args.eval}'")
    elif args.train == BUILTIN:
        evaluation = builtin_sentiment("validation", train.label_names)
    else:
        train, evaluation = split_validation(train, 0.2, args.seed)
    return train, evaluation


def default_out(model: str, train: str):
    from pathlib import Path

    from core.models.loading import RUNS_DIR

    clean = lambda s: "".join(c if c.isalnum() or c in "-_" else "-" for c in Path(s.removeprefix("local:")).stem)[:40]  # noqa: E731
    return RUNS_DIR / f"{clean(model)}-{clean(train)}-{time.strftime('%Y%m%d-%H%M%S')}"


def run(args) -> int:
    import torch

    from core.training.finetune import finetune
    from core.training.kit import sensible_threads

    torch.set_num_threads(sensible_threads())
    config = config_from_args(TrainConfig, args)
    config.validate()
    train, evaluation = load_data(args)
    out = args.out or default_out(args.model, args.train)
    # Accelerate decides which process is the main one only once the trainer starts it.
    main = int(os.environ.get("RANK", "0")) == 0
    result = finetune(args.model, train, evaluation, config, StderrReporter(main and not args.quiet), out)
    if result.main_process:
        summary = result.summary()
        if args.json:
            print(json.dumps(summary))
        else:
            for key, value in summary.items():
                print(f"{key}: {value}")
    return 0
