"""Extractive question answering: the answer is a span of the context, chosen by a start and an
end classifier over its tokens.

A context longer than the model's window is cut into overlapping windows (`stride` tokens
shared), each `[CLS] question [SEP] context part [SEP]`. In training, a window that holds the
whole answer points at its first and last token; one that does not points at `[CLS]` (position
0). At prediction time every window proposes spans and the best valid one wins: inside the
context, end >= start, at most `max_tokens` long, scored by start logit + end logit.
"""
from __future__ import annotations

import numpy as np

MAX_ANSWER_TOKENS = 30
N_BEST = 20  # start and end candidates per window, as in Hugging Face's run_qa


def encode_questions(tokenizer, questions: list[str], contexts: list[str], answers: list[list[tuple[str, int]]] | None,
                     max_length: int, stride: int | None = None) -> list[dict]:
    """Windows over every (question, context): ids, context offsets (None outside the context),
    the item each window came from and, with `answers`, the first answer's token positions."""
    stride = max_length // 4 if stride is None else stride
    enc = tokenizer(questions, contexts, truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True)
    features = []
    for j, item in enumerate(enc["overflow_to_sample_mapping"]):
        sequence = enc.sequence_ids(j)
        offsets = [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][j], sequence)]
        feature = {"input_ids": enc["input_ids"][j], "item": item, "offsets": offsets}
        if "token_type_ids" in enc:
            feature["token_type_ids"] = enc["token_type_ids"][j]
        if answers is not None:
            text, start = answers[item][0]
            feature["start_positions"], feature["end_positions"] = answer_positions(offsets, start, start + len(text))
        features.append(feature)
    return features


def answer_positions(offsets: list, start_char: int, end_char: int) -> tuple[int, int]:
    """(first, last) token of the characters [start_char, end_char) in this window, or (0, 0)
    (`[CLS]`) when the window does not hold the whole answer."""
    inside = [k for k, o in enumerate(offsets) if o is not None]
    if not inside or offsets[inside[0]][0] > start_char or offsets[inside[-1]][1] < end_char:
        return 0, 0
    first = max(k for k in inside if offsets[k][0] <= start_char)
    last = min(k for k in inside if offsets[k][1] >= end_char)
    return first, last


def best_span(start_logits, end_logits, offsets: list, max_tokens: int = MAX_ANSWER_TOKENS):
    """(score, first token, last token) of the best valid span of one window, or None."""
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    n = len(offsets)
    best = None
    for s in np.argsort(start_logits[:n])[::-1][:N_BEST]:
        for e in np.argsort(end_logits[:n])[::-1][:N_BEST]:
            if offsets[s] is None or offsets[e] is None or e < s or e - s + 1 > max_tokens:
                continue
            score = float(start_logits[s] + end_logits[e])
            if best is None or score > best[0]:
                best = (score, int(s), int(e))
    return best


def window_answer(feature: dict, starts, ends, context: str) -> tuple[str, int, float] | None:
    """(answer text, start character, score) of one window's best span, or None."""
    span = best_span(starts, ends, feature["offsets"])
    if span is None:
        return None
    begin, end = feature["offsets"][span[1]][0], feature["offsets"][span[2]][1]
    return context[begin:end], begin, span[0]


def best_answers(features: list[dict], logits: list[tuple], contexts: list[str]) -> list[tuple[str, int, float]]:
    """(answer text, start character, score) per item, the best span over all of its windows
    (`logits`: (start logits, end logits) per feature); ("", -1, -inf) when no window has one."""
    answers = [("", -1, float("-inf"))] * len(contexts)
    for feature, (starts, ends) in zip(features, logits):
        item = feature["item"]
        found = window_answer(feature, starts, ends, contexts[item])
        if found and found[2] > answers[item][2]:
            answers[item] = found
    return answers
