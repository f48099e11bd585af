"""`python -m core faithfulness --model M --eval CSV|builtin [--n N] [--steps S] [--json]`: which
explainer is most faithful for this classifier (comprehensiveness and sufficiency, random included).

JSON: {"n", "methods": {name: {"comprehensiveness", "± (s.e.)", "sufficiency"}}}, most comprehensive first.
"""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("faithfulness", help="measure how faithful each explainer is over a labelled set")
    p.add_argument("--model", required=True, help="a fine-tuned classifier (folder, local:runs/NAME or hub id)")
    p.add_argument("--eval", required=True, help="a CSV with a text column, or 'builtin' (built-in test split)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--n", type=int, default=50, help="how many texts (a seeded sample)")
    p.add_argument("--steps", type=int, default=50, help="integrated-gradients steps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def texts_to_measure(source: str, text_column: str, n: int) -> list[str]:
    """A seeded sample of `n` texts from the built-in test split or a CSV's text column."""
    import pandas as pd

    from core.errors import UserError
    from core.inputs.datasets import builtin_sentiment

    if n < 1:
        raise UserError("--n must be at least 1.")
    if source == "builtin":
        return builtin_sentiment("test").sample(n).texts
    try:
        frame = pd.read_csv(source)
    except (OSError, ValueError) as err:
        raise UserError(f"Cannot read '{source}' as a CSV: {str(err).splitlines()[0]}") from err
    if text_column not in frame.columns:
        raise UserError(f"'{source}' has no column '{text_column}' (it has {', '.join(map(str, frame.columns))}).")
    texts = [t for t in frame[text_column].dropna().astype(str) if t.strip()]
    return texts[:n] if len(texts) <= n else list(pd.Series(texts).sample(n, random_state=0))


def run(args) -> int:
    from core.explain.faithfulness import dataset_faithfulness
    from core.models.classifiers import open_classifier
    from core.progress import StderrReporter

    texts = texts_to_measure(args.eval, args.text_column, args.n)
    result = dataset_faithfulness(open_classifier(args.model), texts, steps=args.steps,
                                  reporter=StderrReporter(not args.quiet))
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    print(f"{'method':<12}{'comprehensiveness':>20}{'sufficiency':>14}   ({result.n} texts)")
    for row in result.table():
        print(f"{row['method']:<12}{row['comprehensiveness']:>14.3f} ±{row['± (s.e.)']:.3f}{row['sufficiency']:>14.3f}")
    return 0
