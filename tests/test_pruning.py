"""Pruning removes exactly the heads asked, scores heads by gradient, and zeroes the smallest weights."""
from __future__ import annotations

import json

import pytest
import torch
from test_distill import save_for_cli, tiny_classifier, toy_sentiment, trained_teacher
from in_process import run

from core.errors import UserError
from core.training.pruning import (encoder_sparsity, head_curve, head_importance, magnitude_prune, prune_heads,
                          pruned_copy, pruning_order, sparsity_curve)


@pytest.fixture(scope="module")
def teacher(one_thread):
    return trained_teacher()


@pytest.mark.parametrize("arch", ["bert", "distilbert", "roberta"])
def test_prune_removes_exactly_the_heads_asked(arch):
    tokenizer, model = tiny_classifier(arch)  # 2 layers x 4 heads of size 8 (hidden 32)
    model.eval()
    inputs = tokenizer(["the cat sat on the mat ."], return_tensors="pt")
    prune_heads(model, {0: [1, 3], 1: [0]})
    assert model.config.pruned_heads == {0: [1, 3], 1: [0]}
    layers = model.base_model.transformer.layer if arch == "distilbert" else model.base_model.encoder.layer
    q0 = layers[0].attention.q_lin if arch == "distilbert" else layers[0].attention.self.query
    out0 = layers[0].attention.out_lin if arch == "distilbert" else layers[0].attention.output.dense
    q1 = layers[1].attention.q_lin if arch == "distilbert" else layers[1].attention.self.query
    assert q0.weight.shape == (16, 32) and out0.weight.shape == (32, 16) and q1.weight.shape == (24, 32)
    logits = model(**inputs).logits
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()
    # Original numbering: head 2 of layer 0 is now at position 1, and 1 and 3 are not removed twice.
    prune_heads(model, {0: [1, 2]})
    assert model.config.pruned_heads[0] == [1, 2, 3]
    assert q0 is not None and (layers[0].attention.q_lin if arch == "distilbert"
                               else layers[0].attention.self.query).weight.shape == (8, 32)
    with pytest.raises(UserError, match="at least one"):
        prune_heads(model, {0: [0]})


def test_pruned_head_is_the_one_removed():
    """Removing head h gives the same output as zeroing head h's value rows (it contributes nothing)."""
    tokenizer, model = tiny_classifier("bert")
    model.eval()
    inputs = tokenizer(["a dog ran in the park ."], return_tensors="pt")
    zeroed = pruned_copy(model, [])
    with torch.no_grad():
        value = zeroed.bert.encoder.layer[1].attention.self.value
        value.weight[16:24] = 0
        value.bias[16:24] = 0
    pruned = pruned_copy(model, [(1, 2)])
    with torch.no_grad():
        assert torch.allclose(pruned(**inputs).logits, zeroed(**inputs).logits, atol=1e-5)
        assert not torch.allclose(pruned(**inputs).logits, model(**inputs).logits, atol=1e-5)
    assert getattr(model.config, "pruned_heads", None) in (None, {})  # the original is untouched


def test_head_importance_is_the_gate_gradient():
    tokenizer, model = tiny_classifier("bert")  # random weights: a loss near ln 2 with sizeable gradients
    model = model.double().eval()
    data = toy_sentiment()
    raw = head_importance(model, tokenizer, data, normalize=False, batch_size=len(data))
    assert raw.shape == (2, 4) and (raw >= 0).all() and raw.sum() > 0
    # Central difference on one gate, in float64: scaling head 0 of layer 1 by s = scaling its value rows.
    eps = 1e-4
    inputs = tokenizer(data.texts, padding=True, return_tensors="pt")
    labels = torch.tensor(data.labels)

    def loss_with(scale):
        work = pruned_copy(model, [])
        with torch.no_grad():
            value = work.bert.encoder.layer[1].attention.self.value
            value.weight[0:8] *= scale
            value.bias[0:8] *= scale
            return torch.nn.functional.cross_entropy(work(**inputs).logits, labels).item()

    numeric = abs(loss_with(1 + eps) - loss_with(1 - eps)) / (2 * eps)
    assert raw[1, 0].item() == pytest.approx(numeric, rel=1e-3)
    normalised = head_importance(model, tokenizer, data)
    assert torch.allclose(normalised.norm(dim=1), torch.ones(2, dtype=normalised.dtype))


def test_pruning_order_keeps_a_head_per_layer():
    importance = torch.tensor([[0.1, 0.9, 0.2, 0.3], [0.05, 0.5, 0.6, 0.7]])
    order = pruning_order(importance)
    assert order[:3] == [(1, 0), (0, 0), (0, 2)]
    assert len(order) == 6 and (0, 1) not in order and (1, 3) not in order
    shuffled = pruning_order(importance, seed=1)
    assert len(shuffled) == 6 and [l for l, _ in shuffled].count(0) == 3


def test_head_curve_numbers(teacher):
    tokenizer, model = teacher
    data = toy_sentiment()
    importance = head_importance(model, tokenizer, data)
    rows = head_curve(model, tokenizer, importance, data, [0, 2, 6], latency_texts=5)
    assert [r["heads_removed"] for r in rows] == [0, 2, 6] and [r["heads_left"] for r in rows] == [8, 6, 2]
    assert rows[0]["accuracy"] == 1.0
    assert rows[0]["parameters"] > rows[1]["parameters"] > rows[2]["parameters"]
    # each removed head takes 3 x (32 x 8 + 8) q/k/v parameters and 32 x 8 output weights
    assert rows[0]["parameters"] - rows[1]["parameters"] == 2 * (3 * (32 * 8 + 8) + 32 * 8)
    with pytest.raises(UserError):
        head_curve(model, tokenizer, importance, data, [7])


def test_magnitude_pruning_hits_the_sparsity(teacher):
    tokenizer, model = teacher
    pruned = magnitude_prune(model, 0.5)
    assert encoder_sparsity(pruned) == pytest.approx(0.5, abs=0.01)
    assert encoder_sparsity(model) < 0.01  # original untouched
    kept = [m.weight for m in pruned.base_model.modules() if isinstance(m, torch.nn.Linear)]
    orig = [m.weight for m in model.base_model.modules() if isinstance(m, torch.nn.Linear)]
    threshold = max(float(o[k == 0].abs().max()) for o, k in zip(orig, kept) if (k == 0).any())
    assert all(float(o[k != 0].abs().min()) >= threshold for o, k in zip(orig, kept))  # the smallest went
    rows = sparsity_curve(model, tokenizer, toy_sentiment(), [0.0, 0.9], latency_texts=5)
    assert rows[0]["accuracy"] == 1.0 and rows[1]["measured_sparsity"] == pytest.approx(0.9, abs=0.01)
    assert rows[1]["nonzero_parameters"] < rows[0]["nonzero_parameters"]
    assert rows[1]["parameters"] == rows[0]["parameters"]  # dense storage: same size
    with pytest.raises(UserError):
        magnitude_prune(model, 1.0)


def test_albert_is_refused():
    _, albert = tiny_classifier("albert")
    with pytest.raises(UserError, match="ALBERT"):
        prune_heads(albert, {0: [0]})


def test_cli_prune_json(teacher, tmp_path, monkeypatch):
    folder, csv = save_for_cli(*teacher, tmp_path, "clf", monkeypatch)
    argv = ["prune", "--model", str(folder), "--eval", str(csv), "--heads", "0,3", "--sparsity", "0.5", "--json"]
    code, out, err = run(argv)
    assert code == 0, err
    result = json.loads(out)
    assert [r["heads_removed"] for r in result["heads"]] == [0, 3]
    assert result["heads"][0]["accuracy"] == 1.0
    assert result["sparsity"][0]["measured_sparsity"] == pytest.approx(0.5, abs=0.01)
    assert len(result["importance"]) == 2 and len(result["importance"][0]) == 4
    code, out, err = run(argv[:-3] + ["--heads", "99", "--quiet"])
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1