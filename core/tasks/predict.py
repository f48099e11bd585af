"""A fine-tuned task model on new input, with what the pages show of how it decided: a pair's
three probabilities, a sentence's entities read from each word's first piece, and a question's
answer chosen from the start and end probabilities over the context's tokens.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from core.errors import UserError

# A word, with inner apostrophes, dots and hyphens (O'Neill, U.S., Jean-Luc), or one punctuation mark.
WORD = re.compile(r"\w+(?:['’.\-]\w+)*|[^\w\s]")


def head_kind(loaded) -> str:
    """"classifier", "tokens" or "qa": what the loaded model's head predicts."""
    from core.models.classifiers import head_of

    head = head_of([type(loaded.model).__name__])
    return {"ForTokenClassification": "tokens", "ForQuestionAnswering": "qa"}.get(head, "classifier")


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) for each word and punctuation mark, as CoNLL-style data splits them."""
    return [(m.group(), m.start(), m.end()) for m in WORD.finditer(text)]


@dataclass
class Tagged:
    words: list[dict]  # {"word", "start", "end", "tag", "probability"}: one per word of the text
    pieces: list[dict]  # {"piece", "word", "tag", "probability", "read"}: every piece; `read`: its tag is the word's
    entities: list[dict]  # {"text", "type", "start", "end", "probability"}: the words' BIO tags grouped
    notice: str | None  # words past the model's length, tagged O


def tag_text(loaded, text: str) -> Tagged:
    """Tags for every word of `text`, read from each word's first piece (as in training)."""
    return tag_words(loaded, split_words(text or ""), text)


def tag_words(loaded, words: list[tuple[str, int, int]], text: str) -> Tagged:
    """Tags for (word, start, end) spans of `text`."""
    from seqeval.metrics.sequence_labeling import get_entities

    from core.inputs.text import check_vocabulary, model_inputs

    if not words:
        raise UserError("Type a sentence first.")
    batch = loaded.tokenizer([w for w, _, _ in words], is_split_into_words=True, truncation=True,
                             max_length=loaded.max_length, return_tensors="pt")
    word_ids = batch.word_ids(0)
    check_vocabulary(loaded, batch["input_ids"])
    with torch.inference_mode():
        probs = loaded.model(**model_inputs(loaded, batch)).logits.float().softmax(-1)[0]  # (pieces, tags)
    best, ids = probs.max(-1)
    names = loaded.config.id2label
    pieces, tags, confidence, previous = [], ["O"] * len(words), [1.0] * len(words), None
    for position, (piece, word) in enumerate(zip(loaded.tokenizer.convert_ids_to_tokens(batch["input_ids"][0]), word_ids)):
        read = word is not None and word != previous
        tag = names[int(ids[position])]
        if read:
            tags[word], confidence[word] = tag, float(best[position])
        pieces.append({"piece": piece, "word": word, "tag": tag, "probability": float(best[position]), "read": read})
        previous = word
    cut = len(words) - (max((w for w in word_ids if w is not None), default=-1) + 1)
    entities = [{"text": text[words[b][1]:words[e][2]], "type": kind, "start": words[b][1], "end": words[e][2],
                 "probability": min(confidence[b:e + 1])} for kind, b, e in get_entities(tags)]
    return Tagged(words=[{"word": w, "start": s, "end": e, "tag": t, "probability": p}
                         for (w, s, e), t, p in zip(words, tags, confidence)],
                  pieces=pieces, entities=entities,
                  notice=f"The last {cut} words did not fit in {loaded.max_length} tokens: they are tagged O." if cut else None)


@dataclass
class Answer:
    text: str  # "" when no window holds a valid span
    start: int  # character offsets in the context (-1 without an answer)
    end: int
    score: float  # start logit + end logit of the chosen span
    tokens: list[str]  # the window that holds the answer: [CLS] question [SEP] context part [SEP]
    in_context: list[bool]  # which of its tokens are context (the only ones an answer may use)
    start_probabilities: list[float]  # softmax of the start classifier over the window's tokens
    end_probabilities: list[float]
    window: int  # which window, of `windows`, the answer came from
    windows: int
    first_last: tuple[int, int] | None  # the answer's first and last token in that window


def answer_question(loaded, question: str, context: str, max_length: int | None = None) -> Answer:
    """The best span of `context` for `question` over every window (`core.tasks.spans`)."""
    from core.inputs.text import check_vocabulary, model_inputs
    from core.tasks.spans import answer_positions, encode_questions, window_answer

    question, context = (question or "").strip(), (context or "").strip()
    if not question or not context:
        raise UserError("Give both a paragraph and a question about it.")
    limit = min(max_length or loaded.max_length, loaded.max_length)
    if len(loaded.tokenizer(question)["input_ids"]) > limit // 2:
        raise UserError(f"The question is too long: keep it under {limit // 2} tokens so the paragraph fits beside it.")
    features = encode_questions(loaded.tokenizer, [question], [context], None, limit)
    best, chosen = None, None
    for k, feature in enumerate(features):
        ids = torch.tensor([feature["input_ids"]])
        check_vocabulary(loaded, ids)
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if "token_type_ids" in feature:
            batch["token_type_ids"] = torch.tensor([feature["token_type_ids"]])
        with torch.inference_mode():
            out = loaded.model(**model_inputs(loaded, batch))
        starts, ends = out.start_logits.float()[0], out.end_logits.float()[0]
        found = window_answer(feature, starts.tolist(), ends.tolist(), context)
        if chosen is None or (found and (best is None or found[2] > best[2])):
            chosen = (k, feature, starts, ends)
            best = found or best
    k, feature, starts, ends = chosen
    text, begin, score = best or ("", -1, float("-inf"))
    return Answer(text=text, start=begin, end=begin + len(text) if best else -1, score=score,
                  tokens=loaded.tokenizer.convert_ids_to_tokens(feature["input_ids"]),
                  in_context=[o is not None for o in feature["offsets"]],
                  start_probabilities=starts.softmax(-1).tolist(), end_probabilities=ends.softmax(-1).tolist(),
                  window=k, windows=len(features),
                  first_last=answer_positions(feature["offsets"], begin, begin + len(text)) if best else None)


def _text(record: dict, *keys: str) -> str:
    """The first of `keys` in `record`, which must be text ("" when absent)."""
    value = next((record[k] for k in keys if record.get(k) is not None), "")
    if not isinstance(value, str):
        raise UserError(f'"{keys[0]}" must be text, not {type(value).__name__}.')
    return value


def _spaced(tokens: list) -> tuple[list[tuple[str, int, int]], str]:
    """Pre-split words as (word, start, end) in the text that joins them with single spaces."""
    words, start = [], 0
    for token in map(str, tokens):
        words.append((token, start, start + len(token)))
        start += len(token) + 1
    return words, " ".join(w for w, _, _ in words)


def predict_record(loaded, record: dict) -> dict:
    """One prediction, JSON-ready, from one record in the task's upload format: {"text"} or
    {"text_a", "text_b"} for a classifier; {"text"} or {"tokens"} for a tagger; {"context",
    "question"} for a question answerer."""
    from core.models.classifiers import classify

    kind = head_kind(loaded)
    if kind == "qa":
        found = answer_question(loaded, _text(record, "question"), _text(record, "context"))
        return {"answer": found.text, "start": found.start, "end": found.end, "score": round(found.score, 4)}
    if kind == "tokens":
        tagged = tag_words(loaded, *_spaced(record["tokens"])) if isinstance(record.get("tokens"), list) \
            else tag_text(loaded, _text(record, "text"))
        return {"words": [{k: w[k] for k in ("word", "tag", "start", "end")} for w in tagged.words],
                "entities": [{k: e[k] for k in ("text", "type", "start", "end")} for e in tagged.entities]}
    label, scores, _ = classify(loaded, _text(record, "text", "text_a"), _text(record, "text_b") or None)
    return {"label": label, "scores": scores}
