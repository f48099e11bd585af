"""`python -m core ensemble (--models A,B,… | --train-members N) [--method mean|vote|stack|all] [--folds K] [--json]`:
several classifiers combined, scored on the built-in test split.

JSON: the ensemble report (core.training.ensemble.report: members, best_member, mean, vote,
oracle, agreement…), plus "stack" and "weights" (how much the meta-classifier trusts each
member) when stacking. Stacking trains its members itself (`--train-members`), fold by fold, so
that the meta-classifier learns only from predictions on texts a member never saw.
"""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("ensemble", help="combine classifiers by mean, vote or stacking (built-in test split)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--models", help="comma-separated fine-tuned classifier folders (mean and vote)")
    who.add_argument("--train-members", type=int, help="train this many small members (2 layers of MiniLM, one seed each)")
    p.add_argument("--method", choices=("mean", "vote", "stack", "all"), default="all")
    p.add_argument("--folds", type=int, default=5, help="stacking: folds of the training split")
    p.add_argument("--layers", type=int, default=2, help="trained members: encoder layers kept")
    p.add_argument("--epochs", type=int, default=2, help="trained members: epochs")
    p.add_argument("--base", default="embedded", help="trained members: the model they start from")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.errors import UserError
    from core.inputs.datasets import builtin_sentiment
    from core.progress import StderrReporter, SubProgress
    from core.training.ensemble import evaluate_members, member_fit, report
    from core.training.stacking import stack

    reporter = StderrReporter(not args.quiet)
    train = builtin_sentiment("train")
    validation, test = (builtin_sentiment(s, train.label_names) for s in ("validation", "test"))
    weights = None
    if args.models:
        if args.method == "stack":
            raise UserError("Stacking needs predictions on texts each member never saw, which saved models "
                            "cannot give: use --train-members N to let it train them fold by fold.")
        probs, stacked = evaluate_members(args.models.split(","), test, reporter=reporter), None
    else:
        if not 2 <= args.train_members <= 8:
            raise UserError("Train between 2 and 8 members.")
        members = {f"member-{s}": member_fit(validation, s, args.layers, args.epochs, args.base)
                   for s in range(args.train_members)}
        if args.method in ("stack", "all"):
            stacker, probs, stacked = stack(members, train, test, args.folds, reporter=reporter)
            weights = stacker.weights()
        else:  # no meta-classifier to teach: each member trains once
            probs = {name: fit(train, SubProgress(reporter, i / len(members), (i + 1) / len(members)))(test)
                     for i, (name, fit) in enumerate(members.items())}
            stacked = None
    result = report(probs, test.labels, stacked)
    if weights is not None:
        result["weights"] = weights
    if args.json:
        print(json.dumps(result))
        return 0
    for m in result["members"]:
        print(f"{m['model']:<24}{m['accuracy']:.3f}")
    for method in ("mean", "vote", "stack"):
        if method in result and args.method in (method, "all"):
            print(f"{'ensemble (' + method + ')':<24}{result[method]['accuracy']:.3f}  "
                  f"fixed {result[method]['fixed']}, broke {result[method]['broken']}")
    print(f"{'oracle':<24}{result['oracle']:.3f}")
    for w in weights or []:
        print(f"  stacking trusts {w['member']}: {w['share']:.0%} of the weight")
    return 0
