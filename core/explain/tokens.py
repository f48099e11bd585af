"""What the model reads: pieces, ids, segment and position ids, and why words were split.

Built on core.inputs.text.encode (so truncation and its notice are the same as on every page) plus
the tokenizer's offsets, which say which characters of the user's text each piece stands for.
A piece is a *continuation* when it belongs to the same word as the piece before it; that rule
works alike for WordPiece (`##ing`), RoBERTa's byte-level BPE (`Ġ` = a space before) and
ALBERT's SentencePiece (`▁` = a word start).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import torch

from core.models.arch import position_ids
from core.errors import UserError
from core.inputs.text import Encoded, encode

_UNUSED = re.compile(r"^(\[unused\d+\]|<unused\d+>)$")


@dataclass
class Piece:
    """One token as the model reads it, and where it came from in the user's text."""

    index: int  # place in the model's input
    token: str
    id: int
    segment: int
    position: int
    kind: str  # special | word | continuation | unknown
    sentence: int | None  # 0 = text A, 1 = text B, None for special tokens
    word: int | None  # index of its word within that sentence
    start: int  # character span in that sentence
    end: int


@dataclass
class Split:
    """A word that did not map to exactly one vocabulary entry, and why."""

    word: str
    pieces: list[str]
    reason: str


def algorithm(tokenizer) -> str:
    """'WordPiece', 'BPE' or 'Unigram': the tokenizer's subword model."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return type(backend.model).__name__ if backend is not None else "WordPiece"


@dataclass
class Tokenization:
    """A text (or pair) as pieces, with the encoded model inputs it came from."""

    encoded: Encoded
    pieces: list[Piece]
    texts: tuple[str, str | None]
    tokenizer: object

    @property
    def tokens(self) -> list[str]:
        return [p.token for p in self.pieces]

    @property
    def notice(self) -> str | None:
        return self.encoded.notice

    @property
    def algorithm(self) -> str:
        return algorithm(self.tokenizer)

    def as_dict(self) -> dict:
        """The CLI contract: four lists of equal length."""
        return {
            "tokens": self.tokens,
            "ids": [p.id for p in self.pieces],
            "segments": [p.segment for p in self.pieces],
            "positions": [p.position for p in self.pieces],
        }

    def word_pieces(self, sentence: int = 0) -> list[tuple[str, list[Piece]]]:
        """Each word of `sentence` (0 = A, 1 = B) with its pieces, in order."""
        groups: dict[int, list[Piece]] = {}
        for p in self.pieces:
            if p.sentence == sentence and p.word is not None:
                groups.setdefault(p.word, []).append(p)
        text = self.texts[sentence] or ""
        return [(text[min(p.start for p in g):max(p.end for p in g)], g) for _, g in sorted(groups.items())]

    def splits(self) -> list[Split]:
        """Words of both sentences that became several pieces, [UNK], or were normalised."""
        out = []
        for sentence in (0, 1):
            for word, group in self.word_pieces(sentence):
                tokens = [p.token for p in group]
                reason = explain_split(self.tokenizer, word, tokens)
                if reason:
                    out.append(Split(word, tokens, reason))
        return out


def lowercases(tokenizer) -> bool:
    """True for an *uncased* tokenizer: 'Paris' and 'paris' are the same pieces."""
    return tokenizer.tokenize("A") == tokenizer.tokenize("a")


ALGORITHM_EXPLAINED = {
    "WordPiece": "WordPiece (BERT, DistilBERT): a word missing from the {size}-piece vocabulary is cut "
                 "greedily: the longest piece it knows from the start, then the longest `##` piece for "
                 "the rest, and so on. A character it has never seen makes the word `{unk}`.",
    "BPE": "Byte-level BPE (RoBERTa): the text is bytes, and learned merge rules join frequent pairs "
           "into bigger pieces ({size} in all). `Ġ` marks a piece that follows a space. Every byte is a "
           "piece, so nothing is ever unknown: an emoji becomes several byte pieces.",
    "Unigram": "SentencePiece unigram (ALBERT): the most probable split into pieces of its {size}-piece "
               "vocabulary; `▁` marks the start of a word. A character it has never seen becomes `{unk}`.",
}


def explain_algorithm(tokenizer) -> str:
    """How this tokenizer cuts words, in two sentences (markdown: markers in code spans)."""
    text = ALGORITHM_EXPLAINED.get(algorithm(tokenizer), ALGORITHM_EXPLAINED["WordPiece"])
    return text.format(size=f"{len(tokenizer):,}", unk=tokenizer.unk_token)


def explain_split(tokenizer, word: str, pieces: list[str]) -> str | None:
    """Why `word` became `pieces`, in a few words; None when it is one plain entry."""
    reasons = []
    unk = tokenizer.unk_token
    read_as = tokenizer.convert_tokens_to_string(pieces).strip()
    if unk in pieces:
        reasons.append(f"characters missing from the vocabulary became {unk}")
    elif len(pieces) > 1:
        reasons.append(f"not one vocabulary entry: {len(pieces)} pieces")
    if unk not in pieces and read_as and read_as.lower() != word.lower():  # case alone: see lowercases()
        folded = "".join(c for c in unicodedata.normalize("NFD", word.lower())
                         if unicodedata.category(c) != "Mn")
        why = "accents stripped" if read_as.lower() == folded else "normalised"
        reasons.append(f"read as “{read_as}” ({why})")
    return "; ".join(reasons) or None


def tokenize(loaded, text: str, pair: str | None = None) -> Tokenization:
    """`text` (and optional `pair`) as the model `loaded` reads them; truncation is flagged."""
    tok = loaded.tokenizer
    encoded = encode(loaded, text, pair)  # raises UserError on empty text
    spans, texts = encoded.encoding, encoded.texts
    ids = encoded.inputs["input_ids"][0].tolist()
    positions = position_ids(loaded, encoded.inputs["input_ids"])[0].tolist()
    segments = encoded.inputs.get("token_type_ids", torch.zeros(1, len(ids), dtype=torch.long))[0].tolist()
    special = set(tok.all_special_ids)
    pieces, previous = [], None
    for i, token in enumerate(encoded.tokens):
        word, sentence = spans.word_ids()[i], spans.sequence_ids()[i]
        start, end = encoded.offsets[i]
        if word is None and ids[i] in special:
            kind, sentence = "special", None
        elif ids[i] == tok.unk_token_id:
            kind = "unknown"
        else:
            kind = "continuation" if (sentence, word) == previous else "word"
        previous = (sentence, word) if kind != "special" else None
        pieces.append(Piece(i, token, ids[i], segments[i], positions[i], kind, sentence, word, start, end))
    return Tokenization(encoded, pieces, texts, tok)


def compare_splits(a: Tokenization, b: Tokenization) -> list[dict]:
    """For each word of text A (as `a` sees it), the pieces each tokenizer made of its characters."""
    rows = []
    for sentence in (0, 1):
        for word, group in a.word_pieces(sentence):
            start, end = group[0].start, group[-1].end
            other = [p.token for p in b.pieces if p.sentence == sentence and p.start < end and p.end > start]
            rows.append({"word": word, "a": [p.token for p in group], "b": other})
    return rows


@dataclass
class Neighbour:
    token: str
    id: int
    cosine: float


@dataclass
class VocabLookup:
    """Whether a word is one vocabulary entry, and its nearest entries by input embedding."""

    word: str
    pieces: list[str]
    ids: list[int]
    neighbours: list[Neighbour]
    note: str | None

    @property
    def single(self) -> bool:
        return len(self.ids) == 1 and self.ids[0] != -1


@torch.no_grad()
def lookup(loaded, word: str, k: int = 10) -> VocabLookup:
    """Pieces of `word` and its `k` nearest vocabulary entries (cosine over the word-embedding table).

    A word of several pieces is represented by the mean of their rows, which the note says.
    Special and never-trained `[unusedN]` entries are left out of the neighbours.
    """
    word = (word or "").strip()
    if not word:
        raise UserError("Type a word to look up.")
    tok = loaded.tokenizer
    note = None
    query = word
    if algorithm(tok) == "BPE":  # mid-sentence words carry the space: 'Ġbank', not 'bank'
        query = " " + word
        note = "Looked up as it appears after a space (Ġ), the form it takes mid-sentence."
    ids = tok(query, add_special_tokens=False)["input_ids"]
    if not ids:
        raise UserError("That is only spaces; type a word to look up.")
    if len(ids) > 32:
        raise UserError("That is long for a word: type up to a few words.")
    pieces = tok.convert_ids_to_tokens(ids)
    if len(ids) > 1:
        note = ((note + " ") if note else "") + \
            f"It is {len(ids)} pieces, so its neighbours are those of the mean of their rows."
    table = loaded.encoder.get_input_embeddings().weight.float()
    query = table[ids].mean(0)
    sims = (table @ query) / (table.norm(dim=1) * query.norm()).clamp_min(1e-12)  # cosine
    vocab = tok.convert_ids_to_tokens(list(range(table.shape[0])))  # None: a row no token uses
    excluded = set(ids) | set(tok.all_special_ids) | {i for i, t in enumerate(vocab) if t is None or _UNUSED.match(t)}
    sims[[i for i in excluded if i < table.shape[0]]] = -float("inf")
    top = sims.topk(max(0, min(k, table.shape[0] - len(excluded))))
    neighbours = [Neighbour(vocab[i], i, float(s)) for s, i in zip(top.values.tolist(), top.indices.tolist())]
    return VocabLookup(word, pieces, ids, neighbours, note)
