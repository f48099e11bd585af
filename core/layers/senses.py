"""The same word in two senses, followed through the layers.

At layer 0 a word's vector is its embedding-table row (plus position and segment), the same in
every sentence; each attention layer mixes in the context, so "bank" by a river and "bank" with
money drift apart. Comparing the two senses (across) with two uses of one sense (within), layer by
layer, shows *when* the model separates them (Ethayarajh 2019; Coenen et al. 2019).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product

import numpy as np

from core.explain.embeddings import cosine_matrix, tokens_of_word
from core.layers.states import TokenTable

# word -> two senses, each a short name and two sentences that use the word in that sense.
SENSES = {
    "bank": (("river", ("We sat on the bank of the river and watched the boats.",
                        "The flood washed away the grassy bank near the stream.")),
             ("money", ("She opened a savings account at the bank on Monday.",
                        "The bank raised its interest rates again."))),
    "bat": (("animal", ("A bat flew out of the cave at dusk.",
                        "The little bat hung upside down from the branch.")),
            ("sport", ("He swung the bat and hit the ball over the fence.",
                       "She bought a new cricket bat for the season."))),
    "spring": (("season", ("The flowers bloom every spring in the park.",
                           "We planted the garden in early spring.")),
               ("coil", ("The old mattress had a broken spring inside.",
                         "A steel spring pushes the button back up."))),
    "bark": (("dog", ("I heard the dog bark at the postman.",
                      "The puppies bark whenever the doorbell rings.")),
             ("tree", ("The bark of the old oak was rough and grey.",
                       "Deer had stripped the bark from the young trees."))),
    "match": (("game", ("Our team won the football match on Saturday.",
                        "The tennis match lasted almost four hours.")),
              ("fire", ("He struck a match to light the candle.",
                        "The wet match would not light in the wind."))),
    "plant": (("factory", ("The car plant employs three thousand workers.",
                           "The power plant was shut down for repairs.")),
              ("living", ("Water the plant on the windowsill twice a week.",
                          "This plant grows best in full sun."))),
}


def sense_sentences() -> list[str]:
    """Every built-in sentence, in a fixed order (word by word, sense by sense)."""
    return [s for senses in SENSES.values() for _name, sentences in senses for s in sentences]


def word_vector(table: TokenTable, sentence: int, word: str) -> np.ndarray:
    """(layers + 1, hidden): the mean of the word's tokens in sentence `sentence`, at every layer."""
    rows = np.flatnonzero(table.sentence == sentence)
    found = tokens_of_word(table.sentences[sentence], [tuple(table.spans[r]) for r in rows], word)
    return table.states[:, rows[found]].mean(axis=1)


@dataclass
class SenseSimilarity:
    """Per word, the mean cosine similarity at every layer: across senses and within one sense."""

    words: list[str]
    senses: dict[str, tuple[str, str]]
    across: np.ndarray  # (words, layers + 1)
    within: np.ndarray  # (words, layers + 1)

    def to_json(self) -> dict:
        return {w: {"senses": list(self.senses[w]), "across": self.across[i].round(4).tolist(),
                    "within": self.within[i].round(4).tolist()} for i, w in enumerate(self.words)}


def _mean_cosine(vectors: dict[int, np.ndarray], pairs) -> np.ndarray:
    return np.mean([[cosine_matrix(vectors[a][l:l + 1], vectors[b][l:l + 1])[0, 0]
                     for l in range(next(iter(vectors.values())).shape[0])] for a, b in pairs], axis=0)


def sense_similarity(table: TokenTable) -> SenseSimilarity:
    """Similarities of the built-in words, read from a table whose sentences include `sense_sentences()`."""
    where = {s: i for i, s in enumerate(table.sentences)}
    words, across, within = [], [], []
    for word, ((name_a, first), (name_b, second)) in SENSES.items():
        if not all(s in where for s in (*first, *second)):
            continue
        ids_a, ids_b = [where[s] for s in first], [where[s] for s in second]
        vectors = {i: word_vector(table, i, word) for i in ids_a + ids_b}
        words.append(word)
        across.append(_mean_cosine(vectors, product(ids_a, ids_b)))
        within.append(_mean_cosine(vectors, [*combinations(ids_a, 2), *combinations(ids_b, 2)]))
    return SenseSimilarity(words, {w: (SENSES[w][0][0], SENSES[w][1][0]) for w in words},
                           np.array(across), np.array(within))
