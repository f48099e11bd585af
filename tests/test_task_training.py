"""One trainer for BERT's other tasks: tags, spans and pairs learn, accumulate exactly, and run from the CLI."""
from __future__ import annotations

import json

import pytest
import torch

from core.models.classifiers import load_base_classifier
from core.tasks.heads import task_of
from core.training.config import TrainConfig
from core.training.finetune import finetune
from in_process import run
from tests.test_trainer import no_dropout
from tests.tiny_models import questions, same_or_different, tagged

@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def test_a_tagger_learns_entities_on_every_architecture(tiny_any):
    train, val = tagged(200).holdout(0.2, 0)
    result = finetune(tiny_any, train, val, TrainConfig(epochs=6, lr=3e-3, batch_size=16))
    assert result.task == "tokens" and result.label_names == ["O", "B-PER", "I-PER"]
    assert result.best.f1 > 0.5, result.best.details  # all-O scores 0
    assert result.best.details["per_type"]["PER"]["support"] == sum(t.count(1) for t in val.tags)
    assert len(result.best.predictions) == len(val) and all(len(p) == len(w) for p, w in zip(result.best.predictions, val.tokens))


def test_a_reader_learns_spans(tiny_bert):
    train, val = questions(200).holdout(0.2, 0, None)
    result = finetune(tiny_bert, train, val, TrainConfig(epochs=3, lr=3e-3, batch_size=16))
    assert result.task == "qa" and result.label_names == []
    assert result.best.accuracy > 0.3 and result.best.f1 >= result.best.accuracy  # random spans: ~0
    assert result.best.details["exact_match"] == result.best.accuracy


class KeepGradient:
    """An optimizer that only keeps the gradient it was asked to step with."""

    def __init__(self, model):
        self.model, self.gradient = model, None

    def step(self):
        self.gradient = torch.cat([p.grad.flatten() for p in self.model.parameters() if p.grad is not None])

    def zero_grad(self, set_to_none=True):
        self.model.zero_grad(set_to_none=set_to_none)


@pytest.mark.parametrize("data", [lambda: tagged(8), lambda: questions(8)], ids=["tokens", "qa"])
def test_accumulation_gives_the_gradient_of_one_big_batch(tiny_bert, data):
    """K micro-batches (the last one short) give one batch's gradient: each loss is a sum over the
    update's labelled tokens (or windows) divided by the update's total, never a per-batch mean."""
    from core.progress import SilentReporter
    from core.training.finetune import _update
    from core.training.kit import make_accelerator

    data, results = data(), []
    task = task_of(data)
    for batch, accum in ((8, 1), (3, 3)):
        torch.manual_seed(0)
        tokenizer, model = load_base_classifier(tiny_bert, task.labels(data), task)
        optimizer = KeepGradient(no_dropout(model))
        features = task.encode(tokenizer, data, 32)
        loss = _update(model, optimizer, type("Schedule", (), {"step": lambda self: None})(), make_accelerator(),
                       features, list(range(8)), TrainConfig(batch_size=batch, grad_accum=accum), tokenizer.pad_token_id,
                       SilentReporter(), task)
        results.append((loss, optimizer.gradient))
    (loss_one, one), (loss_many, many) = results
    assert abs(loss_one - loss_many) < 1e-5 and one.abs().max() > 0
    assert torch.allclose(one, many, rtol=1e-4, atol=1e-7)


def test_pairs_train_with_segment_ids(tiny_bert):
    data = same_or_different()
    task = task_of(data)
    features = task.encode(load_base_classifier(tiny_bert, data.label_names, task)[0], data, 32)
    assert task.name == "pairs" and set(features[0]["token_type_ids"]) == {0, 1}
    result = finetune(tiny_bert, data, data, TrainConfig(epochs=4, lr=3e-3, batch_size=8))
    assert result.task == "pairs" and result.best.accuracy > 0.6


def test_cli_finetunes_a_tagger_from_conll_and_refuses_a_bad_line(tiny_bert, tmp_path):
    data = tagged(60)
    conll = "\n\n".join("\n".join(f"{w} {data.tag_names[t]}" for w, t in zip(ws, ts)) for ws, ts in zip(data.tokens, data.tags))
    (tmp_path / "train.conll").write_text(conll + "\n")
    out = tmp_path / "tagger"
    code, stdout, err = run(["finetune", "--task", "tokens", "--train", str(tmp_path / "train.conll"), "--model",
                             tiny_bert, "--epochs", "1", "--out", str(out), "--json", "--quiet"])
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["task"] == "tokens" and {"precision", "recall", "f1", "accuracy"} <= set(summary)
    record = json.loads((out / "training.json").read_text())
    assert record["task"] == "tokens" and "PER" in record["details"]["per_type"]
    assert json.loads((out / "config.json").read_text())["architectures"][0].endswith("ForTokenClassification")
    (tmp_path / "bad.conll").write_text("Anna B-PER\nBerg\n")
    code, _, err = run(["finetune", "--task", "tokens", "--train", str(tmp_path / "bad.conll"), "--model", tiny_bert])
    assert code == 2 and err.strip().count("\n") == 0 and "line 2" in err
