"""Text augmentation: nlpaug's techniques, and the recipes that chain them (BERT's own augmenter is
in `core.augment.contextual`, the diffs in `core.augment.diff`).

Every technique has a name (the CLI's `--method`), a one-line lesson on when it helps or hurts,
and a reason when it cannot run here (no network, no NLTK data, no MLM head). Recipes join names
with "+" into nlpaug's Sequential flow ("keyboard+synonym"); "sometimes:" in front makes it
nlpaug's Sometimes flow, where each step runs only half the time.
"""
from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.augment.contextual import DEFAULT_STRENGTH, contextual_augment, seed_for
from core.augment.diff import word_count
from core.errors import UserError

MAX_WORDS = 1000
MAX_N = 20
SOMETIMES = "sometimes:"
_NLPAUG_TOKEN = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")  # keeps "didn't" and "well-known" whole


@dataclass(frozen=True)
class Technique:
    name: str
    label: str
    level: str  # character | word | model | translation
    lesson: str  # when it helps, when it hurts
    amount: str  # what the strength slider changes
    min_words: int = 1
    needs: str = ""  # "" | "wordnet" | "mlm" | "network"


TECHNIQUES = {t.name: t for t in [
    Technique("keyboard", "Keyboard typos", "character",
              "Neighbouring-key typos teach robustness to fast typing; too many make words unreadable.",
              "share of words hit, and of letters in each"),
    Technique("ocr", "OCR errors", "character",
              "Scanner confusions (0/o, 1/l, 8/B) help models read scanned text; pointless for clean input.",
              "share of words hit, and of letters in each"),
    Technique("char-insert", "Insert random characters", "character",
              "Random noise makes a model less brittle to junk, but real users rarely type like this.",
              "share of words hit, and of letters in each"),
    Technique("char-substitute", "Substitute random characters", "character",
              "Noise at the letter level; it also breaks WordPiece tokens into rare pieces.",
              "share of words hit, and of letters in each"),
    Technique("char-swap", "Swap neighbouring characters", "character",
              "Transposed letters ('teh') are the commonest real typo.",
              "share of words hit, and of letters in each"),
    Technique("char-delete", "Delete random characters", "character",
              "Dropped letters mimic hurried typing; heavy use destroys meaning.",
              "share of words hit, and of letters in each"),
    Technique("word-swap", "Swap neighbouring words", "word",
              "Word-order noise; harmless for topic labels, harmful where order matters ('not good' vs 'good, not').",
              "share of words moved", min_words=2),
    Technique("word-delete", "Delete random words", "word",
              "Teaches the model not to rely on one word; can delete the very word the label depends on ('not').",
              "share of words deleted", min_words=2),
    Technique("word-crop", "Crop a run of words", "word",
              "Cuts a contiguous span, like a truncated review; may cut away the evidence for the label.",
              "share of words cropped", min_words=2),
    Technique("spelling", "Spelling mistakes", "word",
              "Real human misspellings from a dictionary (nlpaug's); realistic noise for user-written text.",
              "share of words misspelled"),
    Technique("split", "Split words", "word",
              "Splits words in two ('wonder ful'), as broken tokenisation or OCR would.",
              "share of words split"),
    Technique("synonym", "WordNet synonyms", "word",
              "Keeps meaning for most words, but WordNet ignores context: 'bank' may become 'depository'.",
              "share of words replaced", needs="wordnet"),
    Technique("antonym", "WordNet antonyms", "word",
              "Flips meaning ('good' -> 'bad'): useful for counterfactuals, but it FLIPS sentiment labels.",
              "share of words replaced", needs="wordnet"),
    Technique("contextual-substitute", "BERT substitute (contextual)", "model",
              "The selected model proposes words that fit the context; it may also swap 'great' for 'terrible'.",
              "share of words replaced", needs="mlm"),
    Technique("contextual-insert", "BERT insert (contextual)", "model",
              "The selected model inserts words that fit; sentences grow, meaning mostly stays.",
              "share of extra words inserted", needs="mlm"),
    Technique("back-translation", "Back-translation (EN->DE->EN)", "translation",
              "Paraphrases whole sentences by translating there and back; best quality, slowest.",
              "not used (whole sentence)", needs="network"),
]}
CONTEXTUAL = ("contextual-substitute", "contextual-insert")


# ---------------------------------------------------------------------------------- availability

_offline_cache: dict[str, tuple[float, bool]] = {}


def offline() -> bool:
    """core.models.loading.is_offline, re-checked at most once a minute (it may wait 1.5 s on a socket)."""
    from core.models.loading import is_offline

    at, value = _offline_cache.get("offline", (0.0, True))
    if time.time() - at > 60:
        value = is_offline()
        _offline_cache["offline"] = (time.time(), value)
    return value


def unavailable_reason(name: str, loaded=None) -> str | None:
    """Why `name` cannot run here and how to enable it; None when it can."""
    tech = technique(name)
    if tech.needs == "wordnet":
        from core.offline.nltk_data import unavailable_reason as nltk_reason

        return nltk_reason()
    if tech.needs == "mlm" and loaded is not None and not loaded.has_mlm:
        return (f"The selected model ({loaded.choice}) has no trained masked-word (MLM) head, so its "
                "suggestions would be noise: pick a model that has one (e.g. bert-base-uncased when online, "
                "or the embedded model once its MLM head is trained).")
    if tech.needs == "network":
        from importlib.util import find_spec

        if offline():
            return ("Needs internet: it downloads two Marian translation models (Helsinki-NLP/opus-mt-en-de "
                    "and opus-mt-de-en, ~300 MB each) from the Hugging Face hub.")
        if find_spec("sentencepiece") is None:
            return "Needs the sentencepiece package for the Marian tokenizers: `pip install sentencepiece`."
    return None


def technique(name: str) -> Technique:
    if name not in TECHNIQUES:
        raise UserError(f"Unknown technique '{name}'; choose one of: {', '.join(TECHNIQUES)}.")
    return TECHNIQUES[name]


def list_techniques(loaded=None) -> list[dict]:
    """What `augment --list` prints: every technique, whether it works offline, and why not here."""
    return [{"name": t.name, "label": t.label, "level": t.level, "offline": t.needs != "network",
             "reason": unavailable_reason(t.name, loaded), "lesson": t.lesson} for t in TECHNIQUES.values()]


# ------------------------------------------------------------------------------------ recipes

@dataclass(frozen=True)
class Recipe:
    steps: tuple[str, ...]
    sometimes: bool = False

    @property
    def name(self) -> str:
        return (SOMETIMES if self.sometimes else "") + "+".join(self.steps)

    @property
    def min_words(self) -> int:
        return max(technique(s).min_words for s in self.steps)


def parse_recipe(text: str) -> Recipe:
    """'keyboard', 'keyboard+synonym' (nlpaug Sequential) or 'sometimes:keyboard+synonym'."""
    text = (text or "").strip()
    sometimes = text.startswith(SOMETIMES)
    steps = tuple(s.strip() for s in text.removeprefix(SOMETIMES).split("+") if s.strip())
    if not steps:
        raise UserError("Choose a technique.")
    for step in steps:
        technique(step)
    if len(steps) > 1 or sometimes:
        solo = [s for s in steps if technique(s).needs in ("mlm", "network")]
        if solo:
            raise UserError(f"'{solo[0]}' runs on its own (batched on a model), not inside an nlpaug "
                            "pipeline: use it as a single technique.")
    return Recipe(steps, sometimes)


def _nlpaug(name: str, strength: float):
    """The nlpaug augmenter for `name`, changing about `strength` of the words (no 10-word cap)."""
    import nlpaug.augmenter.char as nac
    import nlpaug.augmenter.word as naw

    p = strength
    # nlpaug's default tokenizer splits "didn't" into "didn ' t" and joins it back with spaces.
    tokens = dict(tokenizer=_NLPAUG_TOKEN.findall, reverse_tokenizer=_detokenize)
    char = dict(aug_char_p=p, aug_word_p=p, aug_char_max=None, aug_word_max=None, **tokens)
    word = dict(aug_p=p, aug_max=None, **tokens)
    if name == "keyboard":
        return nac.KeyboardAug(include_special_char=False, **char)
    if name == "ocr":
        return nac.OcrAug(**char)
    if name.startswith("char-"):
        return nac.RandomCharAug(action=name.removeprefix("char-"), **char)
    if name.startswith("word-"):
        return naw.RandomWordAug(action=name.removeprefix("word-"), **word)
    if name == "spelling":
        return naw.SpellingAug(**word)
    if name == "split":
        return naw.SplitAug(**word)
    if name in ("synonym", "antonym"):
        from core.offline.nltk_data import use_project_data

        use_project_data()
        return naw.SynonymAug(aug_src="wordnet", **word) if name == "synonym" else naw.AntonymAug(**word)
    if name == "back-translation":
        from core.models.loading import pick_device

        return naw.BackTranslationAug(from_model_name="Helsinki-NLP/opus-mt-en-de",
                                      to_model_name="Helsinki-NLP/opus-mt-de-en", device=str(pick_device()))
    raise ValueError(name)


def _detokenize(tokens: list[str]) -> str:
    """nlpaug's detokenizer, plus no space before a closing bracket."""
    from nlpaug.util.text.tokenizer import Tokenizer

    return re.sub(r"\s+([)\]}])", r"\1", Tokenizer.reverse_tokenizer(tokens))


def build_flow(recipe: Recipe, strength: float):
    """One nlpaug augmenter, or its Sequential / Sometimes flow over the recipe's steps."""
    import nlpaug.flow as naf

    augs = [_nlpaug(step, strength) for step in recipe.steps]
    if recipe.sometimes:
        return naf.Sometimes(augs, aug_p=0.5)
    return augs[0] if len(augs) == 1 else naf.Sequential(augs)


# ----------------------------------------------------------------------------- seeded running

_GLOBAL_RNG = threading.Lock()  # nlpaug draws from the global `random` and `np.random`


def _run_seeded(aug, text: str, seed: int) -> str:
    with _GLOBAL_RNG:
        saved = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed)
        try:
            out = aug.augment(text, n=1)
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
    return out[0] if out else text


def check_text(text: str, recipe: Recipe) -> str:
    """The stripped text, or a UserError saying why this recipe cannot work on it."""
    text = (text or "").strip()
    if not text:
        raise UserError("Type a sentence first.")
    words = word_count(text)
    if words > MAX_WORDS:
        raise UserError(f"Your text has {words:,} words; augmentation here takes at most {MAX_WORDS:,}. "
                        "Split it into sentences, or put one text per row in a CSV and augment the dataset.")
    if words < recipe.min_words:
        raise UserError(f"'{recipe.name}' rearranges or removes words, so it needs at least "
                        f"{recipe.min_words} words; your text has {words}.")
    return text


def augment_texts(texts: list[str], recipe: Recipe | str, n: int = 1, strength: float = DEFAULT_STRENGTH,
                  seed: int = 0, loaded=None, progress: Callable[[int, int], None] | None = None,
                  first_row: int = 0) -> list[list[str]]:
    """`n` augmented versions of each text (in order; they may repeat or equal the original).

    Reproducible: variation v of row r depends only on (seed, first_row + r, v). `progress(done,
    total)` is called as texts finish; it may raise to cancel. Raises UserError when the recipe
    cannot run here (its reason says how to enable it).
    """
    recipe = parse_recipe(recipe) if isinstance(recipe, str) else recipe
    if not 1 <= n <= MAX_N:
        raise UserError(f"Ask for between 1 and {MAX_N} variations per text.")
    if not 0 < strength <= 1:
        raise UserError("The strength is a share of the words: between 0 and 1.")
    if seed < 0:
        raise UserError("The seed must be a whole number, 0 or more.")
    for step in recipe.steps:
        reason = unavailable_reason(step, loaded)
        if reason:
            raise UserError(f"{technique(step).label} is unavailable: {reason}")
    step = recipe.steps[0]
    if step in CONTEXTUAL:
        if loaded is None:
            raise UserError("Contextual augmentation needs a model.")
        return contextual_augment(loaded, texts, step.removeprefix("contextual-"), n, strength, seed,
                                  progress=progress, first_row=first_row)
    try:
        aug = build_flow(recipe, strength)
    except OSError as err:  # back-translation's hub download failed
        raise UserError(f"Could not load the translation models: {str(err).splitlines()[0]}") from err
    results = []
    for r, text in enumerate(texts):
        results.append([_run_seeded(aug, text, seed_for(seed, first_row + r, v)) for v in range(n)])
        if progress:
            progress(r + 1, len(texts))
    return results


def augment_sentence(text: str, recipe: Recipe | str, n: int = 3, strength: float = DEFAULT_STRENGTH,
                     seed: int = 0, loaded=None) -> list[str]:
    """`n` variations of one text, after the checks a single text needs (empty, too long, too short)."""
    recipe = parse_recipe(recipe) if isinstance(recipe, str) else recipe
    return augment_texts([check_text(text, recipe)], recipe, n, strength, seed, loaded)[0]
