"""Every example the app proposes is right for the embedded model, the one a class sees offline.

A page default, a "Try it" text, a ready next-sentence pair, a lesson step's sentence or a lesson's
claim about heads: each is checked here against the real model with an answer key a person wrote,
so the app never proposes an example its own model gets wrong, nor rewards a false statement.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.explain.attention import compute_attention, result_stats
from core.explain.masked import fill_mask
from core.explain.nsp import EXAMPLES, next_sentence_probabilities
from core.inputs import examples
from core.lessons.lesson import builtin_lessons
from core.lessons.quiz import make_quiz
from core.models.loading import get_model

ROOT = Path(__file__).resolve().parent.parent

# What a person accepts as the word at [MASK]: the model's top guess must be one of these.
RIGHT_WORDS = {
    examples.FILL_MASK: {"ocean", "sea"},
    examples.EXPLAIN_MASKED: {"days"},
    examples.INSIDE_BERT: {"fly"},
    "A week has seven [MASK].": {"days"},
    "She drank a cup of hot [MASK] every morning.": {"tea", "coffee", "milk", "chocolate", "water", "soup"},
}
NSP_RIGHT = {"A true continuation": True, "A random sentence": False, "A question and its answer": True,
             "Another true continuation": True}
UNRELATED = "Giraffes have very long necks."


@pytest.fixture(scope="module")
def embedded():
    return get_model("embedded")


def lesson_masked_sentences() -> set[str]:
    """Every sentence with [MASK] that a built-in lesson shows or asks about."""
    found = set()
    for lesson in builtin_lessons().values():
        for step in lesson.steps:
            found |= {v for values in step.state.values() for v in values if "[MASK]" in v}
            if step.question and "[MASK]" in step.question.sentence:
                found.add(step.question.sentence)
    return found


def test_every_proposed_masked_sentence_has_an_answer_key():
    proposed = {examples.FILL_MASK, examples.EXPLAIN_MASKED, examples.INSIDE_BERT} | lesson_masked_sentences()
    assert proposed <= set(RIGHT_WORDS), proposed - set(RIGHT_WORDS)


@pytest.mark.parametrize("sentence", sorted(RIGHT_WORDS))
def test_the_embedded_models_top_guess_is_a_right_word(embedded, sentence):
    top = fill_mask(embedded, sentence, top_k=3).predictions[0][0].token
    assert top in RIGHT_WORDS[sentence], (sentence, top)


def test_fill_mask_quizzes_reward_a_right_word(embedded):
    """A quiz asks what the model will say; its answer must also be true of English."""
    for lesson in builtin_lessons().values():
        for step in lesson.steps:
            if step.question and step.question.kind == "fill-mask":
                quiz = make_quiz(embedded, step.question)
                assert quiz.answer in RIGHT_WORDS[step.question.sentence], (lesson.name, step.title, quiz.answer)


def test_ready_next_sentence_pairs_are_answered_rightly(embedded):
    assert set(EXAMPLES) == set(NSP_RIGHT)
    for (name, (a, b)), p in zip(EXAMPLES.items(), next_sentence_probabilities(embedded, list(EXAMPLES.values()))):
        assert (p > 0.5) == NSP_RIGHT[name], (name, p)


def test_lesson_next_sentence_pairs_follow_and_a_random_b_does_not(embedded):
    pairs = [(step.state["nsp_a"][0], step.state["nsp_b"][0]) for lesson in builtin_lessons().values()
             for step in lesson.steps if "nsp_a" in step.state]
    assert pairs
    for a, b in pairs:
        real, random = next_sentence_probabilities(embedded, [(a, b), (a, UNRELATED)])
        assert real > 0.5 > random, (a, b, real, random)


def test_the_lesson_on_resting_heads_names_the_token_this_model_parks_on(embedded):
    """Lesson 2 says: over half of the embedded model's 72 heads put more than half of every token's
    attention on [CLS] (bert-base's heads park on [SEP]); and it opens the statistic that shows it."""
    (step,) = [s for s in builtin_lessons()["2-attention-heads"].steps if "stat_name" in s.state]
    stats = result_stats(compute_attention(embedded, step.state["attn_text"][0]))
    parked = int((stats["cls"] > 0.5).sum())
    assert parked > stats["cls"].size / 2, parked
    assert (stats["sep"] > 0.5).sum() == 0  # so a lesson claiming [SEP] here would be false
    assert step.state["stat_name"] == ["Attention to [CLS]"] and "[CLS]" in step.text


def test_every_heading_a_lesson_names_exists_on_its_page():
    """A step that says "scroll to *3 · The vocabulary*" must name a heading the page draws, and a
    tab or choice it opens must be one the page offers."""
    free_text = re.compile(r"(_text|_masked|_query|_a|_b|_pair|_word|_context)$")  # typed text, not a choice
    for lesson in builtin_lessons().values():
        for step in lesson.steps:
            source = (ROOT / step.page.path).read_text(encoding="utf-8")
            for heading in re.findall(r"\*(\d+ · [^*]+)\*", step.text):
                assert f'"{heading}"' in source, (lesson.name, step.title, heading)
            for key, values in step.state.items():
                if not free_text.search(key) and not all(v.isdigit() for v in values):
                    for value in values:
                        assert f'"{value}"' in source, (lesson.name, step.title, key, value)


def test_the_try_it_sentence_is_right_after_the_pages_default_fine_tune():
    """The Fine-tuning page's defaults on its built-in reviews, then its "Try it" sentence: a class
    that presses Start and tries the proposed sentence sees the right label."""
    from core.inputs.datasets import builtin_sentiment
    from core.models.classifiers import as_loaded, classify
    from core.tasks.sources import RECIPES
    from core.training.config import TrainConfig
    from core.training.finetune import finetune

    train = builtin_sentiment("train")
    config = TrainConfig(**RECIPES["sentences"])  # the page's settings for this task
    result = finetune("embedded", train, builtin_sentiment("validation", train.label_names), config)
    label, scores, _ = classify(as_loaded(result), examples.TRY_SENTENCE)
    assert label == "positive" and scores[label] > 0.7, scores


def test_the_neighbours_example_finds_what_the_page_says(embedded, tmp_path, monkeypatch):
    """The Layers page says: the river *bank* of its example finds money banks (the corpus has no
    river banks) and, at the top layers, places used as it is used (side, bottom, end)."""
    from core.layers import neighbours
    from core.layers.states import token_table

    monkeypatch.setattr(neighbours, "RUNS_DIR", tmp_path)
    index = neighbours.build_index(embedded)
    query = token_table(embedded, ["We sat on the bank of the river."])
    bank = next(i for i in range(len(query.tokens)) if query.tokens[i] == "bank")
    found = neighbours.nearest(index, query, bank, index.n_layers - 1, 10)
    words = [n["word"] for n in found.to_json()["neighbors"]]
    assert "bank" in words and {"side", "bottom", "end"} & set(words), words


def test_the_layers_pages_probe_numbers_are_the_models_own(embedded):
    """The Layers page's summary quotes the probes of the embedded model: each number is the one the
    page's own probe run (its default tasks and words) gives."""
    import ast

    from core.layers.pos import tagger_missing
    from core.layers.probes import run_probes, selectivity

    if tagger_missing():
        pytest.skip(tagger_missing())
    source = (ROOT / "pages" / "layers.py").read_text(encoding="utf-8")
    summary = next(ast.literal_eval(node.args[0]) for node in ast.walk(ast.parse(source))
                   if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "info"
                   and "What the embedded model shows" in ast.literal_eval(node.args[0]))
    results = run_probes(embedded)
    pos, control, sentiment = (results[t].accuracy for t in ("pos", "control", "sentiment"))
    best = max(range(len(pos)), key=pos.__getitem__)
    claims = [f"reads {pos[0]:.0%} at layer 0", f"peaks at {pos[best]:.1%} in layer {best}",
              f"falls to {pos[-1]:.0%} at the top", f"falls from {control[0]:.0%} to {control[-1]:.0%}",
              f"peaks at layer {max(range(len(pos)), key=selectivity(results).__getitem__)}",
              f"rises from chance to {max(sentiment):.0%} at layer {max(range(len(sentiment)), key=sentiment.__getitem__)}"]
    assert [c for c in claims if c not in summary] == [], summary


def test_the_entities_example_is_tagged_rightly_after_the_pages_default_fine_tune():
    """Named entities with the page's settings for the task (half a minute): the proposed sentence's
    people and place come out as a person would tag them."""
    from core.models.classifiers import as_loaded
    from core.tasks.predict import tag_text
    from core.tasks.sources import RECIPES, task_data
    from core.training.config import TrainConfig
    from core.training.finetune import finetune

    data = task_data("tokens")
    result = finetune("embedded", data.builtin("train"), data.builtin("validation"), TrainConfig(**RECIPES["tokens"]))
    tagged = tag_text(as_loaded(result), data.example["text"])
    assert [(e["text"], e["type"]) for e in tagged.entities] == [
        ("Ada Lovelace", "PER"), ("Charles Babbage", "PER"), ("London", "LOC")], tagged.entities
