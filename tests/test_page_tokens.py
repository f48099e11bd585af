"""The tokens & embeddings page in AppTest: inputs of every kind, never a traceback, real numbers."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, tiny_choice
from hostile import HOSTILE_TEXTS
from core.models.loading import get_model
from core.explain.tokens import tokenize

PAGE = "pages/tokens.py"


def open_page(choice: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(PAGE)
    if choice:
        at.session_state["model_choice"] = choice
    at.run()
    assert not at.exception
    return at


def pieces_table(at: AppTest):
    """The 'What the model is given' table (piece, id, segment id, position id, ...)."""
    return next(df.value for df in at.dataframe if "position id" in df.value.columns)


def chips(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if "title=" in h.proto.body]


def test_default_page_on_the_embedded_model():
    at = open_page()
    table = pieces_table(at)
    expected = tokenize(get_model("embedded"), at.text_area(key="tok_text").value)
    assert table["piece"].tolist() == expected.tokens
    assert table["id"].tolist() == expected.as_dict()["ids"]
    assert at.metric[0].value == str(len(expected.tokens))
    check = next(c.value for c in at.caption if c.value.startswith("Check:"))
    assert float(check.rsplit(" ", 1)[-1].rstrip(".")) < 1e-5
    assert len(at.get("plotly_chart")) == 1 + 1 + 1 + 1  # the open embedding step (lazy tabs), positions, context, PCA
    splits = next(df.value for df in at.dataframe if "why" in df.value.columns)
    assert "un ##bel ##ie ##va ##bly" in splits["pieces"].tolist()


def test_single_sentence_on_a_tiny_model():
    choice = tiny_choice("bert")
    at = open_page(choice)
    at.text_area(key="tok_text").input("the cat sat on the mat").run()
    assert not at.exception
    table = pieces_table(at)
    ids = get_model(choice).tokenizer("the cat sat on the mat")["input_ids"]
    assert table["id"].tolist() == ids
    assert table["position id"].tolist() == list(range(len(ids)))
    assert set(table["segment id"]) == {0}
    assert chips(at)[0].count("<span") == len(ids)


def test_pair_gets_segment_b():
    choice = tiny_choice("bert")
    at = open_page(choice)
    at.radio(key="tok_mode").set_value("A pair of sentences (segments A and B)").run()
    at.text_area(key="tok_text").input("the cat sat").run()
    at.text_input(key="tok_pair").input("a dog ran").run()
    assert not at.exception
    table = pieces_table(at)
    expected = get_model(choice).tokenizer("the cat sat", "a dog ran")
    assert table["id"].tolist() == expected["input_ids"]
    assert table["segment id"].tolist() == expected["token_type_ids"]
    assert 1 in table["segment id"].tolist()
    assert [t.label for t in at.tabs] == ["token", "segment", "position", "sum", "LayerNorm"]
    at.session_state["emb_step"] = "segment"  # the student opens another step: only that one is drawn
    at.run()
    drawn = [c for c in at.get("plotly_chart") if "Segment embedding" in c.proto.spec]
    assert len(drawn) == 1 and not [c for c in at.get("plotly_chart") if "Token embedding" in c.proto.spec]


def test_long_text_is_cut_with_a_notice():
    at = open_page()
    at.text_area(key="tok_text").input("the cat sat on the mat. " * 100).run()  # 700 tokens
    assert not at.exception
    assert any("702 tokens" in w.value and "at most 512" in w.value for w in at.warning)
    table = pieces_table(at)
    assert len(table) == 512 and table["piece"].iloc[-1] == "[SEP]"
    assert any("first 64 of your 512 tokens" in c.value for c in at.caption)


def test_every_architecture_renders(tiny_any):
    at = open_page(tiny_any)
    model = get_model(tiny_any)
    text = at.text_area(key="tok_text").value
    assert pieces_table(at)["id"].tolist() == model.tokenizer(text)["input_ids"]
    tabs = [t.label for t in at.tabs]
    assert ("segment" in tabs) == (model.model_type != "distilbert")
    assert ("projected" in tabs) == (model.model_type == "albert")


def test_emoji_accents_and_cjk_on_the_embedded_model():
    at = open_page()
    at.text_area(key="tok_text").input("Café naïve 😀 東京").run()
    assert not at.exception
    table = pieces_table(at)
    assert table["piece"].tolist() == ["[CLS]", "cafe", "naive", "[UNK]", "東", "京", "[SEP]"]
    assert table.loc[table["piece"] == "[UNK]", "your text"].tolist() == ["😀"]
    assert table.loc[table["piece"] == "[UNK]", "kind"].tolist() == ["unknown"]
    splits = next(df.value for df in at.dataframe if "why" in df.value.columns)
    assert "accents stripped" in splits.set_index("word").loc["Café", "why"]


def test_empty_input_shows_a_hint():
    at = open_page(tiny_choice("bert"))
    at.text_area(key="tok_text").input("   ").run()
    assert not at.exception and not at.error
    assert any("Type a sentence" in i.value for i in at.info)
    assert not chips(at)
    assert not any("position id" in df.value.columns for df in at.dataframe)
    at.text_input(key="tok_word").input("").run()
    at.text_input(key="ctx_word").input("").run()
    assert not at.exception
    assert any("Type a word" in i.value for i in at.info)


def test_user_html_stays_text():
    at = open_page(tiny_choice("bert"))
    at.text_area(key="tok_text").input("<img src=x onerror=alert(1)> <b>bold</b>").run()
    assert not at.exception
    for body in chips(at):
        assert "<img" not in body and "<b>" not in body


def test_compare_two_tokenizers():
    at = open_page(tiny_choice("bert"))
    at.selectbox(key="tok_compare").set_value(tiny_choice("roberta")).run()
    assert not at.exception
    assert len(chips(at)) == 3  # the main row, then both side by side
    table = next(df.value for df in at.dataframe if tiny_choice("roberta") in df.value.columns)
    assert table["word"].tolist()[:3] == ["Unbelievably", ",", "the"]


def test_offline_compare_offers_only_models_that_work():
    """No internet: the compare list holds the embedded model and local ones, no hub model that would fail."""
    at = open_page(tiny_choice("bert"))
    options = at.selectbox(key="tok_compare").options
    assert "embedded" in options and not any(o in options for o in ("roberta-base", "bert-base-uncased")), options


def test_vocabulary_lookup_and_context_sections():
    at = open_page()
    at.text_input(key="tok_word").input("unbelievably").run()
    assert any("5 pieces" in w.value for w in at.warning)
    neighbours = next(df.value for df in at.dataframe if "neighbour" in df.value.columns)
    assert len(neighbours) == 10 and neighbours["cosine"].is_monotonic_decreasing
    at.text_input(key="ctx_word").input("loan").run()
    assert any("not in the sentence" in i.value for i in at.info)
    at.slider(key="ctx_layer").set_value(0).run()
    assert not at.exception


def test_hostile_texts_never_break_the_page():
    at = open_page(tiny_choice("bert"))
    at.radio(key="tok_mode").set_value("A pair of sentences (segments A and B)").run()
    for name, text in HOSTILE_TEXTS.items():
        at.text_area(key="tok_text").input(text)
        at.text_input(key="tok_pair").input(text)
        at.text_input(key="tok_word").input(text)
        at.text_area(key="ctx_sentences").input(text).run()
        assert not at.exception, name
        assert not at.error, name
        if text.strip():
            assert chips(at) and all("<script" not in body and "<img" not in body for body in chips(at)), name
        else:
            assert any("Type a sentence" in i.value for i in at.info), name


def test_messages_quoting_user_text_escape_markdown():
    at = open_page(tiny_choice("bert"))
    at.text_input(key="ctx_word").input("**bold** [x](javascript:alert(1)) $x$").run()
    assert not at.exception
    message = next(i.value for i in at.info if "not in the sentence" in i.value)
    assert r"\*\*bold\*\* \[x\]\(javascript\:alert\(1\)\) \$x\$" in message


def test_many_context_sentences_are_capped():
    at = open_page(tiny_choice("bert"))
    at.text_area(key="ctx_sentences").input("\n".join(["the bank was muddy ."] * 20)).run()
    assert not at.exception
    assert any("first 8 of your 20 sentences" in i.value for i in at.info)
