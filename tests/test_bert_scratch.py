"""The from-scratch BERT equals transformers' BERT, and its masks do what they claim."""
from __future__ import annotations

import json

import pytest
import torch
from conftest import tiny_choice

from core.bert import Bert, BertConfig, from_transformers
from core.bert.parity import compare, parity_batch
from core.errors import UserError
from core.models.loading import get_model

TOL = 1e-5


@pytest.fixture(scope="module")
def tiny():
    loaded = get_model(tiny_choice("bert"))
    return loaded, from_transformers(loaded.model)


@pytest.fixture(scope="module")
def embedded():
    loaded = get_model("embedded")
    return loaded, from_transformers(loaded.model)


def _inputs(loaded, texts):
    rows = [loaded.tokenizer(*t) if isinstance(t, tuple) else loaded.tokenizer(t) for t in texts]
    return dict(loaded.tokenizer.pad(rows, return_tensors="pt"))


def test_parity_batch_has_padding_and_two_segments(tiny):
    batch = parity_batch(tiny[0])
    assert (batch["attention_mask"] == 0).any()
    assert (batch["token_type_ids"] == 1).any()


@pytest.mark.parametrize("which", ["tiny", "embedded"])
def test_matches_transformers_hidden_attention_mlm(which, request):
    loaded, scratch = request.getfixturevalue(which)
    batch = parity_batch(loaded)
    result = compare(loaded, batch, scratch)
    assert result["max_abs_diff_hidden"] < TOL
    assert result["max_abs_diff_attention"] < TOL
    if loaded.has_mlm:
        assert result["max_abs_diff_mlm_logits"] < TOL
    else:
        assert result["max_abs_diff_mlm_logits"] is None
    # The head modules exist even when untrained: the arithmetic must still agree.
    with torch.inference_mode():
        ref = loaded.model(**batch)
        hidden, _ = scratch(**batch, output_attentions=True)
        assert (scratch.mlm_logits(hidden) - ref.prediction_logits).abs().max() < TOL
        assert (scratch.nsp_logits(hidden) - ref.seq_relationship_logits).abs().max() < TOL


def test_padding_does_not_change_the_real_tokens(tiny):
    loaded, scratch = tiny
    texts = ["the cat sat on the mat .", "a dog"]
    batch = _inputs(loaded, texts)
    assert batch["attention_mask"][1].sum() < batch["attention_mask"][0].sum()
    with torch.inference_mode():
        padded, _ = scratch(**batch)
        for row, text in enumerate(texts):
            alone = _inputs(loaded, [text])
            n = alone["input_ids"].shape[1]
            single, _ = scratch(**alone)
            assert (padded[row, :n] - single[0]).abs().max() < TOL


def test_segments_matter_and_match(tiny):
    loaded, scratch = tiny
    batch = _inputs(loaded, [("the cat sat .", "a dog ran .")])
    zeros = {**batch, "token_type_ids": torch.zeros_like(batch["token_type_ids"])}
    with torch.inference_mode():
        two, _ = scratch(**batch)
        one, _ = scratch(**zeros)
        assert (two - loaded.encoder(**batch).last_hidden_state).abs().max() < TOL
    assert (two - one).abs().max() > 1e-3  # segment B embeddings really are added


def _hf_config(**extra):
    from transformers import BertConfig as HFBertConfig

    return HFBertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=32, attn_implementation="eager", **extra)


@pytest.mark.parametrize("act", ["gelu", "gelu_new"])
def test_random_pretraining_model_with_padding_and_segments(act):
    from transformers import BertForPreTraining

    torch.manual_seed(1)
    hf = BertForPreTraining(_hf_config(hidden_act=act)).eval()
    scratch = from_transformers(hf)
    ids = torch.randint(5, 60, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    segments = torch.zeros_like(ids)
    segments[:, 6:] = 1
    with torch.inference_mode():
        ref = hf(ids, attention_mask=mask, token_type_ids=segments, output_attentions=True,
                 output_hidden_states=True)
        hidden, attentions = scratch(ids, mask, segments, output_attentions=True)
        fast, _ = scratch(ids, mask, segments)
        assert (hidden - ref.hidden_states[-1]).abs().max() < TOL
        assert (fast - ref.hidden_states[-1]).abs().max() < TOL
        assert max((a - b).abs().max() for a, b in zip(attentions, ref.attentions)) < TOL
        assert (scratch.mlm_logits(hidden) - ref.prediction_logits).abs().max() < TOL
        assert (scratch.nsp_logits(hidden) - ref.seq_relationship_logits).abs().max() < TOL


def test_models_without_heads_and_mlm_only():
    from transformers import BertForMaskedLM, BertModel

    cfg = _hf_config()
    bare = BertModel(cfg, add_pooling_layer=False).eval()
    scratch = from_transformers(bare)
    assert scratch.mlm is None and scratch.nsp is None and scratch.pooler is None
    with pytest.raises(ValueError, match="no masked-word"):
        scratch.mlm_logits(torch.zeros(1, 2, cfg.hidden_size))
    mlm = BertForMaskedLM(cfg).eval()
    scratch = from_transformers(mlm)
    ids = torch.tensor([[2, 10, 11, 40, 3]])
    with torch.inference_mode():
        hidden, _ = scratch(ids)
        assert (scratch.mlm_logits(hidden) - mlm(ids).logits).abs().max() < TOL
    assert scratch.nsp is None
    assert scratch.mlm.decoder.weight is scratch.embeddings.word.weight  # tied


def test_weights_shared_read_only_or_cloned(tiny):
    loaded, scratch = tiny
    hf_word = loaded.model.bert.embeddings.word_embeddings.weight
    assert scratch.embeddings.word.weight.data_ptr() == hf_word.data_ptr()
    assert not any(p.requires_grad for p in scratch.parameters())
    own = from_transformers(loaded.model, clone=True)
    before = hf_word.clone()
    with torch.no_grad():
        own.embeddings.word.weight.add_(1.0)
    assert torch.equal(hf_word, before)
    assert own.mlm.decoder.weight is own.embeddings.word.weight


def test_only_bert_models():
    with pytest.raises(UserError, match="distilbert"):
        from_transformers(get_model(tiny_choice("distilbert")).model)


def _random_bert(seed=0) -> Bert:
    torch.manual_seed(seed)
    return Bert(BertConfig(vocab_size=50, hidden_size=32, num_layers=2, num_heads=4,
                           intermediate_size=64, max_positions=32)).eval()


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_path_equals_step_by_step(causal):
    model = _random_bert()
    ids = torch.randint(5, 50, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, 6:] = 0
    with torch.inference_mode():
        fast, none = model(ids, mask, causal=causal)
        slow, attentions = model(ids, mask, output_attentions=True, causal=causal)
    assert none is None and len(attentions) == 2 and attentions[0].shape == (2, 4, 9, 9)
    assert torch.isfinite(fast).all()
    assert (fast - slow).abs().max() < TOL
    assert attentions[0][1, :, :, 6:].abs().max() == 0  # padding keys get no attention


def test_causal_mask_hides_the_future():
    model = _random_bert()
    ids = torch.randint(5, 50, (1, 8))
    changed = ids.clone()
    changed[0, 5] = 4 if ids[0, 5] != 4 else 7
    with torch.inference_mode():
        a, probs = model(ids, causal=True, output_attentions=True)
        b, _ = model(changed, causal=True)
        bi_a, _ = model(ids)
        bi_b, _ = model(changed)
    assert (a[0, :5] - b[0, :5]).abs().max() < 1e-6   # earlier tokens never saw token 5
    assert (a[0, 5:] - b[0, 5:]).abs().max() > 1e-3
    assert (bi_a[0, :5] - bi_b[0, :5]).abs().max() > 1e-3  # BERT looks both ways
    upper = torch.ones(8, 8, dtype=torch.bool).triu(1)
    assert probs[0][0, :, upper].abs().max() == 0


def test_trace_reuses_the_forward_math(tiny):
    loaded, scratch = tiny
    batch = _inputs(loaded, [("the cat sat on the mat .", "a dog ran .")])
    cfg = scratch.config
    with torch.inference_mode():
        trace = scratch.trace(**batch, layer=1)
        hidden, attentions = scratch(**batch, output_attentions=True)
    T = batch["input_ids"].shape[1]
    s = trace.steps
    assert s["q"].shape == (cfg.num_heads, T, cfg.head_dim)
    assert s["ffn_act"].shape == (T, cfg.intermediate_size)
    assert torch.equal(trace.hidden_states[-1], hidden[0])
    assert torch.equal(s["probs"], attentions[1][0])
    assert torch.equal(s["x"], trace.hidden_states[1]) and torch.equal(s["out"], trace.hidden_states[2])
    assert torch.equal(trace.embeddings["out"], trace.hidden_states[0])
    scores = s["q"] @ s["k"].transpose(-2, -1) / cfg.head_dim ** 0.5
    assert (scores - s["scores"]).abs().max() < 1e-6
    assert torch.allclose(s["probs"].sum(-1), torch.ones(cfg.num_heads, T))
    head1 = s["concat"][:, cfg.head_dim:2 * cfg.head_dim]
    assert torch.equal(head1, s["context"][1])
    assert torch.equal(s["residual1"], s["x"] + s["attn_out"])
    assert torch.equal(trace.embeddings["sum"],
                       trace.embeddings["word"] + trace.embeddings["segment"] + trace.embeddings["position"])
    assert trace.visible.all()
    causal = scratch.trace(**batch, layer=0, causal=True)
    assert torch.equal(causal.visible, torch.ones(T, T, dtype=torch.bool).tril())
    assert causal.steps["masked_scores"][0, 0, 1] == torch.finfo(torch.float32).min


def test_cli_parity_json(capsys):
    from core.cli import main

    assert main(["parity", "--model", tiny_choice("bert"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"max_abs_diff_hidden", "max_abs_diff_attention", "max_abs_diff_mlm_logits"}
    assert out["max_abs_diff_hidden"] < TOL and out["max_abs_diff_mlm_logits"] < TOL


def test_cli_parity_rejects_other_models(capsys):
    from core.cli import main

    assert main(["parity", "--model", tiny_choice("roberta"), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "roberta" in err


def test_walkthrough_helpers(tiny):
    from core.bert.walkthrough import dim_window, relative_change, walk

    assert dim_window(384) == slice(0, 24)
    assert dim_window(384, 500) == slice(360, 384)
    assert dim_window(10, 3) == slice(0, 10)
    x = torch.ones(3, 4)
    assert torch.allclose(relative_change([x, 2 * x, 2 * x]), torch.tensor([[1.0] * 3, [0.0] * 3]))
    loaded, scratch = tiny
    w = walk(loaded, scratch, "the cat sat on the [MASK] .", layer=1)
    assert w.default_focus() == w.tokens.index("[MASK]") == 6
    assert torch.equal(w.trace.attentions[1], w.trace.steps["probs"])
    assert len(w.trace.hidden_states) == scratch.config.num_layers + 1
