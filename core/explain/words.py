"""Words of a text and the tokens that spell them: the unit explanations are read in.

Attributions are computed on tokens (WordPiece or BPE pieces) but a reader thinks in words, and
"remove a word" or "replace a word" is done on the text and tokenised again, so that it means
the same for every tokenizer (deleting ids would leave RoBERTa's spaces and BERT's `##` wrong).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Iterable

import torch

from core.errors import UserError

MAX_TOKENS = 128  # occlusion runs one pass per word: a long text is explained up to here
_WORD = r"\w+(?:['’]\w+)*|[^\w\s]"


@dataclass(frozen=True)
class Words:
    """A text cut into words: `spans[i]` is the (start, end) of word i in `text`."""

    text: str
    spans: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return len(self.spans)

    @property
    def words(self) -> list[str]:
        return [self.text[s:e] for s, e in self.spans]

    def without(self, drop: Iterable[int]) -> str:
        """The text with the words in `drop` deleted (the rest keeps its spacing)."""
        return self.replaced(dict.fromkeys(drop, ""))

    def only(self, keep: Iterable[int]) -> str:
        """The text reduced to the words in `keep`, in their order."""
        keep = set(keep)
        return self.without(i for i in range(len(self)) if i not in keep)

    def replaced(self, edits: dict[int, str]) -> str:
        """The text with word i replaced by `edits[i]`; an empty string deletes the word and one
        space next to it, so the rest keeps its spacing exactly."""
        out, last = [], 0
        text = self.text
        for i in sorted(edits):
            start, end = self.spans[i]
            if not edits[i]:
                if end < len(text) and text[end].isspace() and (start == 0 or text[start - 1].isspace()):
                    end += 1
                elif start > 0 and text[start - 1].isspace():
                    start -= 1
            start = max(start, last)
            out += [text[last:start], edits[i]]
            last = end
        out.append(text[last:])
        return "".join(out).strip()


def split_words(text: str, whole: Iterable[str] = ()) -> Words:
    """Words and punctuation marks of `text`; the strings in `whole` (e.g. "[MASK]") stay one word."""
    keep = "|".join(re.escape(w) for w in sorted(set(whole), key=len, reverse=True) if w)
    pattern = re.compile(f"{keep}|{_WORD}" if keep else _WORD)
    return Words(text, tuple(m.span() for m in pattern.finditer(text)))


def token_words(offsets: list[tuple[int, int]], words: Words) -> list[int | None]:
    """For each token, the index of the word it belongs to (None for [CLS], [SEP], padding)."""
    starts = [s for s, _ in words.spans]
    found: list[int | None] = []
    for start, end in offsets:
        i = bisect_right(starts, start) - 1
        if end <= start:
            found.append(None)
        elif i >= 0 and start < words.spans[i][1]:
            found.append(i)
        else:  # a token whose offsets include the space before its word (some BPE tokenizers)
            j = bisect_right(starts, end - 1) - 1
            found.append(j if j >= 0 and end - 1 < words.spans[j][1] else None)
    return found


@dataclass
class Prepared:
    """A text as explained: cut to MAX_TOKENS, its words, tokens, ids and which word each token spells."""

    words: Words
    tokens: list[str]
    ids: torch.Tensor  # (1, T) on the model's device
    token_word: list[int | None]
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.words.text


def prepare_text(loaded, text: str) -> Prepared:
    """Tokenise `text` for `loaded`, cut at the last whole word within MAX_TOKENS (with a note)."""
    from core.explain.masked import normalize_masks

    text = (text or "").strip()
    if not text:
        raise UserError("Type a sentence first.")
    text, notes = normalize_masks(loaded, text)
    tok = loaded.tokenizer
    limit = min(MAX_TOKENS, loaded.max_length)
    special = set(tok.all_special_ids) - {tok.unk_token_id, tok.mask_token_id}
    enc = tok(text, truncation=True, max_length=limit, return_offsets_mapping=True)
    kept = [o for o, i in zip(enc["offset_mapping"], enc["input_ids"]) if i not in special and o[1] > o[0]]
    if not kept:
        raise UserError("There is nothing to explain: type a sentence with some words in it.")
    n_full = len(tok(text, truncation=False)["input_ids"])
    if n_full > limit:
        cut = text[:kept[-1][1]]
        last = split_words(cut, whole=[tok.mask_token]).spans[-1]
        if last[1] == len(cut) and text[len(cut)].isalnum():  # the cut fell inside a word: drop that word
            cut = cut[:last[0]].rstrip()
        notes.append(f"Your text needs {n_full} tokens; explanations cover the first {limit} "
                     f"(up to “…{cut[-30:]}”).")
        text = cut
    words = split_words(text, whole=[tok.mask_token])
    enc = tok(text, truncation=True, max_length=limit, return_offsets_mapping=True)
    offsets = [tuple(o) if i not in special else (0, 0) for o, i in zip(enc["offset_mapping"], enc["input_ids"])]
    ids = torch.tensor([enc["input_ids"]], device=loaded.device)
    return Prepared(words, tok.convert_ids_to_tokens(enc["input_ids"]), ids, token_words(offsets, words), notes)
