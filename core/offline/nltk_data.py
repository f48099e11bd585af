"""NLTK's WordNet and POS tagger, offline: built once into the project's `nltk_data/` folder.

nlpaug's synonym and antonym augmenters need WordNet and NLTK's averaged-perceptron tagger, and
would call `nltk.download` (the network) when either is missing. No PyPI package ships NLTK
data, so `python -m core setup-nltk` builds it from what Debian and PyPI do ship:

- WordNet 3.0 from Debian's `wordnet-base` + `wordnet-sense-index` (/usr/share/wordnet), copied
  (NLTK refuses symlinks out of its data roots) plus the `lexnames` file Debian leaves out;
- the tagger from `textblob-aptagger` 0.2.0 (MIT, the same averaged perceptron NLTK uses),
  its pickle read with an unpickler that only admits dicts and sets, saved as NLTK's JSON files.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
from importlib.util import find_spec
from pathlib import Path

from core.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NLTK_DATA = Path(os.environ.get("BERT_PLAYGROUND_NLTK_DATA", PROJECT_ROOT / "nltk_data"))
DEBIAN_WORDNET = Path("/usr/share/wordnet")
SETUP_COMMAND = "python -m core setup-nltk"
INSTALL_HINT = ("apt-get install wordnet-base wordnet-sense-index && "
                "pip install --no-deps textblob-aptagger==0.2.0 && " + SETUP_COMMAND)

WORDNET_FILES = ("index.sense", "cntlist.rev", *(f"{kind}.{pos}" for kind in ("index", "data")
                                                 for pos in ("adj", "adv", "noun", "verb")),
                 *(f"{pos}.exc" for pos in ("adj", "adv", "noun", "verb")))
# WordNet 3.0's lexicographer files in number order (lexnames(5)); NLTK reads them from `lexnames`.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession "
    "noun.process noun.quantity noun.relation noun.shape noun.state noun.substance noun.time "
    "verb.body verb.change verb.cognition verb.communication verb.competition verb.consumption "
    "verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession "
    "verb.social verb.stative verb.weather adj.ppl"
).split()
_POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
TAGGER_DIR = Path("taggers") / "averaged_perceptron_tagger_eng"
TAGGER_FILES = tuple(f"averaged_perceptron_tagger_eng.{part}.json" for part in ("weights", "tagdict", "classes"))


def data_root(root: Path | None = None) -> Path:
    """`root`, or the project's folder (read at call time, so tests and settings can move it)."""
    return Path(root) if root else NLTK_DATA


def wordnet_dir(root: Path | None = None) -> Path:
    return data_root(root) / "corpora" / "wordnet"


def missing(root: Path | None = None) -> list[str]:
    """What `setup-nltk` still has to build under `root` ([] when synonyms/antonyms can run)."""
    root = data_root(root)
    gaps = []
    if not all((wordnet_dir(root) / f).is_file() for f in (*WORDNET_FILES, "lexnames")):
        gaps.append("WordNet")
    if not all((root / TAGGER_DIR / f).is_file() for f in TAGGER_FILES):
        gaps.append("the POS tagger")
    return gaps


def unavailable_reason(root: Path | None = None) -> str | None:
    """Why WordNet techniques cannot run here, with the fix; None when they can."""
    root = data_root(root)
    gaps = missing(root)
    if not gaps:
        return None
    return (f"NLTK data missing ({' and '.join(gaps)} under {root}): run `{SETUP_COMMAND}` "
            f"(needs `{INSTALL_HINT.split(' && ' + SETUP_COMMAND)[0]}`).")


def use_project_data(root: Path | None = None) -> None:
    """Put `root` first on NLTK's search path, so nothing is looked up (or downloaded) elsewhere."""
    root = data_root(root)
    import nltk

    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))


def write_lexnames(target: Path) -> None:
    lines = [f"{i:02d}\t{name}\t{_POS_NUMBER[name.split('.')[0]]}" for i, name in enumerate(LEXNAMES)]
    target.write_text("\n".join(lines) + "\n")


def install_wordnet(root: Path | None = None, source: Path = DEBIAN_WORDNET) -> Path:
    """Copy Debian's WordNet 3.0 files into `root`/corpora/wordnet and add `lexnames`."""
    root = data_root(root)
    absent = [f for f in WORDNET_FILES if not (source / f).is_file()]
    if absent:
        raise UserError(f"WordNet files missing from {source} ({', '.join(absent[:3])}…): "
                        "install them with `apt-get install wordnet-base wordnet-sense-index`.")
    target = wordnet_dir(root)
    target.mkdir(parents=True, exist_ok=True)
    for name in WORDNET_FILES:
        shutil.copyfile(source / name, target / name)  # a copy: NLTK will not follow symlinks out
    write_lexnames(target / "lexnames")
    return target


class _DictsAndSetsOnly(pickle.Unpickler):
    """The tagger pickle holds dicts, strings, floats and sets; refuse anything that could run code."""

    def find_class(self, module, name):
        if module in ("builtins", "__builtin__") and name == "set":
            return set
        raise pickle.UnpicklingError(f"refusing {module}.{name} in the tagger pickle")


def aptagger_pickle() -> Path:
    """The pickle inside the installed `textblob-aptagger` (found without importing the package)."""
    spec = find_spec("textblob_aptagger")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("The POS tagger comes from PyPI's textblob-aptagger: "
                        "`pip install --no-deps textblob-aptagger==0.2.0`, then run setup-nltk again.")
    return Path(list(spec.submodule_search_locations)[0]) / "trontagger-0.1.0.pickle"


def install_tagger(root: Path | None = None, source: Path | None = None) -> Path:
    """Convert textblob-aptagger's (weights, tagdict, classes) pickle into NLTK's three JSON files."""
    root = data_root(root)
    source = source or aptagger_pickle()
    with open(source, "rb") as fh:
        weights, tagdict, classes = _DictsAndSetsOnly(fh, encoding="latin-1").load()
    target = root / TAGGER_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name, obj in zip(TAGGER_FILES, (weights, tagdict, sorted(classes))):
        (target / name).write_text(json.dumps(obj))
    return target


def setup(root: Path | None = None) -> list[str]:
    """Build WordNet and the tagger under `root`; lines saying what was done."""
    root = data_root(root)
    done = [f"WordNet 3.0 -> {install_wordnet(root)}", f"POS tagger -> {install_tagger(root)}"]
    use_project_data(root)
    import nltk
    from nltk.corpus import wordnet

    wordnet.ensure_loaded()
    tags = nltk.pos_tag(["The", "quick", "fox", "jumps"])
    good = sorted({lemma.name() for syn in wordnet.synsets("good") for lemma in syn.lemmas()})
    done.append(f"check: 'good' has {len(good)} WordNet synonyms; "
                f"'The quick fox jumps' is tagged {' '.join(t for _, t in tags)}")
    return done
