"""Words of a text and the tokens that spell them: the unit explanations are read in.

Attributions are computed on tokens (WordPiece or BPE pieces) but a reader thinks in words, and
"remove a word" or "replace a word" is done on the text and tokenised again, so that it means
the same for every tokenizer (deleting ids would leave RoBERTa's spaces and BERT's `##` wrong).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Iterable

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
        """The text with word i replaced by `edits[i]` (an empty string deletes it)."""
        out, last = [], 0
        for i in sorted(edits):
            start, end = self.spans[i]
            out += [self.text[last:start], edits[i]]
            last = end
        out.append(self.text[last:])
        return re.sub(r"\s{2,}", " ", "".join(out)).strip()


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
