"""The augmentation page through Streamlit's AppTest: one sentence, unavailable techniques, a dataset job."""
from __future__ import annotations

import time

import pytest
from conftest import ROOT, tiny_choice
from streamlit.testing.v1 import AppTest

from core.augment.techniques import augment_sentence
from core.augment.diff import diff_html


def page(choice: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if choice:
        at.session_state["model_choice"] = choice
    at.switch_page("pages/augment.py")
    return at.run()


def diffs(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if "<b>#" in h.proto.body]


@pytest.fixture(scope="module")
def at_bert():
    return page(tiny_choice("bert"))


def test_default_sentence_shows_three_highlighted_variations(at_bert):
    at = at_bert
    assert not at.exception
    shown = diffs(at)
    assert len(shown) == 3 and all("<ins" in h or "<del" in h for h in shown)
    text = at.text_area(key="aug_text").value
    expected = augment_sentence(text, "keyboard", 3, 0.2, 0)
    assert all(diff_html(text, out) in h for out, h in zip(expected, shown))  # same seed, same output
    assert any("words changed" in c.value or "word changed" in c.value for c in at.caption)


def test_user_text_is_escaped_and_contextual_runs_on_the_selected_model(at_bert):
    at = at_bert
    at.text_area(key="aug_text").set_value("the <b>cat</b> sat on the mat").run()
    assert all("<b>cat" not in h for h in diffs(at)) and any("&lt;b&gt;" in h for h in diffs(at))
    at.selectbox(key="aug_method").set_value("contextual-substitute").run()
    assert not at.exception and not at.warning
    assert len(diffs(at)) == 3


def test_bad_text_gets_a_message_not_a_traceback(at_bert):
    at = at_bert
    at.selectbox(key="aug_method").set_value("word-swap").run()
    at.text_area(key="aug_text").set_value("hello").run()
    assert not at.exception and any("at least 2 words" in i.value for i in at.info)
    at.text_area(key="aug_text").set_value("").run()
    assert any("Type a sentence" in i.value for i in at.info)
    at.text_area(key="aug_text").set_value("word " * 5000).run()
    assert any("5,000 words" in i.value for i in at.info)


def test_pipeline_and_seed_controls(at_bert):
    at = at_bert
    at.text_area(key="aug_text").set_value("The staff were friendly and the breakfast was warm").run()
    at.selectbox(key="aug_method").set_value("pipeline").run()
    at.multiselect(key="aug_steps").set_value(["split", "keyboard"]).run()
    first = diffs(at)
    assert not at.exception and len(first) == 3
    at.number_input(key="aug_seed").set_value(1).run()
    assert diffs(at) != first


def test_embedded_model_says_why_contextual_and_back_translation_are_off():
    at = page()
    assert not at.exception
    at.selectbox(key="aug_method").set_value("back-translation").run()
    assert any("internet" in w.value for w in at.warning)
    at.selectbox(key="aug_method").set_value("contextual-insert").run()
    model = at.session_state["model_choice"] if "model_choice" in at.session_state else "embedded"
    from core.models.loading import get_model

    if not get_model(model).has_mlm:
        assert any("no trained masked-word (MLM) head" in w.value for w in at.warning)
        assert at.button(key="aug_start").disabled
    else:
        assert len(diffs(at)) == 3


def test_dataset_job_runs_and_offers_the_csv(at_bert):
    at = at_bert
    at.selectbox(key="aug_method").set_value("word-swap").run()
    at.number_input(key="aug_copies").set_value(1).run()
    at.button(key="aug_start").click().run()
    assert not at.exception
    deadline = time.time() + 90
    while not at.get("download_button") and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Original rows"] == "1,370"
    generated, dropped = int(metrics["Generated"].replace(",", "")), int(metrics["Duplicates dropped"].replace(",", ""))
    assert generated == 1090  # the training split, once each
    assert int(metrics["Rows out"].replace(",", "")) == 1370 + generated - dropped
    assert at.get("download_button")


def test_every_technique_side_by_side(at_bert):
    at = at_bert
    at.text_area(key="aug_text").set_value("The staff were friendly and the breakfast was warm").run()
    at.toggle(key="aug_compare").set_value(True).run()
    assert not at.exception
    table = next(h.proto.body for h in at.get("html") if "<table" in h.proto.body)
    assert table.count("<tr>") == 1 + 16
    assert "unavailable here" in table  # back-translation, offline
    assert table.count("<ins") + table.count("<del") >= 13


def test_a_running_dataset_job_shows_progress_and_can_be_cancelled(at_bert, monkeypatch):
    import core.augment.dataset

    def slow_augment(frame, *args, progress, **kwargs):  # a job that takes a minute, on any machine
        for done in range(1200):
            progress(done, 1200)
            time.sleep(0.05)

    monkeypatch.setattr(core.augment.dataset, "augment_dataset", slow_augment)
    at = at_bert
    at.selectbox(key="aug_method").set_value("keyboard").run()
    at.button(key="aug_start").click().run()
    time.sleep(1)
    at.run()
    assert at.get("progress") and at.button(key="aug_cancel")
    at.button(key="aug_cancel").click().run()
    deadline = time.time() + 30
    while not any("Cancelled" in w.value for w in at.warning) and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    assert any("Cancelled" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not at.get("download_button")
