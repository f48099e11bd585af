"""`python -m core neighbors TEXT --token I [--layer L] [--k K] [--model M] [--json]`: the corpus tokens
nearest (cosine) to token I of TEXT at layer L. The first call for a model builds its index (~10 s for
the embedded model) under runs/neighbours/.

JSON: {"tokens" (TEXT's, special tokens left out; --token indexes these), "token", "layer",
"neighbors": [{"sentence", "start", "end", "token", "word", "pos", "similarity"}, ...]}.
"""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("neighbors", help="nearest tokens of a built-in corpus at any layer (exBERT-style)")
    p.add_argument("text", help="the sentence")
    p.add_argument("--token", type=int, required=True, help="which token (0 = the first after [CLS])")
    p.add_argument("--layer", type=int, default=None, help="layer (0 = embeddings; default the last)")
    p.add_argument("--k", type=int, default=10, help="how many neighbours")
    p.add_argument("--model", default="embedded", help="model choice: embedded, a hub id or local:<folder>")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.layers.neighbours import build_index, check_query, nearest
    from core.layers.states import token_table
    from core.models.loading import get_model
    from core.progress import StderrReporter

    loaded = get_model(args.model)
    query = token_table(loaded, [args.text])
    layer = query.n_layers - 1 if args.layer is None else args.layer
    check_query(query, args.token, layer, args.k)  # before a first call spends seconds on the index
    index = build_index(loaded, reporter=StderrReporter(not args.quiet))
    found = nearest(index, query, args.token, layer, args.k)
    if args.json:
        print(json.dumps(found.to_json()))
        return 0
    print(f"{found.tokens[found.token]} at layer {found.layer}:")
    for n in found.neighbours:
        s, e = n.span
        print(f"  {n.similarity:.3f}  {n.pos or '':>5}  {n.sentence[:s]}[{n.sentence[s:e]}]{n.sentence[e:]}")
    return 0
