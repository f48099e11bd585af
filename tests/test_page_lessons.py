"""The lesson bar under AppTest. AppTest runs app.py (and so the sidebar) only on a session's first
run, so these tests open the app from a lesson link; choosing, answering and walking the steps
through their links is tested in a real browser (test_browser_lessons.py)."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from browser import ROOT
from core.explain.masked import fill_mask
from core.lessons.lesson import builtin_lessons
from core.lessons.quiz import make_quiz
from core.models.loading import get_model

MASKED_LESSON = "3-masked-words-nsp-finetuning"


def _open(**link) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params.update(link)
    return at.run()


def test_a_lesson_link_opens_its_step_with_the_models_own_question_and_no_answer_shown():
    lesson = builtin_lessons()[MASKED_LESSON]
    at = _open(lesson=MASKED_LESSON, step="1")
    assert not at.exception
    assert at.session_state["lesson_name"] == MASKED_LESSON and at.session_state["lesson_step"] == 0
    assert at.sidebar.selectbox(key="lesson_pick").value == MASKED_LESSON
    shown = " ".join(m.value for m in at.sidebar.markdown)
    assert lesson.steps[0].text.split("\n")[0] in shown
    quiz = make_quiz(get_model("embedded"), lesson.steps[0].question)
    right = fill_mask(get_model("embedded"), lesson.steps[0].question.sentence, top_k=1).predictions[0][0].token.strip()
    radio = at.sidebar.radio[0]
    assert quiz.answer == right and right in radio.options and radio.value is None
    assert list(radio.options) == list(quiz.choices)
    everything = shown + " ".join(c.value for c in at.sidebar.caption)
    assert quiz.reveal not in everything and "right!" not in everything  # nothing revealed before the choice
    assert next(b for b in at.sidebar.button if b.key.startswith("quiz_check")).disabled


def test_a_link_to_an_unknown_lesson_or_step_is_ignored():
    for link in ({"lesson": "nope", "step": "1"}, {"lesson": MASKED_LESSON, "step": "99"},
                 {"lesson": MASKED_LESSON, "step": "two"}, {"lesson": "own", "step": "1"}):
        at = _open(**link)
        assert not at.exception and "lesson_name" not in at.session_state, link
        assert at.sidebar.selectbox(key="lesson_pick").value == ""


def test_a_teachers_malformed_file_on_the_server_is_named_and_the_other_lessons_stay(tmp_path, monkeypatch):
    from core.lessons import lesson as lesson_module
    from pages._lesson import shelf
    from test_lessons import MISTAKES

    titles = {lesson.title for lesson in builtin_lessons().values()}
    for path in lesson_module.LESSONS_DIR.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "4-mine.yaml").write_text(MISTAKES["unknown field"][0])
    monkeypatch.setattr(lesson_module, "LESSONS_DIR", tmp_path)
    shelf.clear()
    try:
        at = _open()
        assert not at.exception
        notes = [c.value for c in at.sidebar.caption if "was left out" in c.value]
        assert notes == ["⚠️ lessons/4-mine.yaml was left out: line 12: unknown field 'txt' in a step "
                         "(expected page, text, title, state, question)."]
        assert set(at.sidebar.selectbox(key="lesson_pick").options) >= titles
    finally:
        shelf.clear()
