"""`python -m core info [--json]`: versions, device, offline state and the models on offer."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("info", help="versions, device, offline state and available models")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.models.loading import environment_info

    info = environment_info()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0
