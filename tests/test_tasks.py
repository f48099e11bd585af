"""The pieces of BERT's other tasks: label alignment, QA windows and spans, and their metrics."""
from __future__ import annotations

import pytest

from core.inputs.entities import TaggedSentences, order_tags
from core.models.loading import get_model
from core.tasks.metrics import answer_f1, entity_scores, exact_match, normalize_answer, squad_scores
from core.tasks.spans import answer_positions, best_answers, best_span, encode_questions
from core.tasks.tokens import IGNORED, align_labels, encode_tagged, word_predictions


@pytest.fixture(scope="module")
def tokenizer():
    return get_model("embedded").tokenizer


def test_labels_go_on_the_first_piece_of_each_word(tokenizer):
    names = order_tags(["B-PER", "I-PER", "B-LOC"])
    words = ["Okonkwo-Bamidele", "visited", "Szczepanski", "in", "Lodz"]
    tags = [names.index(t) for t in ["B-PER", "O", "B-PER", "O", "B-LOC"]]
    feature = encode_tagged(tokenizer, TaggedSentences([words], [tags], names), 64)[0]
    pieces = tokenizer.convert_ids_to_tokens(feature["input_ids"])
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    first = [k for k, w in enumerate(feature["word_ids"]) if w is not None and (k == 0 or feature["word_ids"][k - 1] != w)]
    assert len(first) == len(words) and len(pieces) > len(words) + 4  # several words split into pieces
    assert [feature["labels"][k] for k in first] == tags
    assert sum(label != IGNORED for label in feature["labels"]) == len(words)
    assert feature["labels"][0] == IGNORED and feature["labels"][-1] == IGNORED
    # reading predictions back from the first pieces gives one per word
    assert word_predictions(feature["word_ids"], feature["labels"], len(words), 0) == tags


def test_align_labels_by_hand():
    assert align_labels([None, 0, 0, 1, 2, 2, 2, None], [3, 0, 1]) == [IGNORED, 3, IGNORED, 0, 1, IGNORED, IGNORED, IGNORED]
    assert word_predictions([None, 0, 0, 1, None], [9, 4, 5, 6, 9], 3, 0) == [4, 6, 0]  # word 2 was cut off: O


def test_answer_in_the_second_window_is_found(tokenizer):
    filler = " ".join(f"Sentence {n} talks about the weather in the valley." for n in range(12))
    context = filler + " The lighthouse keeper was called Maren Olsvik."
    answer = "Maren Olsvik"
    start = context.index(answer)
    features = encode_questions(tokenizer, ["Who kept the lighthouse?"], [context], [[(answer, start)]], 64, 16)
    assert len(features) > 2
    holding = [f for f in features if f["start_positions"] > 0]
    assert holding and features[0]["start_positions"] == features[0]["end_positions"] == 0  # CLS: not in window 1
    for f in holding:
        s, e = f["offsets"][f["start_positions"]][0], f["offsets"][f["end_positions"]][1]
        assert context[s:e] == answer
    # logits that point at the gold tokens of the last window pick the answer back out of the context
    logits = []
    for f in features:
        starts, ends = [0.0] * len(f["input_ids"]), [0.0] * len(f["input_ids"])
        if f["start_positions"]:
            starts[f["start_positions"]], ends[f["end_positions"]] = 5.0, 5.0
        logits.append((starts, ends))
    text, begin, _ = best_answers(features, logits, [context])[0]
    assert (text, begin) == (answer, start)


def test_best_span_respects_order_length_and_context():
    offsets = [None, None, (0, 3), (4, 9), (10, 12), None]
    assert best_span([0, 9, 1, 5, 0, 9], [9, 0, 0, 1, 4, 9], offsets)[1:] == (3, 4)  # never [CLS], the question or [SEP]
    assert best_span([0, 0, 0, 0, 9, 0], [0, 0, 9, 0, 0, 0], offsets)[1:] != (4, 2)  # end >= start
    assert best_span([0, 0, 9, 0, 0, 0], [0, 0, 0, 0, 9, 0], offsets, max_tokens=2)[1:] != (2, 4)
    assert answer_positions(offsets, 4, 12) == (3, 4) and answer_positions(offsets, 11, 20) == (0, 0)


def test_squad_metrics_match_hand_computation():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert exact_match("the Eiffel tower", ["Eiffel Tower"]) == 1.0
    # "tower in paris" vs "eiffel tower": 1 common word, P = 1/3, R = 1/2, F1 = 0.4
    assert answer_f1("tower in Paris", ["Eiffel Tower"]) == pytest.approx(0.4)
    assert answer_f1("tower in Paris", ["Eiffel Tower", "Paris"]) == pytest.approx(0.5)  # best gold: P 1/3 R 1
    scores = squad_scores(["Eiffel Tower", "tower in Paris"], [["Eiffel Tower"], ["Eiffel Tower"]])
    assert scores == pytest.approx({"exact_match": 0.5, "f1": 0.7})


def test_entity_scores_match_hand_computation():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"]]
    s = entity_scores(true, pred)
    # gold: PER x2, LOC, ORG = 4; predicted: PER, ORG, ORG = 3; right: PER (Anna..), ORG = 2
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 4)
    assert s["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert s["accuracy"] == pytest.approx(5 / 7)
    assert s["per_type"]["PER"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert s["per_type"]["LOC"]["recall"] == 0.0 and s["per_type"]["ORG"]["precision"] == 0.5
