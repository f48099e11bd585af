"""`python -m core vendor-js [--json]`: fetch bertviz's JavaScript libraries for offline use."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("vendor-js", help="fetch require.js, d3 and jQuery from npm into vendor_js/ "
                                         "so bertviz views work offline")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.offline.vendor_js import VENDOR_DIR, fetch

    manifest = fetch()
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        for name, entry in manifest.items():
            print(f"{name} {entry['version']}: {VENDOR_DIR / entry['file']} ({entry['bytes']:,} bytes)")
    return 0
