"""Part-of-speech tags for the words of a token table, from NLTK's averaged-perceptron tagger.

The tagger gives the 45 Penn Treebank tags; probes and colours use the 12 coarse classes of the
universal tagset (Petrov, Das & McDonald 2012), whose mapping NLTK would otherwise download.
The tagger is built offline by `python -m core setup-nltk` (core/offline/nltk_data.py).
"""
from __future__ import annotations

import numpy as np

from core.errors import UserError
from core.layers.states import TokenTable
from core.offline import nltk_data

# Penn Treebank -> universal tagset (Petrov et al. 2012, en-ptb.map).
UNIVERSAL = {
    **dict.fromkeys(("NN", "NNS", "NNP", "NNPS"), "NOUN"),
    **dict.fromkeys(("VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD"), "VERB"),
    **dict.fromkeys(("JJ", "JJR", "JJS"), "ADJ"),
    **dict.fromkeys(("RB", "RBR", "RBS", "WRB"), "ADV"),
    **dict.fromkeys(("PRP", "PRP$", "WP", "WP$"), "PRON"),
    **dict.fromkeys(("DT", "PDT", "WDT", "EX"), "DET"),
    **dict.fromkeys(("IN",), "ADP"),
    **dict.fromkeys(("CC",), "CONJ"),
    **dict.fromkeys(("CD",), "NUM"),
    **dict.fromkeys(("RP", "POS", "TO"), "PRT"),
    **dict.fromkeys((".", ",", ":", "``", "''", "-LRB-", "-RRB-", "(", ")", "#", "$"), "."),
}


def tagger_missing() -> str | None:
    """Why words cannot be tagged here (with the fix), or None."""
    if "the POS tagger" in nltk_data.missing():
        return (f"Part-of-speech tags need NLTK's tagger, built offline by `{nltk_data.SETUP_COMMAND}` "
                "(it converts the textblob-aptagger package that requirements.txt installs).")
    return None


def tag_words(sentences: list[list[str]]) -> list[list[str]]:
    """Universal tags for each sentence's words (a UserError if the tagger is missing)."""
    reason = tagger_missing()
    if reason:
        raise UserError(reason)
    nltk_data.use_project_data()
    from nltk.tag import PerceptronTagger

    # A tagger of the call's own (0.4 s to load), not nltk.pos_tag's: that one is cached for the
    # process's life, 45 MB a server would hold for a tag asked once. Callers cache the tags.
    tagger = PerceptronTagger()
    return [[UNIVERSAL.get(tag, "X") for _word, tag in tagger.tag(words)] if words else []
            for words in sentences]


def table_tags(table: TokenTable) -> np.ndarray:
    """The universal tag of each row's word (a piece carries its whole word's tag)."""
    tags = tag_words([table.words_of(s).words for s in range(len(table.sentences))])
    return np.array([tags[s][w] for s, w in zip(table.sentence, table.word)], dtype=object)
