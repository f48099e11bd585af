"""The explain page through AppTest: attributions, faithfulness, counterfactuals, edits, quick fine-tune."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import tiny_choice
from core.jobs import JOBS
from test_explain import POSITIVE, toy_classifier
from test_trainer import tiny_words_choice

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("one_thread")


def open_page(tab: str = "Attributions", **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["xp_tab"] = tab
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page("pages/explain.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def toy(**state) -> dict:
    return {"xp_classifier": f"local:{toy_classifier()}", "xp_text": POSITIVE[1], **state}


def html(at) -> str:
    return " ".join(h.proto.body for h in at.get("html"))


def test_attributions_of_a_classifier_with_every_method_and_the_completeness_check():
    at = open_page(**toy(xp_steps=100))
    assert any("the label **positive**" in m.value for m in at.markdown)
    shown = html(at)
    for title in ("Integrated gradients", "Gradient × input", "Occlusion", "Last-layer attention", "Attention rollout"):
        assert title in shown
    assert "wonderful" in shown
    gap = next(m for m in at.metric if m.label == "Completeness gap")
    assert float(gap.value.rstrip("%")) < 5
    table = at.dataframe[0].value
    assert list(table["word"]) == POSITIVE[1].split(" ") and "Integrated gradients" in table.columns
    at.toggle(key="xp_pieces").set_value(True)
    at.text_area(key="xp_text").set_value("i loved the cats , it was wonderful .").run()
    assert not at.exception and "##" in html(at)  # "cats" shows its word pieces


def test_faithfulness_tab_draws_deletion_curves_and_measures_over_test_reviews():
    at = open_page("Is it faithful?", **toy(xp_methods=["ig", "occlusion"], xp_steps=8))
    assert len(at.get("plotly_chart")) == 1
    rows = at.dataframe[0].value
    assert set(rows["explainer"]) == {"Integrated gradients", "Occlusion (leave one out)", "Random order"}
    at.slider(key="xp_faith_n").set_value(10).run()
    at.button(key="xp_faith_start").click().run()
    job = JOBS.get(at.session_state["xp_faith_job"])
    JOBS.wait(job, timeout=120)
    at.run()
    assert job.status == "done" and job.result.n == 10
    assert any("10 built-in test reviews" in c.value for c in at.caption)


def test_counterfactual_tab_lists_flips_as_diffs():
    at = open_page("Counterfactuals", **toy())
    at.button(key="xp_cf_start").click().run()
    assert not at.exception
    shown = html(at)
    assert "<del" in shown and "<ins" in shown and "negative" in shown


def test_edit_and_compare_shows_both_predictions():
    at = open_page("Edit and compare", **toy(xp_edit="i loved the park , it was cold .", xp_edit_for=POSITIVE[1]))
    labels = [m.label for m in at.metric]
    assert labels == ["Original: p(positive)", "Edited: p(positive)"]
    assert at.metric[1].delta.startswith("-")
    at.text_area(key="xp_text").set_value(POSITIVE[2]).run()  # a new sentence: the edit starts over
    assert at.text_area(key="xp_edit").value == POSITIVE[2]


def test_masked_word_mode_explains_the_top_guess_and_refuses_a_word_outside_the_vocabulary():
    at = open_page(model_choice=tiny_choice("bert"), xp_mode="A masked word")
    assert "at the mask" in " ".join(m.value for m in at.markdown) and "Integrated gradients" in html(at)
    at = open_page(model_choice=tiny_choice("bert"), xp_mode="A masked word", xp_word="catsss")
    assert any("not one word of its vocabulary" in w.value for w in at.warning)


def test_bad_text_is_a_friendly_warning():
    at = open_page(**toy(xp_text="   "))
    assert any("Type a sentence" in w.value for w in at.warning) and not at.error


def test_quick_fine_tune_makes_a_classifier_and_picks_it(tmp_path, monkeypatch):
    import core.models.loading as models
    import core.training.finetune as finetune
    from core.training.config import TrainConfig

    monkeypatch.setattr(models, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(finetune, "QUICK_FINETUNE", TrainConfig(epochs=1, batch_size=64, max_length=16))  # CI time
    monkeypatch.setenv("BERT_PLAYGROUND_MODEL_DIRS", "")  # no shared classifier: the page says what to do
    at = open_page(model_choice=tiny_words_choice())
    assert any("No classifier yet" in i.value for i in at.info)
    at.button(key="xp_quick").click().run()
    job = JOBS.get(at.session_state["xp_ft_job"])
    JOBS.wait(job, timeout=300)
    assert job.status == "done", job.error
    time.sleep(0.1)
    at.run()
    assert at.selectbox(key="xp_classifier").value == job.result and "sentiment-quick" in job.result
    assert not at.exception and "Integrated gradients" in html(at)


def test_a_classifier_that_is_gone_falls_back_to_one_that_exists():
    at = open_page(**toy(xp_classifier="local:/work/gone-since"))
    assert at.selectbox(key="xp_classifier").value != "local:/work/gone-since" and not at.error
