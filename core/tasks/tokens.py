"""Token classification (named entities): a tag for every word, learned on its first word piece.

BERT tags word pieces, the data tags words. The label of a word goes on its first piece and the
others get -100, which cross-entropy ignores (the BERT paper's choice for CoNLL-2003), so every
word counts once however many pieces it is split into; a prediction is read back from the same
first piece.
"""
from __future__ import annotations

IGNORED = -100  # the label cross-entropy skips: special tokens and a word's later pieces


def align_labels(word_ids: list[int | None], word_tags: list[int]) -> list[int]:
    """Per-piece labels from per-word tags: the first piece of each word gets its tag, the rest -100."""
    labels, previous = [], None
    for word in word_ids:
        labels.append(IGNORED if word is None or word == previous else word_tags[word])
        previous = word
    return labels


def encode_tagged(tokenizer, data, max_length: int) -> list[dict]:
    """One feature per sentence: input ids, aligned labels and the word of every piece."""
    enc = tokenizer(data.tokens, is_split_into_words=True, truncation=True, max_length=max_length)
    features = []
    for i, tags in enumerate(data.tags):
        word_ids = enc.word_ids(i)
        feature = {"input_ids": enc["input_ids"][i], "labels": align_labels(word_ids, tags), "word_ids": word_ids}
        if "token_type_ids" in enc:
            feature["token_type_ids"] = enc["token_type_ids"][i]
        features.append(feature)
    return features


def word_predictions(word_ids: list[int | None], piece_predictions: list[int], n_words: int, outside: int) -> list[int]:
    """Per-word predictions read from each word's first piece; words cut off by truncation get
    `outside` (the id of O), so a long sentence is scored on all its words."""
    words = [outside] * n_words
    previous = None
    for position, word in enumerate(word_ids):
        if word is not None and word != previous:
            words[word] = piece_predictions[position]
        previous = word
    return words
