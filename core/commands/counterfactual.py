"""`python -m core counterfactual TEXT | --file FILE --model M [--max-edits K] [--suggester S] [--json]`:
the fewest word substitutions that change a classifier's label.

JSON: {"original": {"text", "label", "probability"}, "flips": [{"text", "label", "probability",
"edits": [[old, new], ...]}], "tried"}.
"""
from __future__ import annotations

import json

from core.commands import add_text_or_file, each_text


def register(sub) -> None:
    p = sub.add_parser("counterfactual", help="find small word edits that flip a classifier's label")
    add_text_or_file(p, "the sentence to flip")
    p.add_argument("--model", required=True, help="a fine-tuned classifier (folder, local:runs/NAME or hub id)")
    p.add_argument("--max-edits", type=int, default=2, help="most words changed in one counterfactual (1-3)")
    p.add_argument("--suggester", default="embedded", help="the MLM that proposes replacement words")
    p.set_defaults(func=run)


def _show(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json()))
        return
    print(f"{result.label} ({result.probability:.3f}): {result.text}")
    if not result.flips:
        print(f"  no flip found among {result.tried} edited sentences")
    for flip in result.flips:
        edits = ", ".join(f"{old} -> {new}" for _, old, new in flip.edits)
        print(f"  {flip.label} ({flip.probability:.3f}) [{edits}]: {flip.text}")


def run(args) -> int:
    from core.explain.counterfactual import counterfactuals
    from core.models.classifiers import open_classifier
    from core.models.loading import get_model

    classifier, suggester = open_classifier(args.model), get_model(args.suggester)
    return each_text(args, lambda text: counterfactuals(classifier, suggester, text, args.max_edits),
                     lambda r: _show(r, args.json))
