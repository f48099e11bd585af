"""The lesson bar in the sidebar: pick a lesson, walk its steps, answer its questions.

A step is opened by a link (`st.page_link`) to its page with the step's settings as the page's own
address parameters plus `lesson`, `step` and the student's `me`: the page's bound widgets take the
settings from the address, exactly as they do for a shared link. (`st.switch_page` cannot do it:
it refuses to leave a page whose widgets are bound to the address.)
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import streamlit as st

from core.errors import UserError
from core.lessons.lesson import MAX_BYTES, Lesson, parse_lesson, read_lessons
from core.lessons.quiz import Quiz, answers_csv, make_quiz
from pages._common import cached_model, model_choice, session_id, take_linked_model

OWN = "own"  # an uploaded lesson's name: it lives in its session only (a link naming it elsewhere is ignored)
_NONE, _UPLOAD = "", "upload"


@st.cache_resource(ttl=60, show_spinner=False)
def shelf() -> tuple[dict[str, Lesson], dict[str, str]]:
    """The server's lessons (lessons/) and the files refused there, read and checked once a minute:
    a teacher who drops a file in the folder sees it in every student's picker a minute later."""
    return read_lessons()


def lessons() -> dict[str, Lesson]:
    return shelf()[0]


@st.cache_data(max_entries=256, show_spinner="Asking the model…")
def cached_quiz(choice: str, question) -> Quiz:
    """One computation per (model, question), shared by the class: thirty students, one forward pass."""
    return make_quiz(cached_model(choice), question)


def _lesson_named(name: str) -> Lesson | None:
    if name == OWN:
        return st.session_state.get("lesson_own")
    return lessons().get(name)


def _active() -> tuple[Lesson, int] | None:
    lesson = _lesson_named(st.session_state.get("lesson_name", _NONE))
    return (lesson, st.session_state.get("lesson_step", 0)) if lesson else None


def arrive_at_step(page: str) -> None:
    """Before anything reads the settings: a run that came by a lesson link (`?lesson=…&step=N`) to
    `page` makes that step current and lets the page's widgets take its settings from the address
    (a value the session already holds would otherwise win over the address). Runs of the same
    step on the same page (the student working) leave the widgets alone."""
    if st.session_state.pop("lesson_open", False) and (active := _active()):
        _open_step(*active)  # a lesson was just picked: its first step opens, settings and all
    name, step = st.query_params.get("lesson", ""), st.query_params.get("step", "")
    lesson = _lesson_named(name)
    if lesson is None or not step.isdigit() or not 1 <= int(step) <= len(lesson.steps):
        return
    if st.session_state.get("lesson_seen") == (name, step, page):
        return
    st.session_state.update(lesson_seen=(name, step, page), lesson_name=name, lesson_step=int(step) - 1)
    current = lesson.steps[int(step) - 1]
    if current.page.name != page:
        return
    for key in current.page.settings:  # the step's settings come from the address; the others start afresh
        if key in current.state or key not in current.page.defaults:
            st.session_state.pop(key, None)
        else:  # set, not dropped: the browser would otherwise keep showing (and send back) the old value
            st.session_state[key] = current.page.defaults[key]
    st.query_params["step"] = step  # unchanged, but it sends the browser the step's whole address
    take_linked_model(current.state.get("model", [""])[-1])


def _step_address(lesson: Lesson, index: int) -> dict[str, list[str] | str]:
    """The address that opens step `index`: its settings, the lesson, the step and the student's id."""
    params = {**lesson.steps[index].state, "lesson": lesson.name, "step": str(index + 1), "me": session_id()}
    params.pop("model", None)  # the model travels through arrive_at_step, not the address
    return params


def _step_link(lesson: Lesson, index: int, label: str, **kwargs) -> None:
    st.page_link(lesson.steps[index].page.path, label=label, query_params=_step_address(lesson, index), **kwargs)


def _open_step(lesson: Lesson, index: int) -> None:
    """Go to the step's page with its address, as its link would. (With the new address given,
    st.switch_page replaces the old one, bound widgets and all.)"""
    st.switch_page(lesson.steps[index].page.path, query_params=_step_address(lesson, index))


def _picked() -> None:
    """A lesson picked: its step 1 opens on the next run (a callback cannot switch pages)."""
    if st.session_state["lesson_pick"] not in (_UPLOAD, _NONE):
        st.session_state.update(lesson_name=st.session_state["lesson_pick"], lesson_step=0, lesson_seen=None,
                                lesson_open=True)
    elif st.session_state["lesson_pick"] == _NONE:
        st.session_state.update(lesson_name=_NONE, lesson_step=0)


def _pick() -> None:
    """The lesson picker: a built-in lesson, or the student's or teacher's own file."""
    current = st.session_state.get("lesson_name", _NONE)
    names = [_NONE, *lessons(), *([OWN] if "lesson_own" in st.session_state else []), _UPLOAD]
    titles = {_NONE: "— no lesson —", _UPLOAD: "Your own lesson file…", OWN: "Your own lesson",
              **{n: lesson.title for n, lesson in lessons().items()}}
    if st.session_state.get("lesson_pick") not in (current, _UPLOAD):  # a lesson link chose another
        st.session_state["lesson_pick"] = current if current in names else _NONE
    if st.selectbox("Lesson", names, format_func=titles.get, key="lesson_pick", on_change=_picked) == _UPLOAD:
        _upload()


def _upload() -> None:
    """A teacher's lesson file: checked before use, refused with its line and the reason."""
    file = st.file_uploader("Lesson file (YAML or JSON)", type=["yaml", "yml", "json"], key="lesson_file",
                            help="The format is in lessons/README.md; the built-in lessons in lessons/ are examples.")
    if file is None or st.session_state.get("lesson_own_id") == file.file_id:
        return
    try:
        if file.size > MAX_BYTES:
            raise UserError(f"A lesson file can be at most {MAX_BYTES // 1000} KB.")
        lesson = parse_lesson(file.getvalue().decode("utf-8"), OWN)
    except UnicodeDecodeError:
        st.error(f"{Path(file.name).name}: a lesson file must be UTF-8 text (YAML or JSON).")
        return
    except UserError as err:
        st.error(f"{Path(file.name).name}, {err}")
        return
    answers = st.session_state.get("quiz_answers", {})
    for key in [k for k in answers if k.startswith(f"{OWN}:")]:  # a new file is a new lesson: a fresh score
        del answers[key]
    st.session_state.update(lesson_own=lesson, lesson_own_id=file.file_id, lesson_name=OWN, lesson_step=0,
                            lesson_seen=None)
    _open_step(lesson, 0)


def _question(lesson: Lesson, index: int) -> None:
    """The step's question, asked of the selected model; its answer shown only once chosen."""
    choice = model_choice()
    try:
        quiz = cached_quiz(choice, lesson.steps[index].question)
    except UserError as err:
        st.info(f"This step's question needs another model: {err}")
        return
    answers: dict = st.session_state.setdefault("quiz_answers", {})
    key = f"{lesson.name}:{index + 1}:{choice}"
    st.markdown(f"**❓ Question**  \n{quiz.prompt}")
    done = answers.get(key)
    if done is None:
        picked = st.radio("Your answer", quiz.choices, index=None, key=f"quiz_pick_{key}")
        if st.button("Check my answer", key=f"quiz_check_{key}", disabled=picked is None):
            answers[key] = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "lesson": lesson.title,
                            "step": index + 1, "model": choice, "question": quiz.prompt, "your answer": picked,
                            "right answer": quiz.answer, "correct": picked == quiz.answer}
            st.rerun()
        return
    verdict = st.success if done["correct"] else st.warning  # a wrong answer is no error of the app
    verdict(f"You chose “{done['your answer']}”: " + ("right!" if done["correct"] else
                                                      f"the model's answer is “{done['right answer']}”."))
    if quiz.reveal:
        st.caption(quiz.reveal)


def _score(lesson: Lesson) -> None:
    """The score of this lesson alone (another lesson's answers are not added in), and its CSV."""
    answers = [a for k, a in st.session_state.get("quiz_answers", {}).items() if k.startswith(f"{lesson.name}:")]
    if answers:
        st.caption(f"Your score in this lesson: {sum(a['correct'] for a in answers)} of {len(answers)} "
                   "questions answered.")
        st.download_button("⬇ My answers (CSV)", lambda: answers_csv(answers), f"my-answers-{lesson.name}.csv",
                           "text/csv", on_click="ignore", key="quiz_csv")


def lesson_bar(page: str) -> None:
    """The sidebar's lesson section; `page` is the page about to run (its address name)."""
    with st.sidebar:
        st.header("Lesson")
        _pick()
        active = _active()
        for name, reason in shelf()[1].items():  # for the teacher who put it there
            st.caption(f"⚠️ lessons/{name} was left out: {reason}")
        if active is None:
            st.caption("A lesson walks the pages step by step, with questions the live model answers.")
            return
        lesson, index = active
        step = lesson.steps[index]
        st.progress((index + 1) / len(lesson.steps), text=f"Step {index + 1} of {len(lesson.steps)} · {step.title}")
        if step.page.name != page or st.session_state.get("lesson_seen", (None,))[0] != lesson.name:
            _step_link(lesson, index, f"▶ Open step {index + 1}: {step.page.title}")
        st.markdown(step.text)
        back, forward = st.columns(2)
        with back:
            _step_link(lesson, max(index - 1, 0), "◀ Back", disabled=index == 0)
        with forward:
            _step_link(lesson, min(index + 1, len(lesson.steps) - 1), "Next ▶", disabled=index == len(lesson.steps) - 1)
        if step.question is not None:
            _question(lesson, index)
        _score(lesson)
