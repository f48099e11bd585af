"""`python -m core augment TEXT --method NAME [--n N] [--seed S] [--model M] --json`, or `--list`."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("augment", help="augment one text with an nlpaug technique or the model (--list: techniques)")
    p.add_argument("text", nargs="?", help="the text to augment")
    p.add_argument("--method", help="a technique, 'a+b' (nlpaug Sequential) or 'sometimes:a+b'")
    p.add_argument("--n", type=int, default=3, help="variations to make (default 3)")
    p.add_argument("--strength", type=float, default=0.2, help="share of words to change (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same output")
    p.add_argument("--model", default=None, help="model for contextual techniques (default: embedded)")
    p.add_argument("--list", action="store_true", help="list the techniques and whether they work here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.augment.techniques import CONTEXTUAL, augment_sentence, list_techniques, parse_recipe
    from core.errors import UserError
    from core.models.loading import EMBEDDED, get_model

    if args.list:
        rows = list_techniques(get_model(args.model or EMBEDDED))
        if args.json:
            print(json.dumps([{k: r[k] for k in ("name", "offline", "reason")} for r in rows], indent=2))
        else:
            for r in rows:
                print(f"{r['name']:<22} {'ok' if not r['reason'] else 'unavailable: ' + r['reason']}")
        return 0
    if not args.method:
        raise UserError("Give --method NAME (see `python -m core augment --list`).")
    if args.text is None:
        raise UserError("Give the text to augment (in quotes).")
    recipe = parse_recipe(args.method)
    loaded = get_model(args.model or EMBEDDED) if set(recipe.steps) & set(CONTEXTUAL) else None
    outputs = augment_sentence(args.text, recipe, args.n, args.strength, args.seed, loaded)
    if args.json:
        print(json.dumps({"method": recipe.name, "outputs": outputs}, ensure_ascii=False))
    else:
        print("\n".join(outputs))
    return 0
