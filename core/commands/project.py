"""`python -m core project TEXT... [--senses] [--layer L|all] [--method pca|umap] [--dims 2|3] [--model M] [--json]`:
every token's position at every layer in 2-D/3-D, aligned across layers (the Layers page's projector).

JSON: {"tokens", "sentence" (of each token), "layers": {L: [[x, y], ...]}, "explained" (PCA), "similarity"
(with --senses: per built-in word, the cosine of its two senses and within one sense at every layer), "notes"}.
"""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("project", help="token vectors of every layer in 2-D/3-D (PCA or UMAP), aligned")
    p.add_argument("text", nargs="*", help="sentences (each argument one sentence)")
    p.add_argument("--senses", action="store_true", help="add the built-in words in two senses (bank, bat, ...)")
    p.add_argument("--layer", default="all", help="a layer (0 = embeddings) or 'all'")
    p.add_argument("--method", choices=("pca", "umap"), default="pca")
    p.add_argument("--dims", type=int, choices=(2, 3), default=2)
    p.add_argument("--model", default="embedded", help="model choice: embedded, a hub id or local:<folder>")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.errors import UserError
    from core.layers.projector import MAX_SENTENCES, project
    from core.layers.senses import sense_sentences, sense_similarity
    from core.layers.states import check_layer, clean_sentences, token_table
    from core.models.loading import get_model

    sentences, notes = clean_sentences([*args.text, *(sense_sentences() if args.senses else [])], MAX_SENTENCES)
    table = token_table(get_model(args.model), sentences)
    if args.layer == "all":
        layers = list(range(table.n_layers))
    elif args.layer.isdigit():
        layers = [check_layer(int(args.layer), table.n_layers)]
    else:
        raise UserError(f"--layer takes a layer number or 'all', not '{args.layer}'.")
    shown = project(table, args.method, args.dims)
    out = {"tokens": [table.tokens[r] for r in shown.rows], "sentence": table.sentence[shown.rows].tolist(),
           "layers": {layer: shown.points[layer].round(4).tolist() for layer in layers},
           "explained": {layer: shown.explained[layer] for layer in layers} if shown.explained else None,
           "similarity": sense_similarity(table).to_json() if args.senses else {},
           "notes": notes + table.notes + shown.notes}
    if args.json:
        print(json.dumps(out))
        return 0
    for note in out["notes"]:
        print(f"note: {note}")
    for layer in layers:
        print(f"layer {layer}: " + "  ".join(f"{t} ({x:+.2f}, {y:+.2f})" for t, (x, y, *_z)
                                           in zip(out["tokens"], out["layers"][layer])))
    for word, sims in out["similarity"].items():
        print(f"{word} ({' vs '.join(sims['senses'])}): across " + " ".join(f"{v:.2f}" for v in sims["across"])
              + " | within " + " ".join(f"{v:.2f}" for v in sims["within"]))
    return 0
