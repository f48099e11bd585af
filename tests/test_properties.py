"""Property-based tests of the text-processing core: any string in, a result or a UserError out."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny_choice
from core.errors import UserError
from core.models.loading import get_model
from core.inputs.text import encode
from core.explain.tokens import tokenize

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(text=TEXT, pair=st.one_of(st.none(), TEXT))
def test_encode_fits_the_model_or_asks_for_text(text, pair):
    loaded = get_model(tiny_choice("bert"))
    try:
        enc = encode(loaded, text, pair)
    except UserError:
        assert not text.strip()
        return
    n = enc.inputs["input_ids"].shape[1]
    assert n == len(enc.tokens) == len(enc.offsets) <= loaded.max_length
    assert enc.truncated == (enc.n_tokens_before > loaded.max_length)
    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]"


@SETTINGS
@given(text=TEXT, pair=st.one_of(st.none(), TEXT))
def test_tokenize_lists_have_equal_length_and_segments_follow_sentences(text, pair):
    loaded = get_model(tiny_choice("bert"))
    try:
        d = tokenize(loaded, text, pair).as_dict()
    except UserError:
        return
    assert len(d["tokens"]) == len(d["ids"]) == len(d["segments"]) == len(d["positions"])
    assert d["positions"] == list(range(len(d["ids"])))
    assert d["segments"] == sorted(d["segments"])  # all of A (0) before all of B (1)
    assert set(d["segments"]) <= ({0, 1} if (pair or "").strip() else {0})
