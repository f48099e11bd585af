"""Where each task's data comes from — built in, an upload, or the hub — so the page and the CLI
read, split and describe it the same way."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class TaskData:
    title: str  # what the page's task picker shows
    builtin: Callable  # split -> data (train / validation / test)
    read: Callable  # (path or bytes, label names of the training data or None, display name) -> data
    hub: dict  # hub dataset name -> its table row
    load_hub: Callable  # (name, training rows, seed) -> (train, validation)
    upload: tuple[str, ...]  # file types an upload may have
    upload_help: str  # the format, as the page explains it
    example: dict  # a try-it input that fits the built-in data


def _pairs() -> TaskData:
    from core.inputs.datasets import load_hub_dataset
    from core.inputs.pairs import HUB_PAIRS, builtin_pairs, read_pairs_csv

    return TaskData("Sentence pairs (NLI)", builtin_pairs, read_pairs_csv, HUB_PAIRS,
                    lambda name, limit, seed: load_hub_dataset(name, limit, seed, table=HUB_PAIRS), ("csv",),
                    "A CSV with the columns `text_a,text_b,label`: sentence A, sentence B and how they relate "
                    "(any labels, e.g. entailment / neutral / contradiction, or paraphrase / different).",
                    # neutral (B may be true, A does not say); the recipe's model says so at 97%, while its
                    # entailments and contradictions are coin flips (test accuracy ~64%, shown on the page)
                    {"text": "Beavers built a dam across the stream, and the meadow behind it has turned into a pond.",
                     "pair": "The pond now attracts ducks and herons."})


def _tokens() -> TaskData:
    from core.inputs.entities import HUB_ENTITIES, builtin_entities, load_hub_entities, read_tagged

    return TaskData("Named entities (tokens)", builtin_entities, read_tagged, HUB_ENTITIES, load_hub_entities,
                    ("txt", "conll", "jsonl"),
                    "CoNLL columns (a word and its BIO tag on each line, a blank line between sentences) or "
                    'JSONL, one sentence a line: `{"tokens": ["Ada", "Lovelace", "lived", "in", "London"], '
                    '"tags": ["B-PER", "I-PER", "O", "O", "B-LOC"]}`. Any BIO tag set; it is read from the '
                    "training file.",
                    {"text": "Ada Lovelace worked with Charles Babbage in London."})  # tests/test_examples.py


def _questions() -> TaskData:
    from core.inputs.questions import HUB_QUESTIONS, builtin_questions, load_hub_questions, read_questions

    return TaskData("Question answering (spans)", builtin_questions,
                    lambda data, _names, name: read_questions(data, name), HUB_QUESTIONS, load_hub_questions,
                    ("json", "jsonl"),
                    "SQuAD JSON (`data` → `paragraphs` → `qas`), or JSONL, one question a line: "
                    '`{"context": "...", "question": "...", "answers": {"text": ["..."], "answer_start": [12]}}` '
                    "(the answer must occur in the context at that character).",
                    {"context": "The Eiffel Tower was built for the 1889 World's Fair in Paris. It is 330 metres "
                                "tall and was the tallest structure in the world for 41 years.",
                     "question": "How tall is the Eiffel Tower?"})


TASK_DATA = {"pairs": _pairs, "tokens": _tokens, "qa": _questions}


def task_data(task: str) -> TaskData:
    """The sources of `task` (pairs, tokens or qa)."""
    return TASK_DATA[task]()


def hold_out(data, fraction: float, seed: int):
    """(train, validation) from one file: stratified by label for pairs, whole paragraphs for
    questions (so validation never asks about a paragraph the model trained on)."""
    from core.inputs.datasets import LabelledTexts, split_validation

    if isinstance(data, LabelledTexts):
        return split_validation(data, fraction, seed)
    return data.holdout(fraction, seed, getattr(data, "contexts", None))


def describe(data) -> str:
    """One line on what the data holds: classes, entity types or paragraphs."""
    from core.inputs.entities import TaggedSentences
    from core.inputs.questions import QuestionItems

    if isinstance(data, TaggedSentences):
        counts = data.entity_counts()
        return (f"{len(data):,} sentences · {sum(map(len, data.tokens)):,} words · {sum(counts.values()):,} entities: "
                + ", ".join(f"{kind} ({n:,})" for kind, n in counts.items()))
    if isinstance(data, QuestionItems):
        return f"{len(data):,} questions on {len(set(data.contexts)):,} paragraphs"
    counts = data.class_counts()
    return f"{len(data):,} {'pairs' if data.second is not None else 'texts'} · {len(counts)} classes: " + \
        ", ".join(f"{name} ({n:,})" for name, n in counts.items())


# Settings that train each task well on its built-in data with the embedded model (measured by
# bench/bench_tasks.py, recorded in bench/RESULTS.md): small sets and a 6-layer encoder need more
# epochs and a higher rate than the BERT paper's 3 epochs at 5e-5 on large ones.
RECIPES = {"sentences": dict(epochs=2, lr=5e-5, max_length=64), "pairs": dict(epochs=8, lr=1e-4, max_length=64),
           "tokens": dict(epochs=5, lr=1e-4, max_length=64), "qa": dict(epochs=6, lr=2e-4, max_length=256)}

# The head a trained model needs for each task, and pretrained ones on the hub to try (online).
HEAD_OF_TASK = {"sentences": "ForSequenceClassification", "pairs": "ForSequenceClassification",
                "tokens": "ForTokenClassification", "qa": "ForQuestionAnswering"}
PRESETS = {"sentences": ["distilbert-base-uncased-finetuned-sst-2-english"],
           "pairs": ["roberta-large-mnli"],
           "tokens": ["dslim/bert-base-NER"],
           "qa": ["distilbert-base-cased-distilled-squad"]}


def token_lengths(tokenizer, data, n: int = 2000) -> list[int]:
    """Tokens (specials included) of the first `n` inputs as the task reads them, uncut."""
    from core.inputs.entities import TaggedSentences
    from core.inputs.questions import QuestionItems

    if isinstance(data, TaggedSentences):
        enc = tokenizer(data.tokens[:n], is_split_into_words=True, truncation=False)
    elif isinstance(data, QuestionItems):
        enc = tokenizer(data.questions[:n], data.contexts[:n], truncation=False)
    elif data.second is not None:
        enc = tokenizer(data.texts[:n], data.second[:n], truncation=False)
    else:
        enc = tokenizer(data.texts[:n], truncation=False)
    return [len(ids) for ids in enc["input_ids"]]
