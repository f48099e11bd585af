"""`python -m core tokenize TEXT [--pair TEXT_B] [--model M] [--json]`: what the model reads.

JSON: {"tokens": [...], "ids": [...], "segments": [...], "positions": [...]}, lists of equal
length. Positions are the rows of the position table the model uses (RoBERTa's start at
padding_idx + 1); segments are the token type ids it is given (0 where it has none).
"""
from __future__ import annotations

import json
import sys

from core.commands import add_sentence_arguments


def register(sub) -> None:
    p = sub.add_parser("tokenize", help="the pieces, ids, segment and position ids a model reads")
    add_sentence_arguments(p, "the sentence (sentence A of a pair)")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.models.loading import get_model
    from core.explain.tokens import tokenize

    tokenized = tokenize(get_model(args.model), args.text, args.pair)
    if tokenized.notice:
        print(f"note: {tokenized.notice}", file=sys.stderr)
    if args.json:
        print(json.dumps(tokenized.as_dict(), ensure_ascii=False))
        return 0
    print(f"{'piece':<20} {'id':>7} {'segment':>7} {'position':>8}")
    for p in tokenized.pieces:
        print(f"{p.token:<20} {p.id:>7} {p.segment:>7} {p.position:>8}")
    return 0
