"""Quiz questions computed from the live model, so the right answer is always true for the model
the student has selected (a different model can have a different right answer).

- fill-mask: which word will the model put in [MASK]? Choices: its top three guesses and a word it
  does not rank in its top ten.
- previous-token-head: which head attends most to the previous token? Choices: that head and the
  heads that are best at other things (attending to themselves, to [CLS], to [SEP], far away).
- ig-top-word: which word did integrated gradients find most important for the model's guess at
  [MASK]? Choices: that word and other words of the sentence, spread from the least important up.
- choice: the teacher's own question and answer.

Choices are shuffled by a seed taken from the question itself, never ordered by the answer, and
what the model computed (`reveal`) is for showing after the student has chosen.
"""
from __future__ import annotations

import csv
import io
import random
import zlib
from dataclasses import dataclass

import numpy as np

from core.lessons.lesson import MASKED_KINDS, Question

TOP_K = 10  # the fill-mask distractor lies outside the model's top ten
IG_STEPS = 32  # enough for a stable ranking of a short sentence's words (the explain page uses 50)
N_CHOICES = 4
# Ordinary words, one of which (the first not in the model's top ten) is the fill-mask distractor.
DISTRACTORS = ("banana", "umbrella", "seventeen", "purple", "quietly", "volcano", "pencil", "tuesday")


@dataclass(frozen=True)
class Quiz:
    prompt: str
    choices: tuple[str, ...]
    answer: str
    reveal: str  # the model's own numbers behind the answer, shown once the student has chosen


def _shuffled(question: Question, choices: list[str]) -> tuple[str, ...]:
    """The same order on every reload and for every student (a seed from the question, not the clock)."""
    order = list(dict.fromkeys(choices))
    random.Random(zlib.crc32(repr(question).encode())).shuffle(order)
    return tuple(order)


def _fill_mask(loaded, q: Question) -> Quiz:
    from core.explain.masked import fill_mask

    probability: dict[str, float] = {}
    for p in fill_mask(loaded, q.sentence, top_k=TOP_K).predictions[0]:
        probability.setdefault(p.token.strip(), p.score)  # " paris" and "paris": the likelier counts
    guesses = list(probability)
    distractor = next(w for w in DISTRACTORS if w not in guesses)
    choices = [*guesses[:N_CHOICES - 1], distractor]
    reveal = "; ".join(f"“{w}” {probability[w]:.1%}" for w in guesses[:N_CHOICES - 1])
    return Quiz(f"Which word will the model put in [MASK]?  \n“{q.sentence}”", _shuffled(q, choices), guesses[0],
                f"The model's probabilities: {reveal}; “{distractor}” is not among its top {TOP_K} guesses.")


def _previous_token_head(loaded, q: Question) -> Quiz:
    from core.explain.attention import compute_attention, head_name, result_stats, top_head

    stats = result_stats(compute_attention(loaded, q.sentence))
    heads = [top_head(stats, "prev")[:2]]
    for rival in ("self", "cls", "sep", "distance"):  # heads that are best at something else
        head = top_head(stats, rival)[:2]
        if head not in heads and len(heads) < N_CHOICES:
            heads.append(head)
    for head in sorted(np.ndindex(stats["prev"].shape), key=lambda h: stats["prev"][h]):
        if len(heads) < N_CHOICES and head not in heads:  # too few rivals (a tiny model): the weakest ones
            heads.append(head)
    reveal = "; ".join(f"{head_name(*h)}: {stats['prev'][h]:.0%}" for h in heads)
    return Quiz(f"Which attention head attends most to the previous token?  \n“{q.sentence}”",
                _shuffled(q, [head_name(*h) for h in heads]), head_name(*heads[0]),
                f"Share of each token's attention on the token before it, averaged over the sentence: {reveal}. "
                "Layers and heads are counted from 1, as on every page.")


def _ig_top_word(loaded, q: Question) -> Quiz:
    from core.explain.attributions import explain
    from core.explain.targets import choose_target

    target = choose_target(loaded, q.sentence, masked=True)
    found = explain(loaded, q.sentence, target, methods=("ig",), steps=IG_STEPS)
    score: dict[str, float] = {}
    for i, (word, s) in enumerate(zip(found.words.words, found.scores["ig"])):
        if i not in found.fixed:
            score[word] = max(s, score.get(word, -np.inf))
    ranked = sorted(score, key=score.get, reverse=True)
    picks = np.linspace(1, len(ranked) - 1, num=min(N_CHOICES - 1, len(ranked) - 1)).round().astype(int)
    choices = [ranked[0], *(ranked[i] for i in picks)]
    reveal = "; ".join(f"“{w}” {score[w]:+.3f}" for w in ranked[:6])
    return Quiz(f"The model's top guess for [MASK] in “{q.sentence}” is “{target.name}”. Which word did "
                "integrated gradients find most important for that guess?", _shuffled(q, choices), ranked[0],
                f"Integrated gradients ({IG_STEPS} steps), most important first: {reveal} "
                "(a word's share of the change in the guess's probability from a blank sentence).")


def _choice(_loaded, q: Question) -> Quiz:
    return Quiz(q.prompt, q.choices, q.answer, q.why)


_MAKERS = {"fill-mask": _fill_mask, "previous-token-head": _previous_token_head, "ig-top-word": _ig_top_word,
           "choice": _choice}


def make_quiz(loaded, question: Question) -> Quiz:
    """The question asked of `loaded`; a UserError if this model cannot answer it (no MLM head…)."""
    if question.kind in MASKED_KINDS:
        from core.explain.masked import require_mlm

        require_mlm(loaded)
    return _MAKERS[question.kind](loaded, question)


ANSWER_COLUMNS = ("time", "lesson", "step", "model", "question", "your answer", "right answer", "correct")


def answers_csv(answers: list[dict]) -> str:
    """A student's answers as CSV, one row per question answered (ANSWER_COLUMNS)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, ANSWER_COLUMNS)
    writer.writeheader()
    writer.writerows(answers)
    return out.getvalue()
