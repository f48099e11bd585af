"""Ensembles: mean and vote combine members as defined, and the report's numbers are right."""
from __future__ import annotations

import os

import numpy as np
import pytest

from core.training.ensemble import combine, report
from core.errors import UserError

# three members, four texts, two classes; gold labels 0, 1, 1, 0
A = np.array([[0.9, 0.1], [0.4, 0.6], [0.6, 0.4], [0.45, 0.55]])  # right, right, wrong, wrong
B = np.array([[0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.52, 0.48]])  # right, right, right, right
C = np.array([[0.4, 0.6], [0.55, 0.45], [0.3, 0.7], [0.9, 0.1]])  # wrong, wrong, right, right
Y = [0, 1, 1, 0]


def test_mean_and_vote():
    assert combine([A, B, C], "mean").tolist() == [0, 1, 1, 0]  # means .7/.3, .42/.58, .37/.63, .62/.38
    assert combine([A, B, C], "vote").tolist() == [0, 1, 1, 0]
    # a 1-1 tie goes to the class with the higher mean probability
    assert combine([np.array([[0.51, 0.49]]), np.array([[0.1, 0.9]])], "vote").tolist() == [1]
    # vote and mean can disagree: two lukewarm votes beat one confident one
    x = [np.array([[0.45, 0.55]]), np.array([[0.45, 0.55]]), np.array([[0.99, 0.01]])]
    assert combine(x, "vote").tolist() == [1] and combine(x, "mean").tolist() == [0]
    with pytest.raises(UserError):
        combine([A, B], "median")


def test_report_numbers():
    r = report({"a": A, "b": B, "c": C}, Y)
    assert [m["accuracy"] for m in r["members"]] == [0.5, 1.0, 0.5]
    assert r["best_member"] == "b"
    assert r["mean"] == {"accuracy": 1.0, "fixed": 0, "broken": 0}
    assert r["oracle"] == 1.0
    assert r["all_agree"] == 0.0  # every text has at least one dissenter
    assert r["agreement"][0][1] == 0.5 and r["agreement"][0][0] == 1.0
    assert r["error_overlap"][0][2] == 0.0  # a and c never fail together
    assert r["error_overlap"][1][1] is None  # b makes no mistakes
    r2 = report({"a": A, "c": C}, Y)
    assert r2["best_member"] == "a" and r2["oracle"] == 1.0
    # two 50% members that fail on different texts: means .65/.35, .475/.525, .45/.55, .675/.325 -> all right
    assert r2["mean"] == {"accuracy": 1.0, "fixed": 2, "broken": 0}
    with pytest.raises(UserError):
        report({"a": A}, Y)


def test_members_train_differently_and_combine(tmp_path, monkeypatch, one_thread):
    import torch
    from conftest import tiny_choice
    from safetensors.torch import load_file
    from test_distill import toy_sentiment

    from core.training.ensemble import evaluate_members, train_members

    dirs = os.pathsep.join([os.environ["BERT_PLAYGROUND_MODEL_DIRS"], str(tmp_path)])
    monkeypatch.setenv("BERT_PLAYGROUND_MODEL_DIRS", dirs)
    data = toy_sentiment()
    folders = train_members(data, data, n=2, layers=1, epochs=1, out_root=tmp_path, base=tiny_choice("bert"))
    assert [f.rsplit("/", 1)[-1] for f in folders] == ["member-0", "member-1"]
    heads = [load_file(str(tmp_path / f"member-{i}" / "model.safetensors"))["classifier.weight"] for i in (0, 1)]
    assert not torch.equal(heads[0], heads[1])  # different seeds, different members
    probs = evaluate_members(folders, data)
    assert set(probs) == {"member-0", "member-1"} and probs["member-0"].shape == (len(data), 2)
    assert report(probs, data.labels)["members"][0]["model"] == "member-0"



def test_a_members_record_counts_optimizer_steps_not_evaluations(tmp_path, monkeypatch, one_thread):
    """training.json's `steps` is what the loop did: ceil(rows / batch) per epoch (the saved record
    once counted every history event, evaluations too)."""
    import json
    import math

    from conftest import tiny_choice
    from test_distill import toy_sentiment

    from core.training.config import DistillConfig
    from core.training.ensemble import train_members

    dirs = os.pathsep.join([os.environ["BERT_PLAYGROUND_MODEL_DIRS"], str(tmp_path)])
    monkeypatch.setenv("BERT_PLAYGROUND_MODEL_DIRS", dirs)
    data = toy_sentiment()
    train_members(data, data, n=1, layers=1, epochs=2, out_root=tmp_path, base=tiny_choice("bert"))
    meta = json.loads((tmp_path / "member-0" / "training.json").read_text())
    per_epoch = math.ceil(len(data) / DistillConfig().batch_size)
    assert meta["steps"] == 2 * per_epoch
    assert sum(e["type"] == "eval" for e in meta["history"]) == 2
    assert meta["best_step"] in (per_epoch, 2 * per_epoch)  # a step number, not an epoch number
