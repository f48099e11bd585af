"""`python -m core distill --teacher DIR --student-layers K ... --json`: distil a fine-tuned classifier.

The student keeps K of the teacher's encoder layers and learns from its temperature-softened
probabilities plus the gold labels; the same student trained on labels alone is the baseline.
`--train builtin` uses the built-in sentiment train split (validation split picks the best epoch);
`--eval builtin` scores everything on its test split. With `--json` stdout is
{"rows": [{"model", "layers", "accuracy", "f1", "parameters", "size_mb", "latency_ms", "speedup"}, ...],
"config": {...}, "out": folder or null}.
"""
from __future__ import annotations

from core.commands import add_config_arguments, config_from_args
from core.progress import StderrReporter
from core.training.config import LAYER_CHOICES, DistillConfig


def register(sub) -> None:
    p = sub.add_parser("distill", help="distil a fine-tuned classifier into a smaller student")
    p.add_argument("--teacher", required=True, help="a fine-tuned classifier folder (e.g. runs/NAME)")
    add_data_arguments(p, train=True)
    add_config_arguments(p, DistillConfig(), choices={"layer_choice": LAYER_CHOICES}, helps={
        "student_layers": "encoder layers the student keeps",
        "layer_choice": "keep K layers spread over the depth (first and last included), or the first K",
        "temperature": "softmax temperature T of the soft targets",
        "alpha": "weight of the teacher's soft targets (0..1)"})
    p.add_argument("--no-baseline", action="store_true", help="skip training the student alone")
    p.add_argument("--out", help="save the distilled student to this folder")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def add_data_arguments(p, train: bool) -> None:
    if train:
        p.add_argument("--train", default="builtin", help="training CSV, or 'builtin' (built-in sentiment)")
    p.add_argument("--eval", default="builtin", help="evaluation CSV, or 'builtin' (built-in sentiment, test split)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")


def load_data(args, label_names=None):
    """(train, validation, test) for distill; (None, None, test) when there is no --train."""
    from core.inputs.datasets import BUILTIN, builtin_sentiment, read_labelled_csv, split_validation

    train = validation = None
    if getattr(args, "train", None) == BUILTIN:
        train = builtin_sentiment("train", label_names)
        validation = builtin_sentiment("validation", train.label_names)
    elif getattr(args, "train", None):
        train = read_labelled_csv(args.train, args.text_column, args.label_column, label_names, name=f"'{args.train}'")
        train, validation = split_validation(train, 0.2, getattr(args, "seed", 0))
    names = train.label_names if train is not None else label_names
    if args.eval == BUILTIN:
        test = builtin_sentiment("test", names)
    else:
        test = read_labelled_csv(args.eval, args.text_column, args.label_column, names, name=f"'{args.eval}'")
    return train, validation, test




def run(args) -> int:
    from core.models.loading import quiet_transformers

    from core.training.distill import distill, to_json
    from core.models.classifiers import load_teacher

    quiet_transformers()

    tokenizer, teacher = load_teacher(args.teacher)
    label_names = [teacher.config.id2label[i] for i in range(teacher.config.num_labels)]
    train, validation, test = load_data(args, label_names)
    config = config_from_args(DistillConfig, args)
    result = distill(teacher, tokenizer, train, validation, test, config, StderrReporter(not args.quiet),
                     baseline=not args.no_baseline, out_dir=args.out, teacher_name="teacher")
    if args.json:
        print(to_json(result))
    else:
        for row in result["rows"]:
            print(f"{row['model']:<22} layers {row['layers']:>2}  accuracy {row['accuracy']:.3f}  "
                  f"size {row['size_mb']:7.1f} MB  latency {row['latency_ms']:7.2f} ms  x{row['speedup']}")
        if result["out"]:
            print(f"student saved to {result['out']}")
    return 0
