"""`python -m core download MODEL [MODEL ...] [--json]`: prepare a classroom without internet.

Run it while online: each hub model's safetensors weights, config and tokenizer (nothing else)
go into the Hugging Face cache (HF_HOME / HF_HUB_CACHE). Offline, those models load from the cache
and the sidebar marks them "available offline". One JSON line per model with `--json`
({"model", "files", "mb", "path"}); a model that can't be fetched stops with one line, exit 2.
"""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("download", help="fetch hub models (safetensors + config + tokenizer) for offline use")
    p.add_argument("models", nargs="+", help="hub ids, e.g. bert-base-uncased distilbert-base-uncased")
    p.add_argument("--json", action="store_true", help="one JSON line per model")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.models.hub_cache import download

    for model in args.models:
        got = download(model)
        print(json.dumps(got) if args.json else f"{got['model']}: {len(got['files'])} files, {got['mb']} MB in {got['path']}",
              flush=True)
    return 0
