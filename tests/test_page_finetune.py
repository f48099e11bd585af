"""The fine-tuning page through AppTest: defaults render, a tiny fine-tune runs to results, cancel works."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.jobs import JOBS
from test_trainer import tiny_words_choice

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def runs(tmp_path, monkeypatch):
    import core.models.loading as models

    monkeypatch.setattr(models, "RUNS_DIR", tmp_path / "runs")
    return tmp_path / "runs"


def open_page(choice: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    if choice:
        at.session_state["model_choice"] = choice
    at.switch_page("pages/finetune.py")
    at.run()
    assert not at.exception, at.exception
    return at


def sidebar_models(session: str | None) -> list[str]:
    """The sidebar's model list in a session with this id (None: a new session)."""
    home = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if session:
        home.session_state["session_id"] = session
    home.run()
    return list(home.sidebar.selectbox(key="model_picker").options)


def start(at: AppTest, limit: int, epochs: int, name: str, augment: str = "none", check: bool = True):
    at.number_input(key="ft_limit").set_value(limit)
    at.selectbox(key="ft_aug").set_value(augment)
    at.number_input(key="ft_epochs").set_value(epochs)
    at.select_slider(key="ft_max_len").set_value(32)
    at.text_input(key="ft_name").set_value(name)
    at.run()
    at.button(key="ft_start").click()
    at.run()
    if check:
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return JOBS.get(at.session_state["ft_job"])


def test_page_opens_with_the_builtin_data_and_sensible_defaults():
    at = open_page(tiny_words_choice())
    assert [h.value for h in at.main.header] == ["1 · Data", "2 · Settings", "3 · Train", "4 · Try a trained model"]
    assert at.radio(key="ft_task").value == "sentences"
    assert any("1,090" in c.value and "140" in c.value and "negative (545)" in c.value for c in at.caption)
    assert at.number_input(key="ft_epochs").value == 2 and at.select_slider(key="ft_batch").value == 16
    assert at.select_slider(key="ft_max_len").value == 64 and at.select_slider(key="ft_lr").value == 5e-5
    assert any("tokens hold" in c.value for c in at.caption)
    assert not at.button(key="ft_start").disabled


def test_the_default_embedded_model_page_renders():
    at = open_page()
    assert not at.error and "embedded" in " ".join(c.value for c in at.caption)


def test_estimate_is_measured(runs):
    at = open_page(tiny_words_choice())
    at.button(key="ft_estimate").click()
    at.run()
    assert not at.exception
    info = " ".join(i.value for i in at.info)
    assert "About" in info and "examples/s" in info


def test_a_tiny_fine_tune_shows_progress_then_results(runs):
    at = open_page(tiny_words_choice())
    job = start(at, limit=200, epochs=2, name="page-run", augment="char-swap")
    assert job is not None and job.kind == "finetune"
    if not job.done:
        assert at.get("progress"), "a running job shows a progress bar"
    JOBS.wait(job, timeout=300)
    assert job.status == "done", job.error
    assert 300 < job.result["train_rows"] <= 400  # 200 rows + one swapped-letters copy each, minus duplicates
    at.run()
    at.run()
    assert not at.exception
    assert any("page-run" in s.value for s in at.success)
    own = runs / "sessions" / at.session_state["session_id"]
    assert (own / "page-run" / "model.safetensors").is_file()
    assert not (runs / "page-run").exists()  # saved in this session's folder, not the shared one
    assert sidebar_models(at.session_state["session_id"]).count("fine-tuned · page-run") == 1
    assert "fine-tuned · page-run" not in sidebar_models(None)  # another browser session does not see it
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Best step"].endswith(f"/ {job.result['result'].steps}")
    assert metrics["Validation accuracy"] == f"{job.result['result'].best.accuracy:.1%}"
    assert len(at.get("plotly_chart")) >= 3  # curves, confusion matrix, probabilities
    assert at.get("download_button")
    at.text_input(key="ft_try").set_value("the film was wonderful")
    at.run()
    assert {m.label: m.value for m in at.metric}["Prediction"] in ("negative", "positive")
    # A fresh name is proposed for the next run, so it cannot overwrite this one.
    assert at.text_input(key="ft_name").value != "page-run"


def test_cancel_from_the_page(runs):
    at = open_page(tiny_words_choice())
    job = start(at, limit=1090, epochs=20, name="cancelled-run")
    while not any(e.get("type") == "step" for e in job.events) and not job.done:
        time.sleep(0.05)
    at.run()
    at.button(key="ft_cancel").click()
    at.run()
    JOBS.wait(job, timeout=60)
    assert job.status == "cancelled"
    at.run()
    at.run()
    assert any("Cancelled" in w.value for w in at.warning)
    assert not list(runs.rglob("cancelled-run"))


def test_a_bad_name_is_a_friendly_error(runs):
    at = open_page(tiny_words_choice())
    at.text_input(key="ft_name").set_value("../escape")
    at.run()
    at.button(key="ft_start").click()
    at.run()
    assert not at.exception and any("Name the model" in e.value for e in at.error)
    assert "ft_job" not in at.session_state


def test_running_out_of_memory_is_explained_and_the_page_stays_usable(runs, monkeypatch):
    import core.training.finetune

    real = core.training.finetune.finetune

    def too_big(*args, **kwargs):  # what a too-large batch does to a small machine
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 68719476736 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(core.training.finetune, "finetune", too_big)
    at = open_page(tiny_words_choice())
    job = JOBS.wait(start(at, limit=50, epochs=1, name="oom-run", check=False), timeout=60)
    assert job.status == "failed" and job.error.startswith("Out of memory: try a smaller batch size")
    at.run()
    at.run()
    assert not at.exception and any("Out of memory" in e.value for e in at.error)
    assert not list(runs.rglob("oom-run"))  # nothing presented as a finished model
    monkeypatch.setattr(core.training.finetune, "finetune", real)
    job = JOBS.wait(start(at, limit=50, epochs=1, name="after-oom"), timeout=300)
    assert job.status == "done", job.error
