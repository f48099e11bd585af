"""The 'Inside BERT' page walks a sentence through the from-scratch BERT, honestly."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_choice
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/inside_bert.py"


def open_page(choice: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    if choice:
        at.session_state["model_choice"] = choice
    at.switch_page(PAGE)
    return at.run()


def figure(at: AppTest, title_start: str) -> dict:
    """The plotly figure (as JSON) whose title starts with `title_start`."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec["layout"].get("title", {}).get("text", "")
        if title.startswith(title_start):
            return spec
    raise AssertionError(f"no figure titled {title_start!r}")


def values(data) -> np.ndarray:
    """A plotly array from the JSON spec: a list, or plotly's typed array {dtype, bdata, shape}."""
    if isinstance(data, dict):
        flat = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        return flat.reshape([int(n) for n in str(data.get("shape", len(flat))).split(",")])
    return np.array(data, dtype=float)


def z(spec: dict) -> np.ndarray:
    return values(spec["data"][0]["z"])


@pytest.fixture(scope="module")
def tiny_page():
    return open_page(tiny_choice("bert"))


def test_every_step_with_formula_numbers_and_live_proof(tiny_page):
    at = tiny_page
    assert not at.exception
    proof = at.success[0].value
    assert "matches transformers to" in proof
    worst = float(re.search(r"matches transformers to ([0-9.e+-]+)", proof).group(1))
    assert worst < 1e-5
    headings = [h.value for h in at.subheader]
    assert [h.split(" · ")[0] for h in headings] == [str(i) for i in range(1, 14)]
    assert len(at.latex) == 13
    probs = z(figure(at, "P: attention of layer 1, head 1"))
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    # tiny BERT: hidden 32, 4 heads -> d_k = 8; Q of one head is T x 8
    assert z(figure(at, "Q (head 1)")).shape == (probs.shape[0], 8)
    sources = " ".join(c.value for c in at.code)
    assert "scaled_dot_product_attention" in sources and "def forward" in sources  # the real code, verbatim
    assert not at.metric  # no second sentence: no next-sentence verdict
    assert not at.warning  # the tiny model has an MLM head: predictions, not an apology
    bars = figure(at, "Top guesses at position")
    assert 0 < values(bars["data"][0]["x"]).sum() <= 1 + 1e-6
    # the bars are the from-scratch MLM head's probabilities at the followed token
    from core.bert import from_transformers
    from core.bert.walkthrough import top_predictions, walk
    from core.models.loading import get_model

    loaded = get_model(tiny_choice("bert"))
    scratch = from_transformers(loaded.model)
    w = walk(loaded, scratch, at.text_input(key="inside_text").value)
    expected = top_predictions(loaded, scratch, w.trace.hidden_states[-1], at.selectbox(key="inside_focus").value)
    np.testing.assert_allclose(values(bars["data"][0]["x"])[::-1], [p for _, p in expected], atol=1e-6)


def test_causal_mask_blanks_the_future_and_changes_attention(tiny_page):
    at = tiny_page
    bi = z(figure(at, "P: attention of layer 1, head 1"))
    at.radio(key="inside_mode").set_value("Causal (GPT-style)").run()
    assert not at.exception
    causal = z(figure(at, "P: attention of layer 1, head 1"))
    T = causal.shape[0]
    upper = np.triu(np.ones((T, T), bool), 1)
    assert np.all(causal[upper] == 0) and np.all(bi[upper] > 0)
    np.testing.assert_allclose(causal.sum(axis=1), 1, atol=1e-5)
    masked = z(figure(at, "S′"))
    assert np.isnan(masked[upper]).all() and not np.isnan(masked[~upper]).any()
    assert any(f"{T * (T - 1) // 2} of {T * T} cells hidden" in c.value for c in at.caption)
    # the comparison shows both patterns side by side whatever the toggle says
    assert np.all(z(figure(at, "Bidirectional (BERT): layer 1"))[upper] > 0)
    assert np.all(z(figure(at, "Causal (GPT-style): layer 1"))[upper] == 0)


def test_layer_and_head_choice(tiny_page):
    at = tiny_page
    at.slider(key="inside_layer").set_value(2)
    at.slider(key="inside_head").set_value(3).run()
    assert not at.exception
    assert any("layer 2, head 3" in h.value for h in at.subheader)
    figure(at, "P: attention of layer 2, head 3")


def test_second_segment_adds_tokens():
    at = open_page(tiny_choice("bert"))
    n_one = z(figure(at, "E = embeddings")).shape[0]
    at.text_input(key="inside_pair").set_value("a dog ran in the park .").run()
    assert not at.exception
    assert z(figure(at, "E = embeddings")).shape[0] == n_one + 8  # 7 word pieces + [SEP]
    assert at.metric[0].label.startswith("Next-sentence head")
    assert 0 <= float(at.metric[0].value.rstrip("%")) <= 100


def test_empty_sentence_is_a_friendly_warning():
    at = open_page(tiny_choice("bert"))
    at.text_input(key="inside_text").set_value("   ").run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["Type a sentence first."]


def test_other_architectures_get_a_note():
    at = open_page(tiny_choice("distilbert"))
    assert not at.exception
    assert any("distilbert" in i.value for i in at.info)
    assert not at.subheader


def test_embedded_model_is_honest_about_its_heads():
    from core.models.loading import get_model

    at = open_page()
    assert not at.exception
    assert "matches transformers to" in at.success[0].value
    # MiniLM: 384 dims, so a window of them is shown and said so
    assert any("dimensions 0–23 of 384" in c.value for c in at.caption)
    no_head = [w.value for w in at.warning if "no trained masked-word" in w.value]
    assert bool(no_head) != get_model("embedded").has_mlm


def test_tables_follow_the_dimension_window_and_shorter_text():
    at = open_page()  # embedded: 384 dimensions, so there is a window slider
    at.slider(key="inside_dims").set_value(64).run()
    assert not at.exception
    assert any("dimensions 64–87 of 384" in c.value for c in at.caption)
    assert list(at.dataframe[0].value.columns[:2]) == ["d64", "d65"]
    assert z(figure(at, "E = embeddings")).shape[1] == 24
    at.selectbox(key="inside_focus").set_value(8).run()
    at.text_input(key="inside_text").set_value("Hi.").run()  # 4 tokens: the followed token must reset
    assert not at.exception
    assert at.selectbox(key="inside_focus").value < 4
