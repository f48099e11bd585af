"""The lab page: each tab renders when opened (only it), and its jobs start, report, finish or cancel
(AppTest, tiny models)."""
from __future__ import annotations

import os

import pytest
import torch
from conftest import ROOT, tiny_choice
from streamlit.testing.v1 import AppTest
from test_distill import trained_teacher

from core.jobs import JOBS
from core.models.loading import session_runs_dir


@pytest.fixture(scope="module")
def lab_models(tmp_path_factory, one_thread):
    """Two tiny classifiers (labels negative/positive) in a model folder the page can list."""
    folder = tmp_path_factory.mktemp("lab-models")
    for name in ("tiny-clf-a", "tiny-clf-b"):
        tokenizer, model = trained_teacher()
        torch.manual_seed(len(name))
        model.save_pretrained(folder / name)
        tokenizer.save_pretrained(folder / name)
    old = os.environ["BERT_PLAYGROUND_MODEL_DIRS"]
    os.environ["BERT_PLAYGROUND_MODEL_DIRS"] = os.pathsep.join([old, str(folder)])
    yield folder
    os.environ["BERT_PLAYGROUND_MODEL_DIRS"] = old


PRETRAIN, DISTILL, PRUNE, ENSEMBLE, TWINS = TABS = (
    "🧱 Pretrain from scratch", "🧑‍🏫 Distillation", "✂️ Pruning", "🤝 Ensembles", "✍️ Decoder vs encoder")


def open_lab(tab: str = PRETRAIN) -> AppTest:
    """The lab on `tab` (its address parameter, as a link sets it; AppTest cannot click a tab)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["model_choice"] = tiny_choice("bert")
    at.session_state["lab_tab"] = tab
    at.switch_page("pages/lab.py")
    at.run()
    assert not at.exception, at.exception
    return at


def finish(at: AppTest, key: str, timeout: float = 240):
    job = JOBS.wait(JOBS.get(at.session_state[key]), timeout)
    at.run()  # the fragment notices, reruns the page once
    at.run()
    assert not at.exception, at.exception
    return job


def test_each_tab_renders_when_opened_and_only_it():
    assert [t.label for t in open_lab().tabs] == list(TABS)
    phrases = {PRETRAIN: ["masked words"], DISTILL: ["Knowledge distillation"], PRUNE: ["Michel et al."],
               ENSEMBLE: ["oracle", "Stacking"], TWINS: ["causal mask"]}
    buttons = {PRETRAIN: "pt_start", DISTILL: "kd_start", PRUNE: "pr_start", ENSEMBLE: "en_start", TWINS: "tw_start"}
    for tab in TABS:
        at = open_lab(tab)
        text = " ".join(m.value for m in at.markdown)
        for other, words in phrases.items():
            assert all((word in text) == (other == tab) for word in words), (tab, other)
        assert [b.key for b in at.button if b.key in buttons.values()] == [buttons[tab]]
        assert not at.error


def test_start_and_cancel_a_pretraining_job():
    at = open_lab()
    at.slider(key="pt_layers").set_value(1)
    at.number_input(key="pt_steps").set_value(5000)
    at.number_input(key="pt_docs").set_value(60)
    at.button(key="pt_start").click().run()
    assert not at.exception and not at.error
    job = JOBS.get(at.session_state["lab_pretrain_job"])
    assert job is not None and not job.done
    at.button(key="lab_pretrain_job_cancel").click().run()
    assert job.cancel_requested
    job = finish(at, "lab_pretrain_job")
    assert job.status == "cancelled"
    assert any("Cancelled" in w.value for w in at.warning)
    assert not (session_runs_dir(at.session_state["session_id"]) / at.session_state["pt_default_name"]).exists()  # nothing saved from a cancelled run


def test_bad_name_is_refused_without_a_job():
    at = open_lab()
    at.text_input(key="pt_name").set_value("../escape").run()
    at.button(key="pt_start").click().run()
    assert any("Name the model" in e.value for e in at.error)
    assert "lab_pretrain_job" not in at.session_state


def test_distill_prune_and_ensemble_jobs_finish(lab_models):  # each in its tab, opened by a link
    at = open_lab(DISTILL)
    teachers = at.selectbox(key="kd_teacher").options
    assert any("tiny-clf-a" in o for o in teachers)
    at.selectbox(key="kd_teacher").set_value(f"local:{lab_models / 'tiny-clf-a'}")
    at.run()
    at.slider(key="kd_epochs").set_value(1)
    at.checkbox(key="kd_save").uncheck()
    at.button(key="kd_start").click().run()
    job = finish(at, "lab_distill_job")
    assert job.status == "done", job.error
    assert [r["model"] for r in job.result["rows"]][1:] == ["student (distilled)", "student alone"]
    assert any(m.label == "Student accuracy" for m in at.metric)

    at = open_lab(PRUNE)
    at.selectbox(key="pr_model").set_value(f"local:{lab_models / 'tiny-clf-a'}")
    at.slider(key="pr_points").set_value(3)
    at.checkbox(key="pr_random").uncheck()
    at.multiselect(key="pr_levels").set_value([0.0, 0.5])
    at.button(key="pr_start").click().run()
    job = finish(at, "lab_prune_job")
    assert job.status == "done", job.error
    assert [r["heads_removed"] for r in job.result["heads"]] == [0, 3, 6]
    assert [r["sparsity"] for r in job.result["sparsity"]] == [0.0, 0.5]
    assert len(job.result["importance"]) == 2

    at = open_lab(ENSEMBLE)
    at.multiselect(key="en_members").set_value([f"local:{lab_models / n}" for n in ("tiny-clf-a", "tiny-clf-b")]).run()
    at.button(key="en_start").click().run()
    job = finish(at, "lab_ensemble_job")
    assert job.status == "done", job.error
    assert job.result["members"][0]["accuracy"] >= 0 and 0 <= job.result["mean"]["accuracy"] <= 1
    assert any(m.label == "Ensemble (mean)" for m in at.metric)


def test_stacking_trains_members_fold_by_fold_and_shows_the_weights(monkeypatch):
    import functools

    import core.training.ensemble as ensemble
    from test_trainer import tiny_words_choice

    monkeypatch.setattr(ensemble, "member_fit", functools.partial(  # tiny members: CI time
        ensemble.member_fit, base=tiny_words_choice(), layers=1, epochs=1))
    at = open_lab(ENSEMBLE)
    at.slider(key="en_folds").set_value(2).run()
    assert "9 short trainings" in at.button(key="en_stack").label
    at.button(key="en_stack").click().run()
    job = finish(at, "lab_ensemble_job")
    assert job.status == "done", job.error
    assert [w["member"] for w in job.result["weights"]] == ["member-0", "member-1", "member-2"]
    assert any(m.label == "Stacking" for m in at.metric) and "stack" in job.result


def test_the_twins_train_then_the_decoder_generates_and_the_encoder_fills(tmp_path, monkeypatch):
    import core.models.loading as models

    monkeypatch.setattr(models, "RUNS_DIR", tmp_path / "runs")
    at = open_lab(TWINS)
    at.slider(key="tw_layers").set_value(1)
    at.select_slider(key="tw_hidden").set_value(32)
    at.number_input(key="tw_steps").set_value(10)
    at.number_input(key="tw_docs").set_value(50).run()
    at.button(key="tw_start").click().run()
    job = finish(at, "lab_twins_job")
    assert job.status == "done", job.error
    history = job.result["history"]
    assert len(history) == 10 and history[-1]["decoder"] < history[0]["decoder"]
    assert set(job.result["out"]) == {"decoder", "encoder"}
    table = next(d.value for d in at.dataframe if "sampled" in d.value.columns)
    assert 1 <= len(table) <= 12 and table["its probability"].between(0, 1).all()
    assert any(c.value.startswith("Mask 1:") for c in at.caption)
    assert at.code[0].value.startswith("a dog is")
    at.slider(key="tw_topk").set_value(1).run()  # greedy: the same text whatever the seed
    greedy = at.code[0].value
    at.number_input(key="tw_seed").set_value(7).run()
    assert at.code[0].value == greedy and not at.exception
