"""`python -m core augment-csv IN.csv OUT.csv --method NAME [--n N] [--text-column C] [--label-column L]`."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("augment-csv", help="augment every row of a CSV N times, keep labels, drop duplicates")
    p.add_argument("input", type=Path, help="CSV with a header row")
    p.add_argument("output", type=Path, help="where to write the augmented CSV")
    p.add_argument("--method", required=True, help="a technique, 'a+b' or 'sometimes:a+b' (see augment --list)")
    p.add_argument("--n", type=int, default=1, help="augmented copies per row (default 1)")
    p.add_argument("--strength", type=float, default=0.2, help="share of words to change (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same output")
    p.add_argument("--text-column", default="text", help="column with the text (default 'text')")
    p.add_argument("--label-column", default=None, help="column with the label (rows without one are dropped)")
    p.add_argument("--all-splits", action="store_true",
                   help="also augment validation/test rows when there is a 'split' column")
    p.add_argument("--model", default=None, help="model for contextual techniques (default: embedded)")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.augment.techniques import CONTEXTUAL, parse_recipe
    from core.augment.dataset import augment_csv
    from core.models.loading import EMBEDDED, get_model

    recipe = parse_recipe(args.method)
    loaded = get_model(args.model or EMBEDDED) if set(recipe.steps) & set(CONTEXTUAL) else None

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{done}/{total} rows", end="", file=sys.stderr, flush=True)

    result = augment_csv(args.input, args.text_column, args.label_column, recipe, n=args.n,
                         strength=args.strength, seed=args.seed, loaded=loaded,
                         train_only=not args.all_splits, progress=progress)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    result.frame.to_csv(args.output, index=False)
    summary = {**result.summary(), "output": str(args.output)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['original_rows']} rows + {summary['new_rows']} new "
              f"({summary['duplicates_dropped']} duplicates dropped) -> {summary['output_rows']} rows in {args.output}")
    return 0
