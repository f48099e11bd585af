"""The built-in data of BERT's other tasks: fixed splits, consistent tags, answers where they say."""
from __future__ import annotations

import json

import pytest

from core.inputs.entities import BUILTIN_ENTITIES, ENTITY_TYPES, builtin_entities
from core.inputs.questions import BUILTIN_QUESTIONS, builtin_questions
from core.tasks.metrics import entity_scores


def test_entity_sentences_have_valid_tags_and_every_type_in_every_split():
    rows = [json.loads(line) for line in BUILTIN_ENTITIES.read_text().splitlines()]
    assert len(rows) >= 400 and all(len(r["tokens"]) == len(r["tags"]) > 0 for r in rows)
    assert len({" ".join(r["tokens"]) for r in rows}) == len(rows)  # no duplicate sentence
    sizes = {}
    for split in ("train", "validation", "test"):
        data = builtin_entities(split)
        sizes[split] = len(data)
        counts = data.entity_counts()
        assert set(counts) == set(ENTITY_TYPES) and min(counts.values()) >= 15, (split, counts)
        for tags in data.tag_strings():  # valid BIO: an I- only continues its own type
            for before, tag in zip(["O", *tags], tags):
                assert not tag.startswith("I-") or before[2:] == tag[2:], tags
        truth = data.tag_strings()
        assert entity_scores(truth, truth)["f1"] == 1.0
    assert sizes == {"train": 360, "validation": 60, "test": 60}


def test_every_answer_is_at_its_offset_and_paragraphs_stay_in_one_split():
    rows = [json.loads(line) for line in BUILTIN_QUESTIONS.read_text().splitlines()]
    assert len(rows) >= 300
    for r in rows:
        (text,), (start,) = r["answers"]["text"], r["answers"]["answer_start"]
        assert r["context"][start:start + len(text)] == text
    splits = {}
    for r in rows:
        splits.setdefault(r["context"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits.values())
    sizes = {split: len(builtin_questions(split)) for split in ("train", "validation", "test")}
    assert sizes == {"train": 280, "validation": 40, "test": 40}


def test_unknown_split_is_friendly():
    from core.errors import UserError

    with pytest.raises(UserError, match="no 'dev' split"):
        builtin_entities("dev")
    with pytest.raises(UserError, match="no 'dev' split"):
        builtin_questions("dev")


def test_nli_pairs_are_balanced_and_split_by_premise():
    import pandas as pd

    from core.inputs.pairs import BUILTIN_PAIRS, NLI_LABELS, builtin_pairs

    frame = pd.read_csv(BUILTIN_PAIRS, dtype=str, keep_default_na=False)
    assert len(frame) >= 600 and not frame.duplicated(["text_a", "text_b"]).any()
    assert frame.groupby("text_a")["split"].nunique().max() == 1  # a premise never leaks into another split
    sizes = {}
    for split in ("train", "validation", "test"):
        data = builtin_pairs(split)
        sizes[split] = len(data)
        counts = data.class_counts()
        assert list(counts) == NLI_LABELS and len(set(counts.values())) == 1, counts  # exactly balanced
        assert len(data.second) == len(data.texts) and all(data.second)
    assert sizes == {"train": 540, "validation": 90, "test": 90}
