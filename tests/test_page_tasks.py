"""The fine-tuning page's other tasks through AppTest: built-in data per task, each try-it view on a
trained model, a tagger fine-tuned and tried from the page, and hub presets offline."""
from __future__ import annotations

import shutil

import pytest

from core.jobs import JOBS
from core.models.classifiers import list_classifiers
from core.tasks.scores import METRIC, expectation, recorded
from core.tasks.sources import HEAD_OF_TASK, PRESETS
from test_page_finetune import open_page

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def runs(tmp_path, monkeypatch, trained):
    """A shared runs/ folder holding the tiny trained tagger, reader and pair classifier."""
    import core.models.loading as models

    monkeypatch.setattr(models, "RUNS_DIR", tmp_path / "runs")
    for task, folder in trained.items():
        shutil.copytree(folder, tmp_path / "runs" / f"tiny-{task}")
    return tmp_path / "runs"


def on_task(task: str, choice: str | None = None):
    at = open_page(choice)
    at.radio(key="ft_task").set_value(task)
    at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return at


@pytest.mark.parametrize("task, shown, length", [
    ("pairs", "540 pairs · 3 classes: entailment (180), neutral (180), contradiction (180)", 64),
    ("tokens", "360 sentences · 5,284 words · 524 entities: LOC (203), MISC (98), ORG (114), PER (109)", 64),
    ("qa", "280 questions on 70 paragraphs", 256)])
def test_each_task_opens_on_its_builtin_data(task, shown, length, tiny_bert):
    at = on_task(task, tiny_bert)
    assert any(shown in c.value for c in at.caption), [c.value for c in at.caption]
    assert at.select_slider(key="ft_max_len").value == length and not at.button(key="ft_start").disabled
    assert any(c.value == expectation(task) for c in at.caption)  # the embedded model's measured test score
    # Offline, a pretrained hub model that is not downloaded is not offered: it would only fail.
    assert not any(PRESETS[task][0] in option for option in at.selectbox(key=f"ft_try_model_{task}").options)


def tried(task: str, choice: str, **typed):
    """The page on `task`, its tiny trained model picked in "Try a trained model", `typed` into
    the try view's boxes (by the key's ending: ft_try_<task>_other[_<name>])."""
    at = on_task(task, choice)
    saved = [m["choice"] for m in list_classifiers(heads=(HEAD_OF_TASK[task],)) if m["name"] == f"tiny-{task}"]
    at.selectbox(key=f"ft_try_model_{task}").set_value(saved[0])
    at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    for name, text in typed.items():
        key = f"ft_try_{task}_other" + (f"_{name}" if name != "text" else "")
        box = next(w for w in (*at.text_input, *at.text_area) if w.key == key)
        box.set_value(text)
    at.run()
    assert not at.exception
    return at


def test_the_entity_view_highlights_spans_and_lists_every_piece(runs, tiny_bert):
    at = tried("tokens", tiny_bert, text="bob sat on the mat, carl")
    marked = [h.proto.body for h in at.get("html") if "<mark" in h.proto.body]
    assert len(marked) == 1 and marked[0].count("<mark") == 2 and ">bob<sup" in marked[0] and ">PER</sup>" in marked[0]
    table = at.dataframe[-1].value
    assert list(table["token"])[:2] == ["[CLS]", "b"] and list(table["read"]).count("✓") == 7  # 7 words
    assert list(table["word"])[1:4] == ["bob"] * 3  # one word, three pieces, read once


def test_the_answer_view_highlights_the_span_and_plots_start_and_end(runs, tiny_bert):
    at = tried("qa", tiny_bert, context="the big cat sat with dora on the mat", question="who is it?")
    assert {m.label: m.value for m in at.metric}["Answer"] == "dora"
    assert any("<mark" in h.proto.body and ">dora<sup" in h.proto.body for h in at.get("html"))
    chart = at.get("plotly_chart")[-1]
    assert '"P(start)"' in chart.proto.spec and '"P(end)"' in chart.proto.spec


def test_the_pair_view_reads_both_sentences(runs, tiny_bert):
    at = tried("pairs", tiny_bert, a="the cat sat", b="the cat sat")
    assert {m.label: m.value for m in at.metric}["Prediction"] == "same"
    at.text_area(key="ft_try_pairs_other_b").set_value("  ")
    at.run()
    assert not at.exception and any("sentence B" in w.value for w in at.warning)


def test_a_tagger_fine_tunes_from_the_page_and_is_tried(runs, tiny_bert):
    at = on_task("tokens", tiny_bert)
    at.number_input(key="ft_limit").set_value(40)
    at.number_input(key="ft_epochs").set_value(1)
    at.select_slider(key="ft_max_len").set_value(32)
    at.text_input(key="ft_name").set_value("page-tagger")
    at.run()
    at.button(key="ft_start").click()
    at.run()
    job = JOBS.get(at.session_state["ft_job"])
    JOBS.wait(job, timeout=300)
    assert job.status == "done", job.error
    at.run()
    at.run()
    assert not at.exception
    result = job.result["result"]
    metrics = {m.label: m.value for m in at.metric}
    assert result.task == "tokens" and metrics["Entity F1"] == f"{result.best.f1:.3f}"
    assert any('"validation F1"' in c.proto.spec for c in at.get("plotly_chart"))  # the metric that picks the best
    assert metrics["Precision / recall"] == f"{result.best.details['precision']:.2f} / {result.best.details['recall']:.2f}"
    per_type = next(d.value for d in at.dataframe if "support" in d.value.columns)
    assert list(per_type["type"]) == sorted(result.best.details["per_type"]) and sum(per_type["support"]) == \
        sum(result.best.details["per_type"][t]["support"] for t in per_type["type"])
    assert any("<mark" in h.proto.body or "Marie" in h.proto.body for h in at.get("html"))  # the try view ran
    assert (runs / "sessions" / at.session_state["session_id"] / "page-tagger" / "config.json").is_file()


@pytest.mark.parametrize("task, floor", [("pairs", 0.5), ("tokens", 0.5), ("qa", 0.25)])
def test_the_recorded_test_scores_beat_chance_and_say_where_they_come_from(task, floor):
    """bench/bench_tasks.py --record: chance is 1/3 for NLI, 0 entity F1 for all-O, ~0 span F1."""
    found = recorded(task)
    assert found["test"][METRIC[task][0]] > floor and found["train_s"] > 0 and "cores" in found["machine"]
    assert f"{found['test_rows']} unseen test rows" in expectation(task)
