"""Nearest neighbours of a token in a built-in corpus, at any layer: exBERT's search without its 10 GB.

The corpus is the built-in reviews plus WordNet's example sentences (3,000 sentences, ~40k word
tokens). Every token's vector at every layer is stored once per model under `runs/neighbours/`,
L2-normalised and rounded to int8 (x127): a quarter of float32 on disk, and cosine ranks that
agree with float32's (tested). A query is one matrix-vector product per layer, read through a
memory map, so thirty students share one copy in the page cache.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

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


def corpus_sentences(seed: int = 0) -> tuple[list[str], list[str]]:
    """The built-in reviews, then WordNet examples (a fixed sample) up to CORPUS_SENTENCES; and notes."""
    sentences = [t for split in ("train", "validation", "test") for t in builtin_sentiment(split).texts]
    folder = nltk_data.wordnet_dir() if (nltk_data.wordnet_dir() / "data.noun").is_file() else corpus.WORDNET_DIR
    try:
        examples = corpus.wordnet_examples(folder)
    except UserError:
        return sentences, ["WordNet is not installed here, so the corpus is the built-in reviews only "
                           f"(`{nltk_data.SETUP_COMMAND}` adds its example sentences)."]
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(examples), size=min(len(examples), CORPUS_SENTENCES - len(sentences)), replace=False)
    return sentences + [examples[i] for i in sorted(picked)], []


def index_dir(loaded, root: Path | None = None) -> Path:
    """Where `loaded`'s index lives: named after the model and a digest of its weights and the corpus."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", loaded.choice.rsplit("/", 1)[-1])[:40]
    return Path(root or RUNS_DIR) / "neighbours" / f"{slug}-v{VERSION}-{loaded.fingerprint()[:16]}"


@dataclass
class Index:
    """A built index: the corpus's sentences, one row per word token, and a memory map per layer."""

    folder: Path
    sentences: list[str]
    sentence: np.ndarray  # (N,) the sentence of each row
    spans: np.ndarray  # (N, 2) its characters in the sentence
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
        text, (start, end) = self.sentences[self.sentence[row]], self.spans[row]
        while start > 0 and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
        return text[start:end]


def open_index(loaded, root: Path | None = None) -> Index | None:
    """The model's index if it has been built, else None."""
    folder = index_dir(loaded, root)
    if not (folder / "meta.json").is_file():
        return None
    meta = json.loads((folder / "meta.json").read_text())
    rows = np.load(folder / "rows.npz")
    return Index(folder, meta["sentences"], rows["sentence"], rows["spans"], meta["tokens"], meta["pos"],
                 meta["n_layers"], meta["notes"])


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
    """Encode the corpus once and save every word token's vector at every layer (idempotent)."""
    reporter = reporter or SilentReporter()
    found = open_index(loaded, root)
    if found is not None:
        return found
    sentences, notes = corpus_sentences()
    sentences, capped = _budget(loaded, sentences)
    notes += capped
    layers, sentence, spans, tokens = [], [], [], []
    for rows in sentence_rows(loaded, sentences, reporter=SubProgress(reporter, 0, 0.85)):
        keep = [t for t, tok in enumerate(rows.tokens) if _WORDY.search(tok)]
        layers.append(_quantise(rows.states[:, keep]))
        sentence += [rows.index] * len(keep)
        spans += [rows.spans[t] for t in keep]
        tokens += [rows.tokens[t] for t in keep]
    reporter.report(0.9, "Tagging the corpus")
    pos = None
    if tagger_missing() is None:
        words = [corpus_words(s) for s in sentences]
        tags = tag_words([[w for w, _ in ws] for ws in words])
        pos = [_tag_at(words[s], tags[s], start) for s, (start, _end) in zip(sentence, spans)]
    else:
        notes.append(tagger_missing())
    final = index_dir(loaded, root)
    work = final.with_name(final.name + f".tmp{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    stacked = np.concatenate(layers, axis=1)
    for layer in range(stacked.shape[0]):
        np.save(work / f"layer_{layer:02d}.npy", np.ascontiguousarray(stacked[layer]))
    np.savez(work / "rows.npz", sentence=np.asarray(sentence, dtype=np.int32), spans=np.asarray(spans, dtype=np.int32))
    (work / "meta.json").write_text(json.dumps({"model": loaded.choice, "version": VERSION, "sentences": sentences,
                                                "tokens": tokens, "pos": pos, "n_layers": stacked.shape[0],
                                                "notes": notes}))
    try:
        work.rename(final)
    except OSError:  # another process finished the same index first
        shutil.rmtree(work, ignore_errors=True)
    reporter.report(1.0, f"Indexed {len(tokens):,} tokens of {len(sentences):,} sentences")
    return open_index(loaded, root)


def corpus_words(sentence: str) -> list[tuple[str, int]]:
    """(word, start) of each word of a corpus sentence."""
    found = split_words(sentence)
    return [(w, s) for w, (s, _e) in zip(found.words, found.spans)]


def _tag_at(words: list[tuple[str, int]], tags: list[str], start: int) -> str:
    """The tag of the word that covers character `start`."""
    at = max((i for i, (_w, s) in enumerate(words) if s <= start), default=0)
    return tags[at] if tags else "X"


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


def nearest(index: Index, query: TokenTable, token: int, layer: int, k: int = 10) -> NeighbourResult:
    """The `k` corpus tokens most similar (cosine) at `layer` to token `token` of the one-sentence table `query`."""
    if not 1 <= k <= MAX_K:
        raise UserError(f"Ask for 1 to {MAX_K} neighbours, not {k}.")
    layer = check_layer(layer, query.n_layers)
    if not 0 <= token < len(query.tokens):
        raise UserError(f"Token {token} does not exist: the sentence has tokens 0 to {len(query.tokens) - 1} "
                        f"({' '.join(query.tokens[:12])}{' …' if len(query.tokens) > 12 else ''}).")
    vector = query.states[layer, token]
    unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
    scores = index.similarities(layer, unit)
    top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
    top = top[np.argsort(-scores[top])]
    return NeighbourResult(query.tokens, token, layer, [
        Neighbour(int(r), index.sentences[index.sentence[r]], tuple(int(v) for v in index.spans[r]), index.tokens[r],
                  index.word(r), index.pos[r] if index.pos else None, float(scores[r])) for r in top])
