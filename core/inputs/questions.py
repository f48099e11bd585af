"""Extractive question answering items (SQuAD v1 style): built in, uploaded, or from the hub.

Uploads are SQuAD JSON (`{"data": [{"paragraphs": [{"context", "qas": [...]}]}]}`) or JSON Lines
`{"context", "question", "answers": {"text": [...], "answer_start": [...]}}`. Every answer must
sit at its character offset in its context: a wrong offset would train the model on the wrong
span, silently, so it is refused with the item named.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from core.inputs.rows import Rows

BUILTIN_QUESTIONS = Path(__file__).resolve().parent.parent / "data" / "questions.jsonl"
MAX_CONTEXT_CHARS = 20_000
# name -> (datasets path, config, validation split)
HUB_QUESTIONS = {"squad": ("rajpurkar/squad", None, "validation")}


@dataclass
class QuestionItems(Rows):
    """Questions on contexts, each with its gold answers as (text, character offset) pairs."""

    ROW_FIELDS = ("ids", "contexts", "questions", "answers")

    ids: list[str]
    contexts: list[str]
    questions: list[str]
    answers: list[list[tuple[str, int]]]
    name: str = ""


def _answers(context: str, texts, starts, where: str) -> list[tuple[str, int]]:
    if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
        raise UserError(f"{where}: 'answers' needs lists 'text' and 'answer_start' of the same length.")
    if not texts:
        raise UserError(f"{where}: the question has no answer; this app trains extractive QA in the SQuAD v1 "
                        "style, where every question's answer is a span of its context.")
    pairs = []
    for text, start in zip(texts, starts):
        if not isinstance(text, str) or not isinstance(start, int) or not text:
            raise UserError(f"{where}: an answer needs a non-empty 'text' and an integer 'answer_start'.")
        found = context[start:start + len(text)]
        if found != text:
            raise UserError(f"{where}: the answer {text!r} is not at character {start} of its context "
                            f"(found {found!r} there).")
        pairs.append((text, start))
    return pairs


def _item(context, question, texts, starts, where: str) -> tuple[str, str, list]:
    if not isinstance(context, str) or not context.strip() or not isinstance(question, str) or not question.strip():
        raise UserError(f"{where}: expected a non-empty 'context' and 'question'.")
    if len(context) > MAX_CONTEXT_CHARS:
        raise UserError(f"{where}: the context has {len(context):,} characters; the limit is {MAX_CONTEXT_CHARS:,}.")
    return context, question.strip(), _answers(context, texts, starts, where)


def _squad(document: dict, name: str) -> list[tuple[str, str, str, list]]:
    items = []
    for article in document.get("data") or []:
        for paragraph in article.get("paragraphs") or []:
            for qa in paragraph.get("qas") or []:
                where = f"{name}, question {qa.get('id', len(items) + 1)!r}"
                answers = qa.get("answers") or []
                texts = [a.get("text") for a in answers if isinstance(a, dict)]
                starts = [a.get("answer_start") for a in answers if isinstance(a, dict)]
                items.append((str(qa.get("id", len(items) + 1)),
                              *_item(paragraph.get("context"), qa.get("question"), texts, starts, where)))
    return items


def _jsonl(text: str, name: str) -> list[tuple[str, str, str, list]]:
    from core.inputs.jsonl import parse_jsonl

    items = []
    for number, row in parse_jsonl(text, name, {"context": str, "question": str, "answers": dict}):
        answers = row["answers"]
        items.append((str(row.get("id", number)), *_item(row["context"], row["question"], answers.get("text"),
                                                         answers.get("answer_start"), f"{name}, line {number}")))
    return items


def parse_questions(text: str, name: str = "The file") -> QuestionItems:
    """Items from SQuAD JSON or JSONL text."""
    document = None
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None  # several lines of objects: JSONL
    items = _squad(document, name) if isinstance(document, dict) and "data" in document else _jsonl(text, name)
    if not items:
        raise UserError(f"{name} has no questions.")
    ids, contexts, questions, answers = (list(column) for column in zip(*items))
    return QuestionItems(ids, contexts, questions, answers, name)


def read_questions(data, name: str = "The file") -> QuestionItems:
    """A user's QA file (path or uploaded bytes), SQuAD JSON or JSONL."""
    from core.inputs.jsonl import read_text

    return parse_questions(read_text(data), name)


def builtin_questions(split: str) -> QuestionItems:
    """One split (train / validation / test) of the built-in questions (core/data/DATA_CARD_questions.md)."""
    if not BUILTIN_QUESTIONS.is_file():
        raise UserError("The built-in questions are missing from this install (core/data/questions.jsonl).")
    rows = [json.loads(line) for line in BUILTIN_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    text = "\n".join(json.dumps(r) for r in rows if r["split"] == split)
    if not text:
        raise UserError(f"The built-in questions have no {split!r} split.")
    return parse_questions(text, f"built-in questions ({split})")


def load_hub_questions(name: str, limit: int = 1000, seed: int = 0) -> tuple[QuestionItems, QuestionItems]:
    """(train, validation) of a hub QA dataset, `limit` random training questions (needs internet)."""
    from core.inputs.datasets import hub_rows, open_hub_dataset

    if name not in HUB_QUESTIONS:
        raise UserError(f"Unknown hub dataset {name!r}; choose one of {', '.join(HUB_QUESTIONS)}.")
    path, config, val_split = HUB_QUESTIONS[name]
    loaded = open_hub_dataset(name, path, config)

    def take(split: str, n: int) -> QuestionItems:
        rows = hub_rows(loaded, split, n, seed)
        return parse_questions("\n".join(json.dumps({k: r[k] for k in ("id", "context", "question", "answers")})
                                         for r in rows), f"{name} ({split})")

    return take("train", limit), take(val_split, max(200, limit // 5))
