"""`python -m core explain TEXT | --file FILE --model M [--method ...] [--steps N] [--baseline pad|mask]
[--target LABEL | --mask-word W] [--json]`: which words made the model say it, by five explainers.

JSON: {"model", "label", "probability", "words": [...], "methods": {name: [score per word]},
"completeness_gap", "notes"}. With --mask-word W the explained probability is the MLM head's for W
at the text's one [MASK] (`--mask-word ""`: its top guess); --model then defaults to embedded and
--target does not apply.
"""
from __future__ import annotations

import json
import sys

from core.commands import add_text_or_file, each_text

METHOD_CHOICES = ("ig", "grad-input", "occlusion", "attention", "rollout", "all")


def register(sub) -> None:
    p = sub.add_parser("explain", help="attribute a prediction to the input words (IG, occlusion, attention…)")
    add_text_or_file(p, "the sentence to explain")
    p.add_argument("--model", default=None, help="a fine-tuned classifier (folder, local:runs/NAME or hub id); "
                   "with --mask-word, any model with an MLM head (default embedded)")
    p.add_argument("--method", choices=METHOD_CHOICES, default="all")
    p.add_argument("--steps", type=int, default=50, help="integrated-gradients steps (1-1000)")
    p.add_argument("--baseline", choices=("pad", "mask"), default="pad", help="IG baseline token")
    p.add_argument("--target", default=None, help="the label to explain (default: the predicted one)")
    p.add_argument("--mask-word", default=None, help="explain this word's probability at the [MASK]")
    p.set_defaults(func=run)


def explained_model(args, masked: bool):
    """The model `--model` names: a classifier, or (masked words) any model with an MLM head."""
    from core.errors import UserError
    from core.models.classifiers import open_classifier
    from core.models.loading import get_model

    if masked:
        return get_model(args.model or "embedded")
    if not args.model:
        raise UserError("Name a fine-tuned classifier with --model (see `python -m core finetune`), "
                        "or explain a masked word with --mask-word.")
    return open_classifier(args.model)


def _show(explanation, as_json: bool) -> None:
    if as_json:
        print(json.dumps(explanation.to_json()))
        return
    for note in explanation.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{explanation.target.name} ({explanation.probability:.3f})")
    width = max(len(w) for w in explanation.words.words)
    print(" " * width + "".join(f"{m:>12}" for m in explanation.scores))
    for i, word in enumerate(explanation.words.words):
        print(word.ljust(width) + "".join(f"{s[i]:>12.4f}" for s in explanation.scores.values()))
    if explanation.completeness is not None:
        print(f"IG completeness gap: {explanation.completeness.gap:.2%}")


def run(args) -> int:
    from core.errors import UserError
    from core.explain.attributions import METHODS, check_settings, explain
    from core.explain.targets import choose_target

    methods = METHODS if args.method == "all" else (args.method,)
    check_settings(args.steps, args.baseline, methods)
    masked = args.mask_word is not None
    if masked and args.target:
        raise UserError("--target names a classifier's label; with --mask-word the word is the target.")
    loaded = explained_model(args, masked)

    def work(text: str):
        target = choose_target(loaded, text, args.target, args.mask_word, masked)
        return explain(loaded, text, target, methods, args.steps, args.baseline)

    return each_text(args, work, lambda e: _show(e, args.json))
