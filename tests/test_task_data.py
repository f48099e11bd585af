"""Uploads for BERT's other tasks: pairs CSV, CoNLL / JSONL tags, SQuAD / JSONL questions."""
from __future__ import annotations

import json

import pytest

from core.errors import UserError
from core.inputs.entities import parse_tagged
from core.inputs.pairs import read_pairs_csv
from core.inputs.questions import parse_questions


def test_pairs_csv_reads_both_sentences_and_keeps_them_aligned():
    data = read_pairs_csv(b"text_a,text_b,label\nA cat sleeps.,An animal rests.,entailment\n"
                          b"A cat sleeps.,A dog barks.,neutral\nIt rains.,It is dry.,contradiction\n")
    assert data.second == ["An animal rests.", "A dog barks.", "It is dry."]
    assert data.label_names == ["contradiction", "entailment", "neutral"]
    part = data.subset([2, 0])
    assert part.texts == ["It rains.", "A cat sleeps."] and part.second == ["It is dry.", "An animal rests."]
    assert part.labels == [0, 1]


def test_pairs_csv_errors_name_the_problem():
    with pytest.raises(UserError, match="no column 'text_a'.*text_a,text_b,label"):
        read_pairs_csv(b"text,label\na,b\n")
    with pytest.raises(UserError, match="empty text_b.*data row 2"):
        read_pairs_csv(b"text_a,text_b,label\na,b,x\nc,,y\n")
    with pytest.raises(UserError, match="'maybe'.*never shows"):
        read_pairs_csv(b"text_a,text_b,label\na,b,maybe\n", ["no", "yes"])


def test_conll_and_jsonl_give_the_same_sentences():
    conll = "-DOCSTART- O\n\nAnna B-PER\nBerg I-PER\nflew O\nto O\nOslo B-LOC\n. O\n\nHi O\nthere O\n"
    jsonl = "\n".join(json.dumps(r) for r in [
        {"tokens": ["Anna", "Berg", "flew", "to", "Oslo", "."], "tags": ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]},
        {"tokens": ["Hi", "there"], "tags": ["O", "O"]}])
    a, b = parse_tagged(conll), parse_tagged(jsonl)
    assert a.tokens == b.tokens and a.tags == b.tags
    assert a.tag_names == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]  # read from the file: any BIO set
    assert a.entity_counts() == {"LOC": 1, "PER": 1}


def test_tagged_errors_name_line_and_expectation():
    with pytest.raises(UserError, match="line 2: expected a word and its tag"):
        parse_tagged("Anna B-PER\nBerg\n")
    with pytest.raises(UserError, match="line 1: 'PER' is not a BIO tag"):
        parse_tagged("Anna PER\n")
    with pytest.raises(UserError, match="line 2: expected an object with \"tokens\": list, \"tags\": list"):
        parse_tagged('{"tokens": ["a"], "tags": ["B-X"]}\n{"text": "b"}\n')
    with pytest.raises(UserError, match="line 1: 'tokens' and 'tags' need the same"):
        parse_tagged('{"tokens": ["a", "b"], "tags": ["B-X"]}\n')
    with pytest.raises(UserError, match="'B-GENE'.*never shows.*must match"):
        parse_tagged("ACE2 B-GENE\n", ["O", "B-PER", "I-PER"], "eval.conll")
    with pytest.raises(UserError, match="only 'O'"):
        parse_tagged("a O\nb O\n")


SQUAD = {"data": [{"title": "T", "paragraphs": [{"context": "Maren lives in Tromso.", "qas": [
    {"id": "x1", "question": "Where does Maren live?", "answers": [{"text": "Tromso", "answer_start": 15}]}]}]}]}


def test_squad_json_and_jsonl_read_the_same_item():
    line = json.dumps({"id": "x1", "context": "Maren lives in Tromso.", "question": "Where does Maren live?",
                       "answers": {"text": ["Tromso"], "answer_start": [15]}})
    a, b = parse_questions(json.dumps(SQUAD)), parse_questions(line + "\n")
    assert a == b and a.answers == [[("Tromso", 15)]] and a.ids == ["x1"]


def test_questions_with_a_wrong_offset_or_shape_are_refused():
    wrong = json.dumps({"context": "Maren lives in Tromso.", "question": "Where?",
                        "answers": {"text": ["Tromso"], "answer_start": [3]}})
    with pytest.raises(UserError, match=r"line 2: the answer 'Tromso' is not at character 3 .*found 'en liv'"):
        parse_questions(json.dumps({"context": "a b", "question": "q", "answers": {"text": ["a"], "answer_start": [0]}})
                        + "\n" + wrong)
    with pytest.raises(UserError, match="line 1: not JSON"):
        parse_questions("{oops\n")
    with pytest.raises(UserError, match="no answer.*SQuAD v1"):
        parse_questions(json.dumps({"context": "c", "question": "q", "answers": {"text": [], "answer_start": []}}))
    with pytest.raises(UserError, match="line 1: expected an object with \"context\""):
        parse_questions('{"context": "c"}\n')
