"""The masked-words page through Streamlit's AppTest, on the tiny WordPiece BERT (numbers checked)."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, tiny_choice
from core.explain import masked as M
from core.models.loading import get_model
from core.explain.nsp import EXAMPLES, next_sentence_probability
from core.inputs.examples import FILL_MASK
from test_masked import headless_choice, wordpiece_choice


def _page(choice: str | None = None, tab: str | None = None, link: dict | None = None) -> AppTest:
    """The masked-word page for a fresh session (opened from a link's query parameters, if given)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(link or {})
    if choice:
        at.session_state["model_choice"] = choice
    if tab:
        at.session_state["mlm_tab"] = tab
    at.switch_page("pages/masked.py")
    at.run()
    assert not at.exception
    return at


def _open(at, tab: str) -> AppTest:
    """Open another tab (only the open one is computed and drawn)."""
    at.session_state["mlm_tab"] = tab
    return at.run()


@pytest.fixture
def at():
    return _page(wordpiece_choice())


@pytest.fixture(scope="module")
def wp():
    return get_model(wordpiece_choice())


def _html(at) -> str:
    return "\n".join(e.proto.body for e in at.get("html"))


def _table(at, column: str):
    """The first dataframe on the page that has `column`, or None."""
    return next((d.value for d in at.dataframe if column in d.value.columns), None)


def test_fill_mask_shows_the_model_numbers(at, wp):
    at.text_input(key="mlm_text").set_value("paris is the [MASK] of france .").run()
    assert not at.exception and not at.warning
    expected = M.fill_mask(wp, "paris is the [MASK] of france .", top_k=5)
    first = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert first["x"] == pytest.approx([p.score for p in expected.predictions[0]], abs=1e-6)
    assert expected.predictions[0][0].token in _html(at)
    assert _table(at, "completion") is None  # one mask: no joint table


def test_several_masks_give_joint_completions(at, wp):
    text = "the [MASK] sat on the [MASK] ."
    at.text_input(key="mlm_text").set_value(text).run()
    assert not at.exception
    table = _table(at, "completion")
    best = M.joint_fill(wp, M.prepare(wp, text), beam=8, n_best=8)
    assert list(table["completion"]) == [c.text for c in best]
    assert any("chain rule" in m.value for m in at.markdown)


def test_other_mask_spelling_is_explained(at):
    at.text_input(key="mlm_text").set_value("the cat <mask> on the mat").run()
    assert any("<mask>" in i.value and "[MASK]" in i.value for i in at.info)


@pytest.mark.parametrize("text, words", [
    ("the cat sat", "no mask"),
    ("[MASK]", "only masks"),
    (" ".join(["the [MASK]"] * 30), "at most 20"),
    ("the cat sat on the mat . " * 20 + "[MASK]", "beyond token"),
])
def test_bad_input_is_a_friendly_warning(at, text, words):
    at.text_input(key="mlm_text").set_value(text).run()
    assert not at.exception
    assert any(words in w.value for w in at.warning)


def test_eleven_masks_skip_joint_decoding_with_a_message(at):
    at.text_input(key="mlm_text").set_value(" ".join(["the [MASK]"] * 11)).run()
    assert not at.exception
    assert any("at most 10 masks" in w.value for w in at.warning)


def test_click_to_mask_shows_probability_of_the_original(at, wp):
    _open(at, "Click to mask")
    text = "the cats sat on the mat ."
    at.text_input(key="click_text").set_value(text).run()
    rows = {r.position: r for r in M.surprisal(wp, text)}
    assert "the" in _html(at) and f"P = {rows[1].probability:.4f}" in _html(at)
    at.button(key="click_2_1").click().run()  # "cat"
    assert not at.exception
    metric = at.metric[0]
    assert "cat" in metric.label and metric.value == f"{rows[2].probability:.2%}"
    assert "[MASK]" in _html(at)


def test_click_whole_word_masks_all_pieces_and_decodes_jointly(at, wp):
    _open(at, "Click to mask")
    text = "the cats are walking"
    at.text_input(key="click_text").set_value(text).run()
    at.toggle(key="click_whole").set_value(True).run()
    labels = [b.label for b in at.button if b.key.startswith("click_")]
    assert labels == ["the", "cats", "are", "walking"]
    at.button(key="click_5_5").click().run()
    assert not at.exception
    masked = M.with_masks(wp, text, [5, 6, 7, 8, 9])
    best = M.joint_fill(wp, masked, beam=8, n_best=8)
    assert list(_table(at, "completion")["completion"]) == [c.text for c in best]
    assert any("'walking' is 5 pieces" in c.value for c in at.caption)


def test_whole_words_skip_typed_masks(at):
    _open(at, "Click to mask")
    at.toggle(key="click_whole").set_value(True).run()
    at.text_input(key="click_text").set_value("the [MASK] sat on the mat . " * 3).run()
    assert not at.exception
    labels = [b.label for b in at.button if b.key.startswith("click_")]
    assert labels == ["the", "sat", "on", "the", "mat", "\\."] * 3  # a typed mask is no button


def test_user_text_is_escaped(at):
    _open(at, "Click to mask")
    at.text_input(key="click_text").set_value("<b>bold</b> [MASK] x").run()
    assert not at.exception
    assert "<b>" not in _html(at) and "&lt;" in _html(at)


def test_logit_lens_table_has_every_layer(at, wp):
    at.text_input(key="mlm_text").set_value("the cat [MASK] on the mat .").run()
    _open(at, "Layer by layer")  # the fill tab's sentence, kept while its tab is closed
    table = _table(at, "layer")
    assert list(table["layer"]) == ["embeddings", "1", "2"]
    steps = M.logit_lens(wp, M.prepare(wp, "the cat [MASK] on the mat ."), 0, top_k=3)
    assert list(table.iloc[:, -1]) == pytest.approx([float(f"{s.final_probability:.3g}") for s in steps])


def test_next_sentence_examples(at, wp):
    _open(at, "Next sentence")
    at.selectbox(key="nsp_example").set_value("A random sentence").run()
    assert not at.exception
    a, b = EXAMPLES["A random sentence"]
    assert at.text_area(key="nsp_a").value == a and at.text_area(key="nsp_b").value == b
    p, _ = next_sentence_probability(wp, a, b)
    assert any(m.value == f"{p:.1%}" for m in at.metric)


def test_compare_models_side_by_side(at):
    _open(at, "Compare models")
    at.selectbox(key="compare_choice").set_value(tiny_choice("distilbert")).run()
    assert not at.exception
    assert len(at.subheader) >= 2


def test_model_without_heads_gets_clear_notes():
    at = _page(tiny_choice("roberta"), tab="Next sentence")
    assert any("no next-sentence (NSP) head" in i.value and "RoBERTa" in i.value for i in at.info)


def test_model_without_mlm_head_gets_a_clear_note():
    at = _page(headless_choice())
    assert any("no trained masked-word (MLM) head" in i.value for i in at.info)
    assert not at.get("plotly_chart") and not at.metric
    _open(at, "Next sentence")
    assert any("no next-sentence (NSP) head" in i.value for i in at.info)
    assert not at.get("plotly_chart") and not at.metric


def test_embedded_model_first_open():
    """The default page on the default model: predictions if its head is trained, else the note."""
    at = _page()
    loaded = get_model("embedded")
    assert not at.error and not at.warning
    if loaded.has_mlm:
        expected = M.fill_mask(loaded, FILL_MASK, top_k=5)
        first = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
        assert first["x"] == pytest.approx([p.score for p in expected.predictions[0]], abs=1e-6)
    else:
        assert any("no trained masked-word" in i.value for i in at.info)
    _open(at, "Next sentence")
    if loaded.has_nsp:
        p, _ = next_sentence_probability(loaded, *next(iter(EXAMPLES.values())))
        assert any(m.value == f"{p:.1%}" for m in at.metric)


def test_the_embedded_models_weak_heads_are_named_with_their_numbers():
    from core.models.embedded import QUALITY

    note = next(c.value for c in _page().caption if "still weak" in c.value)
    assert f"{QUALITY['BBC news']['top1']:.0%}" in note and f"{QUALITY['BBC news']['nsp']:.0%} on news" in note
    assert not any("still weak" in c.value for c in _page(wordpiece_choice()).caption)


class Forwards:
    """Counts forward passes of a model (a test-only hook on this process's cached copy)."""

    def __init__(self, loaded):
        self.n = 0
        self.handle = loaded.encoder.register_forward_hook(self.count)

    def count(self, *_args):
        self.n += 1


def test_reruns_that_change_nothing_the_model_reads_run_no_forward_pass():
    from pages._common import cached_model

    at = _page()
    _open(at, "Click to mask")  # computed once here...
    _open(at, "Fill the mask")
    forwards = Forwards(cached_model("embedded"))
    try:
        at.run()  # ...then the same inputs: every answer comes from the cache
        _open(at, "Click to mask")
        at.toggle(key="click_whole").set_value(True).run()  # the cached scores, grouped anew
        _open(at, "Fill the mask")  # back: the sentence was kept, its answer cached
        assert forwards.n == 0
        at.text_input(key="mlm_text").set_value("A [MASK] of tea.").run()
        assert forwards.n == 1  # a new sentence: one pass, for the open tab only
    finally:
        forwards.handle.remove()
    assert at.text_input(key="mlm_text").value == "A [MASK] of tea."
