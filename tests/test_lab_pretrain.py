"""A tiny BERT pretrained from scratch learns (MLM loss falls) and is saved as a usable model folder."""
from __future__ import annotations

import os

import pytest

from core.errors import UserError
from core.training.scratch import ScratchSpec, check_samples, pretrain, save_upload


class Recorder:
    def __init__(self):
        self.events = []

    def report(self, progress=None, message=None, **event):
        if event:
            self.events.append(event)

    def check_cancelled(self):
        pass


def test_pretraining_from_scratch_lowers_mlm_loss_and_saves(tmp_path, monkeypatch, one_thread):
    dirs = os.pathsep.join([os.environ["BERT_PLAYGROUND_MODEL_DIRS"], str(tmp_path)])
    monkeypatch.setenv("BERT_PLAYGROUND_MODEL_DIRS", dirs)
    rec = Recorder()
    spec = ScratchSpec(layers=1, hidden=32, heads=2, steps=80, batch_size=8, max_length=32, lr=3e-3,
                       max_documents=200, sample_every=40, eval_every=40)
    summary = pretrain(spec, rec, ["A dog is a [MASK] of the genus Canis."], tmp_path / "tiny-scratch")
    steps = [e for e in rec.events if e["type"] == "step"]
    assert len(steps) == 80
    first = sum(e["mlm_loss"] for e in steps[:10]) / 10
    last = sum(e["mlm_loss"] for e in steps[-10:]) / 10
    assert first > 9.5  # ~ln(30,522) = 10.3: random weights guess uniformly
    assert last < first - 1.0
    samples = [e for e in rec.events if e["type"] == "samples"]
    assert [s["step"] for s in samples] == [0, 40, 80] and len(samples[0]["rows"][0]["guesses"][0]) == 3
    assert [e["step"] for e in rec.events if e["type"] == "eval"] == [40, 80]
    from core.models.loading import load_model

    loaded = load_model(f"local:{summary['out']}")
    assert loaded.has_mlm and loaded.has_nsp and loaded.config.num_hidden_layers == 1
    assert (tmp_path / "tiny-scratch" / "lab.json").is_file()
    assert not (tmp_path / ".partial").exists()  # the partial folder is gone after the rename


def test_cancel_leaves_nothing(tmp_path):
    class Cancelling(Recorder):
        def check_cancelled(self):
            if any(e["type"] == "step" for e in self.events):
                raise RuntimeError("cancelled")

    spec = ScratchSpec(layers=1, hidden=32, heads=2, steps=50, batch_size=4, max_length=32, max_documents=60)
    with pytest.raises(RuntimeError):
        pretrain(spec, Cancelling(), None, tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_bad_inputs_are_friendly(tmp_path):
    with pytest.raises(UserError, match="divide"):
        ScratchSpec(hidden=64, heads=3).validate()
    with pytest.raises(UserError, match=r"\[MASK\]"):
        check_samples(["no mask here"])
    with pytest.raises(UserError, match="MB"):
        save_upload(b"x" * (6 * 2**20))
    with pytest.raises(UserError, match="UTF-8"):
        save_upload(b"\xff\xfe\xfa")
    corpus = save_upload(b"One sentence. Another one.\n\nOnly one paragraph here.", tmp_path)
    assert os.path.isfile(corpus.removeprefix("text:"))
    with pytest.raises(UserError, match="4 paragraphs"):
        pretrain(ScratchSpec(corpus=corpus, steps=1), Recorder())
    assert not os.path.exists(corpus.removeprefix("text:"))  # the upload's copy is deleted once read
