"""core.explain.tokens, core.explain.embeddings, their figures and `python -m core tokenize`, checked with numbers."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from conftest import tiny_choice
from core.cli import main
from core.explain.embeddings import (compare_in_context, decompose, position_similarity, project_tokens,
                             sentence_states, word_vectors)
from core.errors import UserError
from core.figures.tokens import chips_html, context_figure, embedding_figure, embedding_steps, projection_figure
from core.models.loading import get_model
from core.explain.tokens import compare_splits, explain_algorithm, lookup, lowercases, tokenize

TEXT, PAIR = "the river bank was muddy .", "a dog ran in the park"
BANK = ["He sat on the river bank and watched the water.",
        "She deposited her money at the bank.", "The bank approved my loan."]


@pytest.fixture(scope="module")
def embedded():
    return get_model("embedded")


def _b_start(tokenized) -> int:
    return next(p.index for p in tokenized.pieces if p.sentence == 1)


def test_tokens_and_ids_are_the_tokenizers(tiny_any):
    model = get_model(tiny_any)
    t = tokenize(model, TEXT, PAIR)
    expected = model.tokenizer(TEXT, PAIR)["input_ids"]
    d = t.as_dict()
    assert d["ids"] == expected
    assert d["tokens"] == model.tokenizer.convert_ids_to_tokens(expected)
    assert {len(v) for v in d.values()} == {len(expected)}
    assert t.pieces[0].kind == t.pieces[-1].kind == "special"
    assert t.pieces[0].token == model.tokenizer.cls_token
    first = model.config.pad_token_id + 1 if model.model_type == "roberta" else 0
    assert d["positions"] == list(range(first, first + len(expected)))


@pytest.mark.parametrize("arch", ["bert", "distilbert", "roberta"])
def test_segment_ids_are_what_the_model_reads(arch):
    t = tokenize(get_model(tiny_choice(arch)), TEXT, PAIR)
    b = _b_start(t)
    if arch == "bert":  # segment B (from its first piece to the final [SEP]) is 1
        assert t.as_dict()["segments"] == [0] * b + [1] * (len(t.pieces) - b)
    else:  # DistilBERT has no segment table; RoBERTa's has one row
        assert set(t.as_dict()["segments"]) == {0}


def test_albert_pair_gets_segment_one():
    t = tokenize(get_model(tiny_choice("albert")), TEXT, PAIR)
    assert t.as_dict()["segments"][_b_start(t)] == 1


def test_embedding_sum_and_layernorm_equal_the_models_own(tiny_any):
    model = get_model(tiny_any)
    t = tokenize(model, TEXT, PAIR)
    emb = decompose(model, t.encoded)
    tables = model.encoder.embeddings
    assert emb.max_error < 1e-5
    # Independent of decompose's own comparison: the encoder's hidden state 0 (after ALBERT's
    # projection to the hidden size, which its embedding layer does not include).
    out = model.encoder(**t.encoded.inputs, output_hidden_states=True).hidden_states[0][0].numpy()
    np.testing.assert_allclose(emb.projected if model.model_type == "albert" else emb.normed, out, atol=1e-5)
    ids = t.encoded.inputs["input_ids"][0]
    np.testing.assert_array_equal(emb.token, tables.word_embeddings.weight[ids].numpy())
    np.testing.assert_array_equal(emb.position, tables.position_embeddings.weight[emb.position_ids].numpy())
    np.testing.assert_allclose(emb.summed, emb.token + emb.position + (emb.segment if emb.segment is not None else 0),
                               atol=1e-6)
    hidden = model.config.hidden_size
    if model.model_type == "albert":  # factorised: tables embedding_size wide, then projected
        assert emb.token.shape[1] == model.config.embedding_size != hidden
        assert emb.projected.shape == (len(ids), hidden)
    else:
        assert emb.token.shape == (len(ids), hidden) and emb.projected is None
    if model.model_type == "distilbert":
        assert emb.segment is None
    elif model.model_type == "roberta":
        assert emb.position_ids[0] == model.config.pad_token_id + 1
        one_row = tables.token_type_embeddings.weight[:1].numpy()
        np.testing.assert_array_equal(emb.segment, np.repeat(one_row, len(ids), 0))
    if model.model_type == "bert":
        b = _b_start(t)
        np.testing.assert_array_equal(emb.segment[b], tables.token_type_embeddings.weight[1].numpy())
        np.testing.assert_array_equal(emb.segment[0], tables.token_type_embeddings.weight[0].numpy())


def test_position_similarity_uses_the_rows_the_model_reads(tiny_any):
    model = get_model(tiny_any)
    matrix, ids = position_similarity(model, 10)
    first = model.config.pad_token_id + 1 if model.model_type == "roberta" else 0
    assert ids == list(range(first, first + 10))
    table = model.encoder.embeddings.position_embeddings.weight[first:first + 10]
    expected = torch.nn.functional.cosine_similarity(table[:, None], table[None], dim=-1).numpy()
    np.testing.assert_allclose(matrix, expected, atol=1e-5)
    np.testing.assert_allclose(np.diag(matrix), 1, atol=1e-5)


def test_pretrained_positions_are_smooth(embedded):
    matrix, _ = position_similarity(embedded, 64)
    assert matrix[10, 11] > 0.8 and matrix[10, 60] < 0.3  # neighbours alike, far apart not


def test_real_vocabulary_splits_and_explains(embedded):
    t = tokenize(embedded, "Unbelievably, the café is naïve 😀 東京")
    assert lowercases(embedded.tokenizer)
    assert t.tokens[1:6] == ["un", "##bel", "##ie", "##va", "##bly"]
    assert [p.kind for p in t.pieces[1:6]] == ["word"] + ["continuation"] * 4
    splits = {s.word: s for s in t.splits()}
    assert splits["Unbelievably"].reason == "not one vocabulary entry: 5 pieces"
    assert splits["café"].pieces == ["cafe"] and splits["café"].reason == "read as “cafe” (accents stripped)"
    assert splits["😀"].pieces == ["[UNK]"] and "[UNK]" in splits["😀"].reason
    explained = explain_algorithm(embedded.tokenizer)
    assert "WordPiece" in explained and "30,522" in explained and "[UNK]" in explained
    assert [p.kind for p in t.pieces if p.token == "[UNK]"] == ["unknown"]
    assert "東" in t.tokens and "京" in t.tokens  # CJK characters are split one by one
    assert "the" not in splits  # a plain word is not listed


def test_long_text_is_truncated_with_a_notice(tiny_bert):
    model = get_model(tiny_bert)
    t = tokenize(model, "the cat sat " * 100)
    assert len(t.pieces) == model.max_length == 64
    assert t.tokens[-1] == "[SEP]"
    assert "302 tokens" in t.notice and "64" in t.notice


def test_long_pairs_are_cut_as_the_tokenizer_would_without_its_memory_blowup(tiny_any):
    model = get_model(tiny_any)
    a, b = ("the cat sat on the mat . " * 40).strip(), ("a dog ran in the park " * 30).strip()
    t = tokenize(model, a, b)
    expected = model.tokenizer(a, b, truncation="longest_first", max_length=model.max_length)["input_ids"]
    assert t.as_dict()["ids"] == expected
    full = len(model.tokenizer(a, b)["input_ids"])
    assert t.encoded.n_tokens_before == full and f"needs {full} tokens" in t.notice
    huge = "word " * 20_000  # a plain pair call would need gigabytes (huggingface/tokenizers#2035)
    start = time.perf_counter()
    t = tokenize(model, huge, huge)
    assert time.perf_counter() - start < 10 and len(t.pieces) == model.max_length and t.encoded.truncated


def test_empty_text_is_a_user_error(tiny_bert):
    with pytest.raises(UserError):
        tokenize(get_model(tiny_bert), "   ")


def test_compare_splits_covers_every_piece(embedded, tiny_bert):
    a = tokenize(embedded, "The river banks were muddy.")
    b = tokenize(get_model(tiny_bert), "The river banks were muddy.")
    rows = compare_splits(a, b)
    assert [r["word"] for r in rows] == ["The", "river", "banks", "were", "muddy", "."]
    assert rows[2]["a"] == ["banks"]
    assert sum((r["b"] for r in rows), []) == [p.token for p in b.pieces if p.kind != "special"]


def test_lookup_neighbours_are_cosine_over_the_input_table(embedded):
    found = lookup(embedded, "bank")
    assert found.single and found.pieces == ["bank"]
    table = embedded.encoder.get_input_embeddings().weight
    best = found.neighbours[0]
    expected = torch.nn.functional.cosine_similarity(table[best.id], table[found.ids[0]], dim=0)
    assert best.cosine == pytest.approx(float(expected), abs=1e-5)
    cosines = [n.cosine for n in found.neighbours]
    assert cosines == sorted(cosines, reverse=True) and len(cosines) == 10
    assert "banks" in [n.token for n in found.neighbours]
    assert not any(n.token.startswith("[") for n in found.neighbours)  # no specials, no [unused]
    split = lookup(embedded, "unbelievably")
    assert not split.single and len(split.ids) == 5 and "mean" in split.note
    with pytest.raises(UserError):
        lookup(embedded, " ")


def states(model, sentences):
    return [sentence_states(model, s) for s in sentences]


def test_bank_drifts_apart_by_meaning(embedded):
    c = compare_in_context(states(embedded, BANK), "bank")
    assert c.pairs == [(0, 1), (0, 2), (1, 2)]
    assert c.similarity.shape == (3, 7)
    money_loan, river_money, river_loan = c.similarity[2], c.similarity[0], c.similarity[1]
    assert np.all(money_loan[1:] > river_money[1:]) and np.all(money_loan[1:] > river_loan[1:])
    assert c.similarity[:, 0].min() > 0.95  # before any layer: the same row, different position


def test_word_is_found_in_the_text_whatever_the_tokenizer(tiny_any):
    model = get_model(tiny_any)
    sentence = sentence_states(model, "She went to the Bank. the river")
    vectors = word_vectors(sentence, "bank")
    covering = [i for i, span in enumerate(sentence.spans) if span and span[0] < 20 and span[1] > 16]
    np.testing.assert_allclose(vectors, sentence.states[:, covering].mean(axis=1), atol=1e-6)
    assert vectors.shape == (model.config.num_hidden_layers + 1, model.config.hidden_size)


def test_context_errors_are_friendly(embedded):
    with pytest.raises(UserError, match="not in the sentence"):
        compare_in_context(states(embedded, ["The river was muddy.", "The bank approved it."]), "bank")
    with pytest.raises(UserError, match="two sentences"):
        compare_in_context(states(embedded, ["The bank approved it."]), "bank")


def test_projection(tiny_any):
    model = get_model(tiny_any)
    both = states(model, [TEXT, PAIR])
    proj = project_tokens(both, layer=1)
    kept = sum(sum(not s for s in st.special) for st in both)
    assert proj.points.shape == (kept, 2) and len(proj.tokens) == kept
    assert proj.explained[0] >= proj.explained[1] > 0
    with pytest.raises(UserError):
        project_tokens(both, layer=99)


def test_chips_escape_user_text(tiny_bert):
    t = tokenize(get_model(tiny_bert), "<b>hi</b> & <script>alert(1)</script>")
    html = chips_html(t)
    assert "<script" not in html and "<b>" not in html and "&lt;" in html
    assert html.count("<span") == len(t.pieces)


def test_figures_show_shapes(tiny_any):
    model = get_model(tiny_any)
    t = tokenize(model, TEXT, PAIR)
    emb = decompose(model, t.encoded)
    expected = {"token", "position", "sum", "LayerNorm"}
    expected |= {"segment"} if model.model_type != "distilbert" else set()
    expected |= {"projected"} if model.model_type == "albert" else set()
    assert set(embedding_steps(emb)) == expected
    width = model.config.embedding_size if model.model_type == "albert" else model.config.hidden_size
    assert f"({len(t.pieces)} × {width})" in embedding_figure(emb, "token").layout.title.text
    assert f"(3 × {width})" in embedding_figure(emb, "sum", max_tokens=3).layout.title.text


def test_context_and_projection_figures(embedded):
    bank = states(embedded, BANK)
    c = compare_in_context(bank, "bank")
    fig = context_figure(c)
    assert len(fig.data) == 3 and list(fig.data[2].y) == pytest.approx(list(c.similarity[2]))
    fig = projection_figure(project_tokens(bank, 6), BANK, highlight="bank")
    assert len(fig.data) == 3
    sizes = dict(zip(fig.data[2].text, fig.data[2].marker.size))  # "The bank approved my loan."
    assert sizes["bank"] > sizes["loan"]


def test_cli_json_contract(tiny_bert, capsys):
    assert main(["tokenize", TEXT, "--pair", PAIR, "--model", tiny_bert, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["tokens", "ids", "segments", "positions"]
    assert out["ids"] == get_model(tiny_bert).tokenizer(TEXT, PAIR)["input_ids"]
    assert len({len(v) for v in out.values()}) == 1
    assert main(["tokenize", "", "--json"]) == 2
    assert "Type a sentence" in capsys.readouterr().err
