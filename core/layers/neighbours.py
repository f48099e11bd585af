"""Nearest neighbours of a token in a built-in corpus, at any layer: exBERT's search without its 10 GB.

The corpus is the built-in reviews plus WordNet's example sentences (3,000 sentences, ~40k word
tokens). Every token's vector at every layer is stored once per model under `runs/neighbours/`,
L2-normalised and rounded to int8 (x127): a quarter of float32 on disk, and cosine ranks that
agree with float32's (tested). A query is one matrix-vector product per layer, read through a
memory map, so thirty students share one copy in the page cache.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from weakref import WeakKeyDictionary

import numpy as np

from core.errors import UserError
from core.explain.words import split_words
from core.inputs import corpus
from core.inputs.datasets import builtin_sentiment
from core.layers.pos import tag_words, tagger_missing
from core.layers.states import TokenTable, check_layer, sentence_rows
from core.models.loading import RUNS_DIR
from core.offline import nltk_data
from core.progress import Reporter, SilentReporter, SubProgress

VERSION = 1  # of the corpus and the file layout: a change makes every index rebuild
CORPUS_SENTENCES = 3000
INDEX_BYTES = 200 * 2**20  # bigger models index fewer sentences to stay under this
MAX_K = 50
_WORDY = re.compile(r"\w")


@lru_cache(maxsize=2)
def corpus_sentences(size: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """The built-in reviews, then WordNet examples (a fixed sample) up to `size` sentences; and notes.
    (Read once per process: the lists are not to be changed.)"""
    sentences = [t for split in ("train", "validation", "test") for t in builtin_sentiment(split).texts]
    folder = nltk_data.wordnet_dir() if (nltk_data.wordnet_dir() / "data.noun").is_file() else corpus.WORDNET_DIR
    try:
        examples = corpus.wordnet_examples(folder)
    except UserError:
        return sentences, ["WordNet is not installed here, so the corpus is the built-in reviews only "
                           f"(`{nltk_data.SETUP_COMMAND}` adds its example sentences)."]
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(examples), size=min(len(examples), max(0, size - len(sentences))), replace=False)
    return sentences + [examples[i] for i in sorted(picked)], []


_DIGESTS: WeakKeyDictionary = WeakKeyDictionary()  # model -> weights digest (models are never changed)
_BUILDING: dict[Path, threading.Lock] = {}
_BUILDING_LOCK = threading.Lock()


def index_dir(loaded, root: Path | None = None) -> Path:
    """Where `loaded`'s index lives: named after the model, its weights, the corpus and whether POS
    tags could be added, so a change to any of them builds a new index."""
    if loaded.model not in _DIGESTS:
        _DIGESTS[loaded.model] = loaded.fingerprint()[:16]
    sentences, notes = corpus_sentences(CORPUS_SENTENCES)
    text = "\n".join([*sentences, *notes, f"pos={tagger_missing() is None}"])
    corpus_digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", loaded.choice.rsplit("/", 1)[-1])[:40]
    return Path(root or RUNS_DIR) / "neighbours" / f"{slug}-v{VERSION}-{_DIGESTS[loaded.model]}-{corpus_digest}"


@dataclass
class Index:
    """A built index: the corpus's sentences, one row per word token, and a memory map per layer."""

    folder: Path
    sentences: list[str]
    sentence: np.ndarray  # (N,) the sentence of each row
    spans: np.ndarray  # (N, 2) its characters in the sentence
    words: np.ndarray  # (N,) which word of the sentence (core.explain.words.split_words) it spells
    tokens: list[str]
    pos: list[str] | None  # the universal tag of the row's word (None: no tagger when it was built)
    n_layers: int
    notes: list[str]

    def layer(self, layer: int) -> np.ndarray:
        return np.load(self.folder / f"layer_{layer:02d}.npy", mmap_mode="r")

    def similarities(self, layer: int, unit: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """Cosine of every row at `layer` with the unit vector `unit`, a cache-sized chunk at a time
        (twice as fast as converting the whole int8 matrix to float32 first)."""
        stored = self.layer(layer)
        out = np.empty(len(stored), dtype=np.float32)
        for start in range(0, len(stored), chunk):
            out[start:start + chunk] = stored[start:start + chunk].astype(np.float32) @ unit
        return out / 127

    def word(self, row: int) -> str:
        """The whole word the row's token is a piece of."""
        return split_words(self.sentences[self.sentence[row]]).words[self.words[row]]


def open_index(loaded, root: Path | None = None) -> Index | None:
    """The model's index if it has been built, else None."""
    folder = index_dir(loaded, root)
    if not (folder / "meta.json").is_file():
        return None
    meta = json.loads((folder / "meta.json").read_text())
    rows = np.load(folder / "rows.npz")
    return Index(folder, meta["sentences"], rows["sentence"], rows["spans"], rows["words"], meta["tokens"],
                 meta["pos"], meta["n_layers"], meta["notes"])


def _budget(loaded, sentences: list[str]) -> tuple[list[str], list[str]]:
    """The sentences whose tokens fit INDEX_BYTES at one byte per number."""
    per_token = (loaded.config.num_hidden_layers + 1) * loaded.config.hidden_size
    lengths = [len(ids) - 2 for ids in loaded.tokenizer(sentences)["input_ids"]]
    total, keep = 0, 0
    while keep < len(sentences) and total + lengths[keep] * per_token <= INDEX_BYTES:
        total += lengths[keep] * per_token
        keep += 1
    if keep == len(sentences):
        return sentences, []
    return sentences[:keep], [f"This model's vectors are large, so {keep:,} of the {len(sentences):,} corpus "
                              f"sentences are indexed (under {INDEX_BYTES // 2**20} MB)."]


def _quantise(states: np.ndarray) -> np.ndarray:
    """(…, hidden) float -> int8 of the unit vector x 127."""
    unit = states / np.maximum(np.linalg.norm(states, axis=-1, keepdims=True), 1e-12)
    return np.round(unit * 127).astype(np.int8)


def build_index(loaded, root: Path | None = None, reporter: Reporter | None = None) -> Index:
    """Encode the corpus once and save every word token's vector at every layer (idempotent).

    Two sessions asking at once wait for one build (a lock per index folder); another process
    building the same index writes its own temporary folder, and the first rename wins.
    """
    reporter = reporter or SilentReporter()
    final = index_dir(loaded, root)
    with _BUILDING_LOCK:
        lock = _BUILDING.setdefault(final, threading.Lock())
    with lock:
        found = open_index(loaded, root)
        if found is None:
            _write_index(loaded, final, reporter)
            found = open_index(loaded, root)
    reporter.report(1.0, f"Indexed {len(found.tokens):,} tokens of {len(found.sentences):,} sentences")
    return found


def _write_index(loaded, final: Path, reporter: Reporter) -> None:
    sentences, notes = corpus_sentences(CORPUS_SENTENCES)
    sentences, capped = _budget(loaded, sentences)
    notes = [*notes, *capped]
    # One int8 block for every row, sized before encoding (a sentence keeps at most its tokens): a
    # block per sentence would leave thousands of small arrays between the batches' large transient
    # ones, and the heap could not shrink back after the build.
    most = sum(len(ids) for ids in loaded.tokenizer(sentences)["input_ids"])
    stored = np.empty((loaded.config.num_hidden_layers + 1, most, loaded.config.hidden_size), dtype=np.int8)
    n_rows, sentence, spans, words, tokens = 0, [], [], [], []
    for rows in sentence_rows(loaded, sentences, reporter=SubProgress(reporter, 0, 0.85)):
        text = sentences[rows.index]
        keep = [t for t, (start, end) in enumerate(rows.spans) if _WORDY.search(text[start:end])]
        stored[:, n_rows:n_rows + len(keep)] = _quantise(rows.states[:, keep])
        n_rows += len(keep)
        sentence += [rows.index] * len(keep)
        spans += [rows.spans[t] for t in keep]
        words += [rows.word[t] for t in keep]
        tokens += [rows.tokens[t] for t in keep]
    reporter.report(0.9, "Tagging the corpus")
    pos = None
    if tagger_missing() is None:
        tags = tag_words([split_words(s).words for s in sentences])
        pos = [tags[s][w] for s, w in zip(sentence, words)]
    else:
        notes.append(tagger_missing())
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=final.parent, prefix=final.name + ".tmp"))
    n_layers = stored.shape[0]
    for layer in range(n_layers):
        np.save(work / f"layer_{layer:02d}.npy", stored[layer, :n_rows])
    np.savez(work / "rows.npz", sentence=np.asarray(sentence, dtype=np.int32),
             spans=np.asarray(spans, dtype=np.int32), words=np.asarray(words, dtype=np.int32))
    (work / "meta.json").write_text(json.dumps({"model": loaded.choice, "version": VERSION, "sentences": sentences,
                                                "tokens": tokens, "pos": pos, "n_layers": n_layers,
                                                "notes": notes}))
    try:
        work.rename(final)
    except OSError:  # another process renamed the same index into place first: keep theirs
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class Neighbour:
    row: int  # in the index
    sentence: str
    span: tuple[int, int]
    token: str
    word: str
    pos: str | None
    similarity: float

    def to_json(self) -> dict:
        return {"sentence": self.sentence, "start": self.span[0], "end": self.span[1], "token": self.token,
                "word": self.word, "pos": self.pos, "similarity": round(self.similarity, 4)}


@dataclass
class NeighbourResult:
    tokens: list[str]  # the query sentence's tokens (special tokens left out)
    token: int
    layer: int
    neighbours: list[Neighbour]

    def counts(self, what: str) -> Counter:
        """How many neighbours have each word (`what="word"`) or part of speech (`"pos"`)."""
        return Counter((n.word.lower() if what == "word" else n.pos) for n in self.neighbours
                       if (n.word if what == "word" else n.pos))

    def to_json(self) -> dict:
        return {"tokens": self.tokens, "token": self.token, "layer": self.layer,
                "neighbors": [n.to_json() for n in self.neighbours]}


def check_query(query: TokenTable, token: int, layer: int, k: int) -> None:
    """A UserError unless token `token`, layer `layer` and `k` neighbours can be asked of `query`."""
    if not 1 <= k <= MAX_K:
        raise UserError(f"Ask for 1 to {MAX_K} neighbours, not {k}.")
    check_layer(layer, query.n_layers)
    if not 0 <= token < len(query.tokens):
        raise UserError(f"Token {token} does not exist: the sentence has tokens 0 to {len(query.tokens) - 1} "
                        f"({' '.join(query.tokens[:12])}{' …' if len(query.tokens) > 12 else ''}).")


def nearest(index: Index, query: TokenTable, token: int, layer: int, k: int = 10) -> NeighbourResult:
    """The `k` corpus tokens most similar (cosine) at `layer` to token `token` of the one-sentence table `query`."""
    check_query(query, token, layer, k)
    vector = query.states[layer, token]
    unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
    scores = index.similarities(layer, unit)
    top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
    top = top[np.argsort(-scores[top])]
    return NeighbourResult(query.tokens, token, layer, [
        Neighbour(int(r), index.sentences[index.sentence[r]], tuple(int(v) for v in index.spans[r]), index.tokens[r],
                  index.word(r), index.pos[r] if index.pos else None, float(scores[r])) for r in top])
