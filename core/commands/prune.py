"""`python -m core prune --model DIR --heads 0,4,8 --sparsity 0.5 --eval builtin --json`.

Scores every attention head of a fine-tuned classifier (Michel et al. 2019: |gradient of the loss
with respect to a gate on the head|, summed over the scoring data), removes the N least important
heads for each N in `--heads`, and/or zeroes the smallest weights for each share in `--sparsity`,
then reports accuracy, size and single-text latency (and speed-up against the unpruned model) on
`--eval` (builtin: the built-in sentiment test split; heads are then scored on its validation split).
"""
from __future__ import annotations

from core.commands.distill import add_data_arguments
from core.progress import StderrReporter


def _numbers(text: str, kind, name: str) -> list:
    from core.errors import UserError

    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise UserError(f"{name} takes a comma-separated list of numbers, like 0,4,8 (got {text!r}).") from err


def register(sub) -> None:
    p = sub.add_parser("prune", help="prune attention heads / weights of a fine-tuned classifier and measure it")
    p.add_argument("--model", required=True, help="a fine-tuned classifier folder (e.g. runs/NAME)")
    add_data_arguments(p, train=False)
    p.add_argument("--score-on", help="CSV the head importance is computed on "
                                      "(default: built-in validation split, or --eval for a CSV)")
    p.add_argument("--heads", help="numbers of heads to remove, comma-separated, e.g. 0,4,8,16; 'auto': 6 points")
    p.add_argument("--sparsity", help="shares of encoder weights to zero, comma-separated, e.g. 0,0.5,0.9")
    p.add_argument("--random", action="store_true", help="also remove heads in random order (the control curve)")
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from core.models.loading import quiet_transformers

    from core.commands.distill import load_data
    from core.inputs.datasets import BUILTIN, builtin_sentiment, read_labelled_csv
    from core.models.classifiers import load_teacher
    from core.errors import UserError
    from core.training.pruning import sweep

    quiet_transformers()

    if not args.heads and not args.sparsity:
        raise UserError("Say what to prune: --heads 0,4,8 and/or --sparsity 0,0.5,0.9.")
    tokenizer, model = load_teacher(args.model)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    _, _, test = load_data(args, names)
    scoring = None
    if args.heads:
        if args.score_on:
            scoring = read_labelled_csv(args.score_on, args.text_column, args.label_column, names, name=f"'{args.score_on}'")
        else:
            scoring = builtin_sentiment("validation", names) if args.eval == BUILTIN else test
    counts = None if args.heads in (None, "auto") else _numbers(args.heads, int, "--heads")
    sparsities = _numbers(args.sparsity, float, "--sparsity") if args.sparsity else []
    result = {"model": args.model, **sweep(model, tokenizer, scoring, test, counts, sparsities,
                                           args.seed if args.random else None, args.max_length,
                                           StderrReporter(not args.quiet))}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for key in ("heads", "heads_random", "sparsity"):
        for row in result.get(key, []):
            what = f"{row['heads_removed']:>3} heads removed ({row['order']})" if key != "sparsity" \
                else f"sparsity {row['sparsity']:.0%}"
            print(f"{what:<34} accuracy {row['accuracy']:.3f}  params {row['nonzero_parameters']:>10,}  "
                  f"latency {row['latency_ms']:7.2f} ms  x{row['speedup']}")
    return 0
