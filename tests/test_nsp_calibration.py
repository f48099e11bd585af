"""NSP calibration: the pairs, the regression-as-classifier identity, the refit, and the adapter it writes."""
from __future__ import annotations

import io
import json
import random
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest
import torch
from safetensors import safe_open
from sklearn.linear_model import LogisticRegression

from core.cli import main
from core.models.embedded import ADAPTER, load_embedded
from core.training.nsp_calibration import as_head, head_accuracy, refit_head, sentence_pairs, source_pairs, write_head
from core.training.pretrain_data import IS_NEXT, NOT_NEXT

DOCS = [[f"doc{d} sentence {i}." for i in range(6)] for d in range(20)]


def test_pairs_are_real_successors_or_another_documents_sentence():
    pairs = sentence_pairs(DOCS, 2000, random.Random(0))
    assert 0.45 < np.mean([label == IS_NEXT for *_, label in pairs]) < 0.55
    for a, b, label in pairs:
        doc_a, i = a.split(" sentence ")
        doc_b, j = b.split(" sentence ")
        if label == IS_NEXT:
            assert doc_a == doc_b and int(j.rstrip(".")) == int(i.rstrip(".")) + 1
        else:
            assert doc_a != doc_b
    mixed = source_pairs([DOCS, [["x one.", "x two."], ["y one.", "y two."]]], 100)
    assert len(mixed) == 100 and sum(a.startswith(("x", "y")) for a, _b, _l in mixed) == 50
    with pytest.raises(ValueError):
        sentence_pairs([["only one document", "of two sentences"]], 5, random.Random(0))


def test_a_logistic_regression_becomes_the_same_two_way_classifier():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8))
    y = (x[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(int)
    probe = LogisticRegression().fit(x, y)
    weight, bias = as_head(probe)
    softmax = torch.softmax(torch.from_numpy(x).float() @ weight.T + bias, -1)[:, NOT_NEXT].numpy()
    np.testing.assert_allclose(softmax, probe.predict_proba(x)[:, 1], atol=1e-5)


def test_refit_chooses_on_held_out_pairs_and_fixes_a_head_that_always_says_is_next():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 16))
    y = (x @ rng.normal(size=16) > 0.5).astype(int)
    always_is_next = torch.zeros(2, 16), torch.tensor([1.0, 0.0])
    found = refit_head((x[:1500], y[:1500]), (x[1500:], y[1500:]), *always_is_next)
    assert found.before == pytest.approx(np.mean(y[1500:] == IS_NEXT))
    assert found.after > 0.9 and found.after == head_accuracy(found.weight, found.bias, x[1500:], y[1500:])
    assert found.n_train == 1500 and found.n_held_out == 500
    # An old head already right on every held-out pair is kept, never replaced by a refit.
    kept = refit_head((x[:1500], y[:1500]), (x[1500:], np.zeros(500, dtype=int)), *always_is_next)
    assert kept.strength is None and kept.after == kept.before == 1.0 and torch.equal(kept.bias, always_is_next[1])


def test_written_adapter_changes_only_the_nsp_classifier(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 384))
    y = (x[:, 0] > 0).astype(int)
    found = refit_head((x[:200], y[:200]), (x[200:], y[200:]), torch.zeros(2, 384), torch.zeros(2))
    out = tmp_path / "adapter.safetensors"
    write_head(ADAPTER, out, found, "test")
    with safe_open(str(ADAPTER), "pt") as old, safe_open(str(out), "pt") as new:
        assert set(old.keys()) == set(new.keys())
        for key in old.keys():
            if not key.startswith("cls.seq_relationship"):
                assert torch.equal(old.get_tensor(key), new.get_tensor(key)), key
        assert "test; logistic regression" in new.metadata()["nsp_calibration"]
        assert new.metadata()["step"] == old.metadata()["step"]
    _tok, model, missing = load_embedded(out)
    assert not missing
    torch.testing.assert_close(model.cls.seq_relationship.weight, found.weight, atol=2e-3, rtol=1e-3)


def test_cli_calibrates_on_wordnet_and_writes_the_adapter(tmp_path):
    out_file = tmp_path / "calibrated.safetensors"
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["calibrate-nsp", "--source", "wordnet", "--pairs", "200", "--held-out-pairs", "100",
                     "--out", str(out_file), "--json", "--quiet"])
    assert code == 0, err.getvalue()
    result = json.loads(out.getvalue())
    assert result["pairs"] == 200 and result["held_out_pairs"] == 100 and out_file.is_file()
    assert 0.5 < result["held_out_before"] <= result["held_out_after"] <= 1
