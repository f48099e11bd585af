"""`python -m core parity [--model M] [--json]`: does the from-scratch BERT equal transformers?"""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("parity", help="compare the from-scratch BERT with transformers on a few sentences")
    p.add_argument("--model", default="embedded", help="a BERT-type model choice (default: embedded)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.bert import from_transformers
    from core.bert.parity import compare, parity_batch
    from core.models.loading import get_model

    loaded = get_model(args.model)
    result = compare(loaded, parity_batch(loaded), from_transformers(loaded.model))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {'n/a (no trained MLM head)' if value is None else f'{value:.2e}'}")
    return 0
