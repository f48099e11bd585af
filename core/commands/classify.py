"""`python -m core classify TEXT --model DIR [--json]`: a fine-tuned classifier's label and scores."""
from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("classify", help="classify a text with a fine-tuned model folder")
    p.add_argument("text")
    p.add_argument("--model", required=True, help="a folder written by `finetune` (or local:runs/NAME)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.models.classifiers import classify, load_classifier

    folder = args.model.removeprefix("local:")
    label, scores, notice = classify(load_classifier(folder), args.text)
    if notice:
        print(f"note: {notice}", file=sys.stderr)
    if args.json:
        print(json.dumps({"label": label, "scores": scores}))
    else:
        print(label)
        for name, p in sorted(scores.items(), key=lambda kv: -kv[1]):
            print(f"  {name}: {p:.3f}")
    return 0
