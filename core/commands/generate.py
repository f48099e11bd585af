"""`python -m core generate PROMPT --model DIR [--max-new N] [--temperature T] [--top-k K] [--seed S] [--json]`:
continue a text with a decoder the lab trained (its "decoder vs encoder" tab).

JSON: {"prompt", "text", "steps": [{"token", "probability", "candidates": [[token, p], …]}]}: each
generated token, its probability and the ten likeliest tokens of the distribution it was sampled from.
"""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("generate", help="continue a text with a decoder trained in the lab")
    p.add_argument("prompt")
    p.add_argument("--model", required=True, help="the decoder's folder (runs/…/decoder)")
    p.add_argument("--max-new", type=int, default=20, help="new tokens at most (1-200)")
    p.add_argument("--temperature", type=float, default=1.0, help="> 0; below 1 sharper, above 1 flatter")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest tokens (0 = all, 1 = greedy)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.errors import UserError
    from core.training.twins import generate, load_twin

    model, tokenizer, objective = load_twin(args.model)
    if objective != "decoder":
        raise UserError(f"'{args.model}' is the lab's {objective}: it fills gaps ([MASK]) and cannot continue a "
                        "text; pass its decoder twin's folder.")
    text, steps = generate(model, tokenizer, args.prompt, args.max_new, args.temperature, args.top_k, args.seed)
    if args.json:
        print(json.dumps({"prompt": args.prompt, "text": text, "steps": [
            {"token": s.token, "probability": s.probability, "candidates": s.candidates} for s in steps]}))
    else:
        print(text)
    return 0
