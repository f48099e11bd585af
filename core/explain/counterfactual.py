"""Counterfactuals: the fewest word substitutions that change a classifier's label.

The search is guided by the model itself:
1. rank the words by occlusion (how much leaving each out lowers the label's probability);
2. for the top `words_to_try` words, ask a masked-language model (the suggester: the embedded
   model offline) for replacements that fit the sentence, so edits stay fluent English;
3. score every one-word edit in one batch; an edit that changes the predicted label is a flip;
4. keep the `beam` edits that lowered the label's probability most, add an edit of another word
   to each (suggestions come from the original sentence), and repeat up to `max_edits`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import UserError
from core.explain.attributions import occlusion
from core.explain.masked import fill_masks, prepare, require_mlm
from core.explain.targets import class_probabilities, label_names, label_target, require_classifier
from core.explain.words import Words, prepare_text

MAX_EDITS = 3


@dataclass
class Flip:
    text: str
    label: str
    probability: float  # of the new label
    original_probability: float  # of the original label, after the edits
    edits: list[tuple[int, str, str]]  # (word index, old word, new word)

    def to_json(self) -> dict:
        return {"text": self.text, "label": self.label, "probability": self.probability,
                "original_label_probability": self.original_probability,
                "edits": [[old, new] for _, old, new in self.edits]}


@dataclass
class Counterfactuals:
    text: str
    label: str
    probability: float
    flips: list[Flip]
    tried: int  # edited sentences the classifier scored

    def to_json(self) -> dict:
        return {"original": {"text": self.text, "label": self.label, "probability": self.probability},
                "flips": [f.to_json() for f in self.flips], "tried": self.tried}


def _styled(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def suggestions(suggester, words: Words, positions: list[int], k: int) -> dict[int, list[str]]:
    """Up to `k` alphabetic replacements for each word at `positions`, from the MLM `suggester`
    (whole words only: no `##ing` pieces, and for byte-level BPE only tokens that start a word)."""
    require_mlm(suggester)
    word_start = suggester.model_type == "roberta"
    mask = suggester.tokenizer.mask_token
    masked = [prepare(suggester, words.replaced({i: mask})) for i in positions]
    results = fill_masks(suggester, masked, top_k=4 * k)
    out = {}
    for i, result in zip(positions, results):
        old = words.words[i]
        seen, picks = {old.lower()}, []
        for p in result.predictions[0]:
            word = p.token.strip()
            if (not word_start or p.token.startswith(" ")) and word.isalpha() and word.lower() not in seen and len(picks) < k:
                seen.add(word.lower())
                picks.append(_styled(word, old))
        out[i] = picks
    return out


def counterfactuals(classifier, suggester, text: str, max_edits: int = 2, words_to_try: int = 6,
                    per_word: int = 8, beam: int = 4, max_flips: int = 10) -> Counterfactuals:
    """Edits of at most `max_edits` words that change `classifier`'s predicted label."""
    require_classifier(classifier)
    if not 1 <= max_edits <= MAX_EDITS:
        raise UserError(f"Allow between 1 and {MAX_EDITS} edited words.")
    words = prepare_text(classifier, text).words
    names = label_names(classifier)
    probs = class_probabilities(classifier, [words.text])[0]
    original = int(probs.argmax())
    target = label_target(classifier, names[original], names[original])
    importance = occlusion(classifier, target, words, float(probs[original]))
    editable = [i for i in np.argsort(-importance) if words.words[i].isalpha()][:words_to_try]
    if not editable:
        raise UserError("This text has no words to replace.")
    options = suggestions(suggester, words, [int(i) for i in editable], per_word)
    frontier: list[tuple[tuple[int, str], ...]] = [()]
    flips: dict[str, Flip] = {}
    tried = 0
    for _ in range(max_edits):
        candidates = {}
        for edits in frontier:
            used = {i for i, _ in edits}
            for i, news in options.items():
                for new in news if i not in used else ():
                    edit = tuple(sorted((*edits, (i, new))))
                    candidates.setdefault(words.replaced(dict(edit)), edit)
        candidates = {t: e for t, e in candidates.items() if t not in flips}
        if not candidates:
            break
        texts = list(candidates)
        scored = class_probabilities(classifier, texts)
        tried += len(texts)
        survivors = []
        for t, p in zip(texts, scored):
            edit, label = candidates[t], int(p.argmax())
            if label != original:
                flips[t] = Flip(t, names[label], float(p[label]), float(p[original]),
                                [(i, words.words[i], new) for i, new in edit])
            else:
                survivors.append((float(p[original]), edit))
        frontier = [edit for _, edit in sorted(survivors)[:beam]]
    ranked = sorted(flips.values(), key=lambda f: (len(f.edits), -f.probability))[:max_flips]
    return Counterfactuals(words.text, names[original], float(probs[original]), ranked, tried)
