"""The Layers page through AppTest: the animated projector, senses, probes as a job, neighbours, the query-key map."""
from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

import test_pages
from conftest import tiny_choice
from core.jobs import JOBS
from core.layers import neighbours

pytestmark = pytest.mark.usefixtures("one_thread")


def open_page(tab: str = "Projector", **state) -> AppTest:
    at = test_pages.open_page("pages/layers.py", ly_tab=tab, **state)
    assert not at.exception, [e.value for e in at.exception]
    return at


def finish(at, key: str) -> None:
    """Wait for the session's job under `key`, then rerun as the page's poll would."""
    job = JOBS.get(at.session_state[key])
    JOBS.wait(job, timeout=120)
    assert job.status == "done", job.error
    time.sleep(0.1)
    at.run()


def figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_projector_animates_every_layer_and_senses_part_ways():
    at = open_page(ly_follow=["bank"])
    projector, senses = figures(at)[:2]
    assert [f["name"] for f in projector["frames"]] == [str(layer) for layer in range(7)]
    assert len(projector["layout"]["sliders"][0]["steps"]) == 7
    paths = [t for t in projector["data"] if t.get("mode") == "lines+markers+text"]
    assert len(paths) == 4 and all(t["name"].startswith("path: bank") for t in paths)  # the 4 built-in banks only
    assert len({t["line"]["color"] for t in paths}) == 4  # each its own colour
    assert "bank: river vs money" in [t["name"] for t in senses["data"]]
    assert any("cosine 0.97 at layer 0" in c.value for c in at.caption)
    at.selectbox(key="ly_colour").set_value("pos").run()
    names = {t.get("name") for t in figures(at)[0]["data"]}
    assert {"NOUN", "VERB", "DET"} <= names


def test_projector_in_3d_with_umap_on_a_tiny_model():
    at = open_page(model_choice=tiny_choice("bert"), ly_method="umap", ly_dims=3, ly_senses=False)
    projector = figures(at)[0]
    assert projector["data"][0]["type"] == "scatter3d" and len(projector["frames"]) == 3


def test_empty_sentences_ask_for_text_and_nothing_breaks():
    at = open_page(ly_text="  \n ", ly_senses=False)
    assert any("one per line" in w.value for w in at.warning)


def test_probes_run_as_a_job_and_serve_the_next_student():
    at = open_page("Probes", model_choice=tiny_choice("bert"), ly_tasks=["pos", "control"], ly_words=500)
    at.button(key="ly_probe_start").click().run()
    finish(at, "ly_probe_job")
    table = at.dataframe[0].value
    assert list(table["layer"]) == [0, 1, 2] and "selectivity (POS − control)" in table.columns
    assert any("best at layer" in c.value for c in at.caption)
    other = open_page("Probes", model_choice=tiny_choice("bert"), ly_tasks=["pos", "control"], ly_words=500)
    assert not other.button and other.dataframe[0].value.equals(table)  # no button: the result is shared


def test_neighbours_index_is_built_in_the_background_then_searched(tmp_path, monkeypatch):
    monkeypatch.setattr(neighbours, "RUNS_DIR", tmp_path)
    monkeypatch.setattr(neighbours, "CORPUS_SENTENCES", 1400)
    tiny = tiny_choice("distilbert")
    at = open_page("Neighbours", model_choice=tiny)
    at.button(key="ly_index_start").click().run()
    finish(at, "ly_index_job")
    assert not at.exception
    at.text_input(key="ly_query").set_value("the cat sat on the mat").run()
    shown = " ".join(h.proto.body for h in at.get("html"))
    assert "<mark" in shown and shown.count("<tr>") == 11  # header + 10 neighbours
    assert [t["type"] for f in figures(at) for t in f["data"]] == ["bar", "bar"]


def test_query_key_map_of_a_head():
    at = open_page("Query-key map", ly_qk_layer=2, ly_qk_head=5, ly_qk_colour="position")
    qk = figures(at)[0]
    assert [t["name"] for t in qk["data"]] == ["queries", "keys"] and "Layer 3, head 6" in qk["layout"]["title"]["text"]
    caption = next(c.value for c in at.caption if "Check:" in c.value)
    assert "own attention to" in caption
