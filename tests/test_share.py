"""Share a view: a page's inputs live in its address, a link restores them, and it never carries `?me=`.

The browser test (test_browser_share.py) copies the link on each page, opens it in a fresh
browser and checks the note on a bad link (app.py's part); these check the page side with AppTest
(which runs a page without app.py) and the link builder alone.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from core.explain.nsp import next_sentence_probability
from core.inputs.links import share_link
from core.models.loading import get_model
from pages._common import _shareable
from test_masked import wordpiece_choice
from test_page_masked import _page

A, B = "The storm knocked out the power.", "We lit candles and waited."


def test_a_link_restores_tab_and_sentences_and_the_numbers_follow():
    at = _page(wordpiece_choice(), link={"mlm_tab": "Next sentence", "nsp_a": A, "nsp_b": B})
    assert at.session_state["mlm_tab"] == "Next sentence"
    assert at.text_area(key="nsp_a").value == A and at.text_area(key="nsp_b").value == B
    p, _ = next_sentence_probability(get_model(wordpiece_choice()), A, B)
    assert [m.value for m in at.metric] == [f"{p:.1%}"]


def test_values_a_widget_cannot_take_fall_back_to_its_default_never_a_crash():
    at = _page(wordpiece_choice(), link={"mlm_topk": "999", "mlm_tab": "Nowhere", "click_whole": "maybe"})
    assert at.session_state["mlm_topk"] == 5 and at.session_state["mlm_tab"] == "Fill the mask"
    assert at.session_state["click_whole"] is False


def test_a_link_drops_the_private_id_and_over_long_text():
    link = share_link("http://class:8501/masked", {"me": ["0" * 32], "mlm_text": ["Paris is the [MASK]."],
                                                   "xp_methods": ["ig", "occlusion"], "aug_text": ["x" * 2001]})
    query = parse_qs(urlsplit(link.url).query)
    assert link.url.startswith("http://class:8501/masked?")
    assert query == {"mlm_text": ["Paris is the [MASK]."], "xp_methods": ["ig", "occlusion"]}
    assert link.left_out == ("aug_text",)
    assert share_link("http://class:8501/", {"me": ["0" * 32]}).url == "http://class:8501/"


def test_only_hub_and_embedded_models_travel_in_a_link():
    assert _shareable("embedded") and _shareable("bert-base-uncased") and _shareable("prajjwal1/bert-tiny")
    assert not _shareable("local:runs/0123abcd/my-model") and not _shareable("../x") and not _shareable("")


def test_a_link_also_fills_the_sentence_a_closed_tab_reads():
    """The fill tab's sentence feeds "Layer by layer" too: a link to that tab brings its sentence."""
    sentence = "paris is the [MASK] of france ."
    at = _page(wordpiece_choice(), link={"mlm_tab": "Layer by layer", "mlm_text": sentence})
    assert not at.exception and at.session_state["mlm_text"] == sentence
    assert f"Sentence: {sentence}" in [t.value for t in at.text] and at.session_state["mlm_tab"] == "Layer by layer"
