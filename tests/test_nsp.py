"""Next-sentence prediction checked against transformers' BertForNextSentencePrediction."""
from __future__ import annotations

import functools
import json

import pytest
import torch

from conftest import tiny_choice
from core.errors import UserError
from core.models.loading import get_model
from core.explain.nsp import EXAMPLES, next_sentence_probabilities, next_sentence_probability
from test_masked import _cli, headless_choice, wordpiece_choice

PAIRS = [("the cat sat on the mat .", "a dog ran in the park ."),
         ("paris is the capital of france .", "the food was cold and the service was slow ."),
         ("i loved this film", "it was wonderful .")]


@pytest.fixture(scope="module")
def wp():
    return get_model(wordpiece_choice())


@functools.cache
def _nsp_model():
    from transformers import BertForNextSentencePrediction

    return BertForNextSentencePrediction.from_pretrained(wordpiece_choice()[len("local:"):]).eval()


def _reference(a: str, b: str) -> float:
    """P(is next) from transformers' own NSP model on the same weights."""
    model, tok = _nsp_model(), get_model(wordpiece_choice()).tokenizer
    with torch.no_grad():
        logits = model(**tok(a, b, return_tensors="pt")).logits
    return logits.softmax(-1)[0, 0].item()


def test_probability_matches_bert_for_next_sentence_prediction(wp):
    probs = next_sentence_probabilities(wp, PAIRS + list(EXAMPLES.values()), batch_size=2)
    for (a, b), p in zip(PAIRS + list(EXAMPLES.values()), probs):
        assert p == pytest.approx(_reference(a, b), abs=1e-5)
    assert len(set(round(p, 6) for p in probs)) > 1  # the pairs really differ


def test_single_pair_and_truncation_notice(wp):
    p, notice = next_sentence_probability(wp, *PAIRS[0])
    assert p == pytest.approx(_reference(*PAIRS[0]), abs=1e-5) and notice is None
    long = "the cat sat on the mat . " * 30
    p, notice = next_sentence_probability(wp, long, long)
    assert 0 <= p <= 1 and "cut off" in notice


@pytest.mark.parametrize("a, b", [("", "b"), ("a", "  "), (None, "b")])
def test_empty_sentence_is_refused(wp, a, b):
    with pytest.raises(UserError, match="both sentence A and sentence B"):
        next_sentence_probabilities(wp, [(a, b)])


@pytest.mark.parametrize("arch, words", [("distilbert", "DistilBERT"), ("roberta", "RoBERTa"),
                                         ("albert", "sentence order")])
def test_models_without_nsp_head_are_explained(arch, words):
    loaded = get_model(tiny_choice(arch))
    assert not loaded.has_nsp
    with pytest.raises(UserError, match=words):
        next_sentence_probabilities(loaded, PAIRS)


def test_cli_nsp_json_contract(wp, capsys):
    out = _cli(capsys, "nsp", *PAIRS[0], "--model", wordpiece_choice(), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert list(data) == ["is_next"] and data["is_next"] == pytest.approx(_reference(*PAIRS[0]), abs=1e-5)


def test_cli_nsp_file_batch(wp, tmp_path, capsys):
    path = tmp_path / "pairs.jsonl"
    lines = [json.dumps({"a": a, "b": b}) for a, b in PAIRS]
    path.write_text("\n".join(lines[:2] + ['{"a": "only a"}', "not json"] + lines[2:]) + "\n")
    out = _cli(capsys, "nsp", "--file", str(path), "--model", wordpiece_choice(), "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 5 and out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "error" in rows[2] and "error" in rows[3] and "line 3" in out.stderr
    for (a, b), row in zip(PAIRS, rows[:2] + rows[4:]):
        assert row["is_next"] == pytest.approx(_reference(a, b), abs=1e-5)


@pytest.mark.parametrize("args, words", [
    (("nsp", "only one"), "Give two sentences"),
    (("nsp", "", "b"), "both sentence A and sentence B"),
    (("nsp", "--file", "/nonexistent.jsonl"), "Cannot read"),
])
def test_cli_nsp_bad_input_exit_2(capsys, args, words):
    out = _cli(capsys, *args, "--model", wordpiece_choice(), "--json")
    assert out.returncode == 2 and out.stdout == "" and words in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_untrained_nsp_head_is_explained():
    loaded = get_model(headless_choice())
    with pytest.raises(UserError, match="next-sentence head was not trained"):
        next_sentence_probabilities(loaded, PAIRS)


def test_cli_nsp_model_without_head_exits_2(capsys):
    out = _cli(capsys, "nsp", "a", "b", "--model", tiny_choice("roberta"), "--json")
    assert out.returncode == 2 and "no next-sentence (NSP) head" in out.stderr
