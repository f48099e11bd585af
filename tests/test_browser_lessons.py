"""Lessons in a real browser: every built-in lesson walked with Next, each step's page taking the
step's settings; quiz answers that are the model's own; the score as CSV; a teacher's malformed
file refused with its line."""
from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

from browser import offline_page, wait_for_app
from core.lessons.lesson import builtin_lessons
from core.lessons.quiz import make_quiz
from core.models.loading import get_model
from test_browser_faults import no_exception
from test_lessons import MISTAKES


def _new_student(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = offline_page(context, [])
    page.goto(url)
    wait_for_app(page)
    return context, page


def _sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def _pick_lesson(page, title: str) -> None:
    _sidebar(page).locator('[data-testid="stSelectbox"]').filter(has_text=re.compile(r"^Lesson")).click()
    page.get_by_role("option", name=title).click()
    wait_for_app(page)


def _answer(page, choice: str) -> str:
    """Choose `choice`, check it, and return the verdict the sidebar shows."""
    _sidebar(page).get_by_text(choice, exact=True).click()
    _sidebar(page).get_by_role("button", name="Check my answer").click()
    verdict = _sidebar(page).get_by_text("You chose", exact=False)
    verdict.wait_for(timeout=60_000)
    wait_for_app(page)
    return verdict.inner_text()


def test_every_lesson_walks_its_steps_and_the_quiz_answers_are_the_models_own(app_url, browser):
    """Picking a lesson opens its step 1; Next walks it; each lesson keeps its own score."""
    context, page = _new_student(browser, app_url)
    model = get_model("embedded")
    for lesson in builtin_lessons().values():
        answered, right = 0, 0
        _pick_lesson(page, lesson.title)  # opens step 1 by itself
        for i, step in enumerate(lesson.steps):
            if i:
                _sidebar(page).get_by_role("link", name="Next ▶").click()
            path = "" if step.page.name == "home" else step.page.name
            # the page and the step together: the browser may show the new query a moment before the new path
            page.wait_for_url(re.compile(rf"://[^/]+/{re.escape(path)}\?(.*&)?step={i + 1}(&|$)"))
            wait_for_app(page, timeout_ms=180_000)
            no_exception(page)
            where = urlsplit(page.url)
            assert where.path.strip("/") == path, (lesson.name, i)
            query = parse_qs(where.query)
            assert query["lesson"] == [lesson.name] and query["step"] == [str(i + 1)]
            for key, values in step.state.items():  # the page's values (its defaults the address leaves out)
                assert query.get(key, values) == values, (lesson.name, i, key, query.get(key))
            assert f"Step {i + 1} of {len(lesson.steps)}" in _sidebar(page).inner_text()
            if step.question is not None:
                quiz = make_quiz(model, step.question)
                pick = quiz.answer if answered % 2 == 0 else next(c for c in quiz.choices if c != quiz.answer)
                verdict = _answer(page, pick)
                answered, right = answered + 1, right + (pick == quiz.answer)
                expected = "right!" if pick == quiz.answer else f"the model's answer is “{quiz.answer}”"
                assert f"You chose “{pick}”: {expected}" in verdict, verdict
        if answered:  # this lesson's answers only: another lesson's are not added in
            assert f"Your score in this lesson: {right} of {answered} questions answered." in _sidebar(page).inner_text()
    with page.expect_download() as download:
        _sidebar(page).get_by_role("button", name="⬇ My answers (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert len(rows) == answered and sum(r["correct"] == "True" for r in rows) == right
    assert {r["model"] for r in rows} == {"embedded"}
    context.close()


def test_a_malformed_lesson_file_is_refused_with_its_line_and_a_good_one_is_used(app_url, browser, tmp_path):
    context, page = _new_student(browser, app_url)
    _pick_lesson(page, "Your own lesson file…")
    bad_text, line, reason = MISTAKES["unknown page"]
    bad, good = tmp_path / "class.yaml", tmp_path / "fixed.yaml"
    bad.write_text(bad_text)
    good.write_text(bad_text.replace("page: atention", "page: attention"))
    _sidebar(page).locator('input[type="file"]').set_input_files(str(bad))
    error = _sidebar(page).get_by_text(f"class.yaml, line {line}: {reason}", exact=False)
    error.wait_for(timeout=60_000)
    assert "Step 1 of" not in _sidebar(page).inner_text()
    _sidebar(page).locator('input[type="file"]').set_input_files(str(good))
    page.wait_for_url(re.compile(r"/masked\?"))  # a good file opens its step 1 by itself
    _sidebar(page).get_by_text("Step 1 of 2").wait_for(timeout=60_000)
    wait_for_app(page, timeout_ms=180_000)
    no_exception(page)
    assert page.get_by_label("Sentence with masks").input_value() == "Paris is the [MASK] of France."
    context.close()


LEAKY = """title: Two steps on one page
steps:
  - page: attention
    title: A tab and a pair
    text: The statistics of a pair.
    state:
      attn_tab: Head statistics
      attn_pair: A pair from step one.
  - page: attention
    title: Only a sentence
    text: This step sets the sentence alone.
    state:
      attn_text: The second step's sentence.
"""


def test_a_step_sets_everything_it_depends_on_and_nothing_of_the_last_step_survives(app_url, browser, tmp_path):
    """Step 2 names only its sentence: the tab and the pair of step 1 go back to the page's own."""
    context, page = _new_student(browser, app_url)
    _pick_lesson(page, "Your own lesson file…")
    (tmp_path / "leaky.yaml").write_text(LEAKY)
    _sidebar(page).locator('input[type="file"]').set_input_files(str(tmp_path / "leaky.yaml"))
    page.wait_for_url(re.compile(r"/attention\?.*step=1"))
    wait_for_app(page, timeout_ms=180_000)
    assert page.get_by_role("tab", name="Head statistics", selected=True).count() == 1
    assert page.get_by_label("Second sentence", exact=False).input_value() == "A pair from step one."
    _sidebar(page).get_by_role("link", name="Next ▶").click()
    page.wait_for_url(re.compile(r"[?&]step=2(&|$)"))
    wait_for_app(page, timeout_ms=180_000)
    no_exception(page)
    assert page.get_by_label("Sentence", exact=True).input_value() == "The second step's sentence."
    assert page.get_by_label("Second sentence", exact=False).input_value() == ""
    assert page.get_by_role("tab", name="One head", selected=True).count() == 1
    assert "attn_pair" not in parse_qs(urlsplit(page.url).query)
    context.close()
