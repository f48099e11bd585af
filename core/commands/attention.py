"""`python -m core attention TEXT [--pair TEXT_B] [--model M] --json`: per-head attention statistics."""
from __future__ import annotations

import json

from core.commands import add_sentence_arguments


def register(sub) -> None:
    p = sub.add_parser("attention", help="attention statistics of every head for a sentence (or a pair)")
    add_sentence_arguments(p, "the sentence (sentence A of a pair)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from core.explain.attention import STATS, compute_attention, result_stats, stats_records, top_head
    from core.models.loading import get_model

    result = compute_attention(get_model(args.model), args.text, args.pair)
    if result.notice:
        print(f"note: {result.notice}", file=sys.stderr)
    stats = result_stats(result)
    if args.json:
        print(json.dumps({"tokens": result.tokens, "layers": result.layers, "heads": result.heads,
                          "stats": stats_records(stats)}))
        return 0
    print(f"{result.n} tokens: {' '.join(result.tokens)}")
    print(f"{result.layers} layers x {result.heads} heads. Most extreme heads:")
    for name in STATS:
        layer, head, value = top_head(stats, name, lowest=(name == "entropy"))
        kind = "lowest" if name == "entropy" else "highest"
        print(f"  {name:>8} ({kind}): layer {layer} head {head} = {value:.3f}")
    return 0
