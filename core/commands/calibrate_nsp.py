"""`python -m core calibrate-nsp --source SOURCES [--pairs N] [--adapter PATH] [--out PATH] [--json]`:
refit the embedded model's next-sentence classifier on single-sentence pairs of its training text
(the encoder frozen; core/training/nsp_calibration.py). The shipped adapter was calibrated this way
(MODEL_CARD.md gives the command); evaluation text is never used.

JSON: {"strength", "held_out_before", "held_out_after", "pairs", "held_out_pairs", "out"}.
"""
from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    from core.models.embedded import ADAPTER

    p = sub.add_parser("calibrate-nsp", help="refit the embedded NSP classifier on pairs of its training text")
    p.add_argument("--source", required=True, help="the training text, as for `pretrain --source`")
    p.add_argument("--pairs", type=int, default=16_000, help="training pairs (spread over the sources)")
    p.add_argument("--held-out-pairs", type=int, default=3_000, help="pairs of held-out documents that choose the fit")
    p.add_argument("--adapter", type=Path, default=ADAPTER, help="the adapter to start from")
    p.add_argument("--out", type=Path, default=None, help="where to write the new adapter (default: --adapter)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.errors import UserError
    from core.inputs.corpus import load_sources
    from core.models.embedded import load_embedded
    from core.models.loading import quiet_transformers
    from core.progress import StderrReporter
    from core.training.nsp_calibration import calibrate, write_head

    if args.pairs < 100 or args.held_out_pairs < 100:
        raise UserError("Use at least 100 pairs and 100 held-out pairs.")
    if not args.adapter.is_file():
        raise UserError(f"{args.adapter} is not an adapter file.")
    quiet_transformers()
    sources = load_sources(args.source)
    tokenizer, model, _missing = load_embedded(args.adapter)
    found = calibrate(tokenizer, model, sources, args.pairs, args.held_out_pairs, reporter=StderrReporter(not args.quiet))
    out = args.out or args.adapter
    write_head(args.adapter, out, found, f"source {args.source}")
    result = {"strength": found.strength, "held_out_before": round(found.before, 4),
              "held_out_after": round(found.after, 4), "pairs": found.n_train, "held_out_pairs": found.n_held_out,
              "out": str(out)}
    print(json.dumps(result) if args.json else
          f"NSP on held-out pairs of the training text: {found.before:.1%} -> {found.after:.1%} "
          f"(C={found.strength}, {found.n_train:,} pairs); wrote {out}")
    return 0
