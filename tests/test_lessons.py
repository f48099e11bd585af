"""Lessons: the built-in files, a teacher's mistakes refused with their line, quiz answers that are
the model's own output, the answers CSV and the `lesson` command."""
from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from core.errors import UserError
from core.explain.attention import compute_attention, result_stats, top_head
from core.explain.attributions import explain
from core.explain.masked import fill_mask
from core.explain.targets import choose_target
from core.inputs.examples import FILL_MASK
from core.lessons.lesson import LESSONS_DIR, Question, builtin_lessons, parse_lesson, read_lesson, read_lessons
from core.lessons.pages import EVERY_PAGE, page_catalog
from core.lessons.quiz import ANSWER_COLUMNS, DISTRACTORS, IG_STEPS, N_CHOICES, TOP_K, answers_csv, make_quiz
from core.models.loading import get_model
from in_process import run
from test_masked import headless_choice, wordpiece_choice

GOOD = """\
title: A test lesson
steps:
  - page: masked
    text: Guess the word.
    state:
      mlm_text: Paris is the [MASK] of France.
      mlm_topk: 7
    question:
      kind: fill-mask
      sentence: Paris is the [MASK] of France.
  - page: attention
    text: Look at the heads.
    state:
      attn_tab: One head
"""


def test_the_pages_and_their_shareable_settings_are_read_from_the_sources():
    pages = page_catalog()
    assert list(pages)[:5] == ["home", "tokens", "attention", "layers", "masked"]
    assert {"mlm_text", "mlm_topk", "mlm_tab", "nsp_a", "nsp_b", "model"} <= pages["masked"].settings
    assert {"attn_text", "attn_tab", "stat_name"} <= pages["attention"].settings
    assert pages["home"].settings == {"model"} and pages["masked"].path == "pages/masked.py"


def test_the_builtin_lessons_cover_the_three_topics_and_ask_questions_of_every_kind():
    lessons = builtin_lessons()
    assert len(lessons) >= 3
    titles = " ".join(lesson.title for lesson in lessons.values()).lower()
    assert "wordpiece" in titles and "attention" in titles and "masked" in titles and "fine-tuning" in titles
    kinds = {s.question.kind for lesson in lessons.values() for s in lesson.steps if s.question}
    assert kinds == {"fill-mask", "previous-token-head", "ig-top-word", "choice"}
    assert all(len(lesson.steps) >= 4 for lesson in lessons.values())


def test_a_good_lesson_reads_with_its_settings_as_address_values():
    lesson = parse_lesson(GOOD, "test")
    first, second = lesson.steps
    assert first.page.name == "masked" and first.title == "Masked words & NSP"  # no title: the page's
    assert first.state == {"mlm_text": ["Paris is the [MASK] of France."], "mlm_topk": ["7"]}
    assert first.question == Question("fill-mask", sentence="Paris is the [MASK] of France.")
    assert second.state == {"attn_tab": ["One head"]} and second.question is None
    as_json = json.dumps({"title": "J", "steps": [{"page": "tokens", "text": "t", "state": {"tok_word": "river"}}]})
    assert parse_lesson(as_json, "j").steps[0].state == {"tok_word": ["river"]}  # JSON is YAML


MISTAKES = {  # a mistake -> (its line, words the reason must hold)
    "unknown page": (GOOD.replace("page: attention", "page: atention"), 11, "unknown page 'atention'"),
    "unknown field": (GOOD.replace("    text: Look", "    txt: Look"), 12, "unknown field 'txt'"),
    "unknown setting": (GOOD.replace("attn_tab:", "attn_tabs:"), 14, "no setting 'attn_tabs'"),
    "no mask": (GOOD.replace("sentence: Paris is the [MASK]", "sentence: Paris is the capital"), 10, "exactly one [MASK]"),
    "unknown kind": (GOOD.replace("kind: fill-mask", "kind: essay"), 9, "unknown question kind 'essay'"),
    "bad YAML": (GOOD.replace("    text: Look at the heads.", "    text: [Look at"), 13, "(in a flow sequence that starts on line 12)"),
    "missing text": (GOOD.replace("    text: Guess the word.\n", ""), 3, "needs a 'text' field"),
    "empty steps": ("title: T\nsteps: []\n", 2, "1 to 40 steps"),
    "text not a list": ("title: T\nsteps:\n  page: home\n", 3, "must be a list"),
    "repeated setting": (GOOD.replace("      mlm_topk: 7", "      mlm_text: again"), 7, "appears twice"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_a_malformed_lesson_is_refused_with_its_line_and_the_reason(name):
    text, line, reason = MISTAKES[name]
    with pytest.raises(UserError) as err:
        parse_lesson(text, "bad")
    assert str(err.value).startswith(f"line {line}: ") and reason in str(err.value), str(err.value)


def test_choice_questions_are_checked_and_files_limited():
    choice = GOOD.replace("      kind: fill-mask\n      sentence: Paris is the [MASK] of France.\n",
                          "      kind: choice\n      prompt: Which?\n      choices: [a, b]\n      answer: c\n")
    with pytest.raises(UserError, match=r"^line 12: the answer 'c' is not one of the choices"):
        parse_lesson(choice, "c")
    lesson = parse_lesson(choice.replace("answer: c", "answer: b"), "c")
    assert lesson.steps[0].question == Question("choice", prompt="Which?", choices=("a", "b"), answer="b")
    with pytest.raises(UserError, match="at most 64 KB"):
        parse_lesson(GOOD + "#" * 70_000, "big")
    with pytest.raises(UserError, match="empty"):
        parse_lesson("", "empty")


def test_a_malformed_file_in_the_folder_is_left_out_with_its_line_and_the_others_stay(tmp_path):
    (tmp_path / "2-good.yaml").write_text(GOOD)
    (tmp_path / "1-bad.json").write_text(MISTAKES["unknown page"][0])
    (tmp_path / "notes.md").write_text("not a lesson")
    lessons, refused = read_lessons(tmp_path)
    assert list(lessons) == ["2-good"] and lessons["2-good"].title == "A test lesson"
    assert list(refused) == ["1-bad.json"] and refused["1-bad.json"].startswith("line 11: unknown page 'atention'")
    assert read_lessons() == (builtin_lessons(), {})  # the shipped lessons are all well formed


def test_read_lesson_refuses_a_missing_or_binary_file(tmp_path):
    with pytest.raises(UserError, match="Cannot read"):
        read_lesson(tmp_path / "nope.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00title")
    with pytest.raises(UserError, match="UTF-8"):
        read_lesson(tmp_path / "bin.yaml")


SENTENCE = "the cat sat on the [MASK] ."


def test_fill_mask_quiz_answer_is_the_models_own_top_guess_and_hides_nothing_in_the_order():
    loaded = get_model(wordpiece_choice())
    question = Question("fill-mask", sentence=SENTENCE)
    quiz = make_quiz(loaded, question)
    top = [p.token.strip() for p in fill_mask(loaded, SENTENCE, top_k=TOP_K).predictions[0]]
    assert quiz.answer == top[0]
    assert len(quiz.choices) == N_CHOICES == len(set(quiz.choices)) and quiz.answer in quiz.choices
    distractor = next(w for w in DISTRACTORS if w not in top)
    assert set(quiz.choices) == set(list(dict.fromkeys(top))[:3]) | {distractor}
    assert make_quiz(loaded, question) == quiz  # the same order on every reload
    assert f"“{top[0]}”" in quiz.reveal and "not among its top 10" in quiz.reveal


def test_previous_token_head_quiz_answer_is_the_head_with_the_most_attention_on_the_previous_token():
    loaded = get_model(wordpiece_choice())
    quiz = make_quiz(loaded, Question("previous-token-head", sentence="the cat sat on the mat ."))
    layer, head, share = top_head(result_stats(compute_attention(loaded, "the cat sat on the mat .")), "prev")
    assert quiz.answer == f"layer {layer + 1}, head {head + 1}" and quiz.answer in quiz.choices
    assert len(quiz.choices) == N_CHOICES == len(set(quiz.choices))  # 2 x 4 heads: enough rivals
    assert f"{quiz.answer}: {share:.0%}" in quiz.reveal


def test_ig_quiz_answer_is_the_word_integrated_gradients_ranks_first():
    loaded = get_model(wordpiece_choice())
    quiz = make_quiz(loaded, Question("ig-top-word", sentence="a dog ran in the [MASK] and the cat watched ."))
    text = "a dog ran in the [MASK] and the cat watched ."
    found = explain(loaded, text, choose_target(loaded, text, masked=True), methods=("ig",), steps=IG_STEPS)
    scores: dict[str, float] = {}  # a word written twice counts at its higher score
    for i, (word, score) in enumerate(zip(found.words.words, found.scores["ig"])):
        if i not in found.fixed:
            scores[word] = max(score, scores.get(word, -np.inf))
    assert quiz.answer == max(scores, key=scores.get) and quiz.answer != "[MASK]" and quiz.answer in quiz.choices
    assert len(quiz.choices) == N_CHOICES and set(quiz.choices) <= set(scores)


def test_a_model_without_an_mlm_head_cannot_answer_masked_questions():
    with pytest.raises(UserError, match="no trained masked-word"):
        make_quiz(get_model(headless_choice()), Question("fill-mask", sentence=SENTENCE))
    quiz = make_quiz(get_model(headless_choice()), Question("previous-token-head", sentence="the cat sat ."))
    assert quiz.answer in quiz.choices  # attention needs no head


def test_answers_csv_has_one_row_per_answer():
    rows = [{"time": "t", "lesson": "L, with comma", "step": 2, "model": "embedded", "question": "Q?\nline",
             "your answer": "a", "right answer": "b", "correct": False}]
    read = list(csv.DictReader(io.StringIO(answers_csv(rows))))
    assert list(read[0]) == list(ANSWER_COLUMNS) and read[0]["lesson"] == "L, with comma"
    assert read[0]["question"] == "Q?\nline" and read[0]["correct"] == "False"


def test_lesson_command_lists_checks_and_previews_answers(tmp_path):
    code, out, _ = run(["lesson", "--json"])
    assert code == 0 and {row["lesson"] for row in json.loads(out)} == set(builtin_lessons())
    good = tmp_path / "mine.yaml"
    good.write_text(GOOD.replace("Paris is the [MASK] of France.", SENTENCE))
    code, out, _ = run(["lesson", str(good), "--model", wordpiece_choice(), "--json"])
    preview = json.loads(out)
    expected = fill_mask(get_model(wordpiece_choice()), SENTENCE, top_k=1).predictions[0][0].token.strip()
    assert code == 0 and preview["steps"][0]["question"]["answer"] == expected
    bad = tmp_path / "bad.yaml"
    bad.write_text(MISTAKES["unknown page"][0])
    code, out, err = run(["lesson", str(bad)])
    assert code == 2 and out == "" and err.strip() == "error: line 11: unknown page 'atention' (pages: " + \
        ", ".join(page_catalog()) + ")."


def test_the_teachers_guide_lists_every_pages_settings():
    """lessons/README.md's table is what teachers write from: it must match what the pages bind."""
    documented = {}
    for line in (LESSONS_DIR / "README.md").read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if len(cells) == 4 and cells[1].strip().startswith("`"):
            for name in re.findall(r"`(\w+)`", cells[1]):
                documented[name] = set(re.findall(r"`(\w+)`", cells[2]))
    assert documented == {name: set(page.settings) - EVERY_PAGE for name, page in page_catalog().items()}


def test_pages_settings_carry_their_labels_and_the_values_they_start_with():
    """What "Download this page" names an input, and what a lesson step that leaves a setting out
    puts back: read from the page's own widget calls."""
    catalog = page_catalog()
    attention, finetune = catalog["attention"], catalog["finetune"]
    assert attention.labels["attn_text"] == "Sentence" and attention.labels["attn_tab"] == "Open tab"
    assert catalog["tokens"].labels["tok_text"] == "Sentence A / Your text"
    assert attention.defaults["attn_pair"] == "" and attention.defaults["attn_tab"] == "One head"
    assert catalog["masked"].defaults["mlm_text"] == FILL_MASK  # from the page's keep(...)
    assert "nsp_a" not in catalog["masked"].defaults  # computed by the page: not guessed
    assert "ft_epochs" not in finetune.defaults and finetune.defaults["ft_batch"] == 16  # the recipe sets epochs
