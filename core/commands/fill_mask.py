"""`python -m core fill-mask TEXT | --file FILE [--model M] [--top-k K] [--json]`.

One JSON object per input: {"model": ..., "masks": [[{"token", "score"}, ...], ...]}, one list per
mask in sentence order, scores are probabilities. With --file, all lines run batched in one
process; a line that cannot be read gets {"model": ..., "error": ...} and the exit code is 2.
"""
from __future__ import annotations

import json
import sys

from core.commands import add_text_or_file, read_lines


def register(sub) -> None:
    p = sub.add_parser("fill-mask", help="predict the words behind [MASK] (top-k per mask)")
    add_text_or_file(p, "a sentence with [MASK] (or <mask>)")
    p.add_argument("--model", default="embedded", help="model choice (default: embedded)")
    p.add_argument("--top-k", type=int, default=5, help="predictions per mask (default 5)")
    p.set_defaults(func=run)


def _show(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json()))
        return
    for note in result.masked.notes:
        print(f"note: {note}", file=sys.stderr)
    print(result.filled)
    for i, preds in enumerate(result.predictions, 1):
        print(f"  mask {i}: " + ", ".join(f"{p.token} {p.score:.3f}" for p in preds))


def run(args) -> int:
    from core.errors import UserError
    from core.explain.masked import fill_masks, prepare, require_mlm
    from core.models.loading import get_model

    if args.top_k < 1:
        raise UserError("--top-k must be at least 1.")
    loaded = get_model(args.model)
    require_mlm(loaded)
    texts = [args.text] if args.file is None else read_lines(args.file)
    prepared, errors = [], {}
    for i, text in enumerate(texts):
        try:
            prepared.append(prepare(loaded, text))
        except UserError as err:
            errors[i] = str(err)
    if args.file is None and errors:
        raise UserError(errors[0])
    results = iter(fill_masks(loaded, prepared, args.top_k))
    for i in range(len(texts)):
        if i in errors:
            if args.json:
                print(json.dumps({"model": loaded.choice, "error": errors[i]}))
            else:
                print(f"line {i + 1}: error: {errors[i]}")
        else:
            _show(next(results), args.json)
    if errors:
        print(f"error: {len(errors)} of {len(texts)} lines could not be read (first: line "
              f"{min(errors) + 1}: {errors[min(errors)]})", file=sys.stderr)
        return 2
    return 0
