"""Distillation: the loss is the one in Hinton et al., students are cut from teachers, and they learn."""
from __future__ import annotations

import json
import math
import os

import pytest
import torch
from conftest import tiny_choice

from core.inputs.datasets import LabelledTexts
from core.training.distill import (distill, distillation_loss, latencies_ms, logits_of, make_student,
                                   student_layer_ids, train_student)
from core.training.config import DistillConfig
from core.models.classifiers import load_teacher
from core.errors import UserError
from core.training.kit import tokenize
from in_process import run

POSITIVE = ["loved", "wonderful", "quick"]
NEGATIVE = ["cold", "slow", "lazy", "muddy"]
FRAMES = ["the {} cat sat on the mat .", "a {} dog ran in the park .", "the food was {} .",
          "students learn how {} attention works .", "we are playing with {} models ."]


pytestmark = pytest.mark.usefixtures("one_thread")


def toy_sentiment(repeat: int = 1) -> LabelledTexts:
    """Texts whose label is decided by one word: learnable in a few steps by a tiny model."""
    texts, labels = [], []
    for frame in FRAMES:
        for word in POSITIVE + NEGATIVE:
            texts.append(frame.format(word))
            labels.append(0 if word in NEGATIVE else 1)
    return LabelledTexts(texts * repeat, labels * repeat, ["negative", "positive"], "toy")


def tiny_classifier(arch: str = "bert", seed: int = 0):
    """(tokenizer, a tiny random XForSequenceClassification) shaped like the shared tiny model of `arch`."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    folder = tiny_choice(arch).removeprefix("local:")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    vocab_size = max(tokenizer.get_vocab().values()) + 1  # the tiny vocab.txt repeats a few pieces ('a', '.')
    config = AutoConfig.from_pretrained(folder, vocab_size=vocab_size, id2label={0: "negative", 1: "positive"},
                                        label2id={"negative": 0, "positive": 1})
    torch.manual_seed(seed)
    return tokenizer, AutoModelForSequenceClassification.from_config(config)


def trained_teacher(arch: str = "bert"):
    tokenizer, model = tiny_classifier(arch)
    data = toy_sentiment()
    cfg = DistillConfig(student_layers=2, alpha=0.0, epochs=10, batch_size=4, lr=5e-3)
    return tokenizer, train_student(model, tokenizer, data, data, cfg).model


@pytest.fixture(scope="module")
def teacher(one_thread):
    return trained_teacher()


def test_loss_matches_a_hand_computed_example():
    # teacher logits (2, 0), student logits (1, 0), gold label 0, T = 2, alpha = 0.5
    p_t = [math.exp(1) / (math.exp(1) + 1), 1 / (math.exp(1) + 1)]  # softmax((2, 0) / 2) = (0.7311, 0.2689)
    p_s = [math.exp(0.5) / (math.exp(0.5) + 1), 1 / (math.exp(0.5) + 1)]  # softmax((1, 0) / 2) = (0.6225, 0.3775)
    kl = sum(t * math.log(t / s) for t, s in zip(p_t, p_s))  # 0.026345
    ce = -math.log(math.exp(1) / (math.exp(1) + 1))  # CE of the student at T = 1: 0.31326
    expected = 0.5 * 4 * kl + 0.5 * ce  # 0.20932
    total, soft, hard = distillation_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]),
                                          torch.tensor([0]), temperature=2.0, alpha=0.5)
    assert kl == pytest.approx(0.026345, abs=1e-6)
    assert soft.item() == pytest.approx(kl, rel=1e-5)
    assert hard.item() == pytest.approx(ce, rel=1e-5)
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert expected == pytest.approx(0.20932, abs=1e-5)


def test_loss_extremes():
    s, t, y = torch.randn(5, 3), torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1])
    total, _, hard = distillation_loss(s, t, y, temperature=3.0, alpha=0.0)
    assert total.item() == pytest.approx(torch.nn.functional.cross_entropy(s, y).item(), rel=1e-6)
    total, soft, _ = distillation_loss(t, t, y, temperature=3.0, alpha=1.0)
    assert total.item() == pytest.approx(0.0, abs=1e-6) and soft.item() == pytest.approx(0.0, abs=1e-6)


def test_student_layer_ids():
    assert student_layer_ids(6, 2) == [0, 1]
    assert student_layer_ids(6, 3, "spread") == [0, 2, 5] or student_layer_ids(6, 3, "spread") == [0, 3, 5]
    assert student_layer_ids(12, 6, "spread")[0] == 0 and student_layer_ids(12, 6, "spread")[-1] == 11
    with pytest.raises(UserError):
        student_layer_ids(6, 7)


@pytest.mark.parametrize("arch", ["bert", "distilbert", "roberta"])
def test_student_is_a_cut_copy_of_the_teacher(arch):
    tokenizer, teacher = tiny_classifier(arch)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = make_student(teacher, 1)
    field = "n_layers" if arch == "distilbert" else "num_hidden_layers"
    assert getattr(student.config, field) == 1 and getattr(teacher.config, field) == 2
    s_state, t_state = student.state_dict(), teacher.state_dict()
    layer0 = [k for k in t_state if ".layer.0." in k]
    assert layer0 and all(torch.equal(s_state[k], t_state[k]) for k in layer0)
    assert not any(".layer.1." in k for k in s_state)
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())  # teacher untouched
    student.eval()
    out = student(**tokenizer(["the cat sat ."], return_tensors="pt")).logits
    assert out.shape == (1, 2) and torch.isfinite(out).all()


def test_albert_teacher_is_refused():
    _, albert = tiny_classifier("albert")
    with pytest.raises(UserError, match="ALBERT"):
        make_student(albert, 1)


def test_student_learns_the_teachers_soft_targets(teacher):
    tokenizer, model = teacher
    data = toy_sentiment()
    ids = tokenize(tokenizer, data.texts, 32)
    t_logits = logits_of(model, ids, tokenizer.pad_token_id)
    assert (t_logits.argmax(1) == torch.tensor(data.labels)).float().mean() == 1.0  # a competent teacher

    def kl_to_teacher(student):
        log_s = torch.log_softmax(logits_of(student, ids, tokenizer.pad_token_id) / 2, -1)
        return torch.nn.functional.kl_div(log_s, torch.log_softmax(t_logits / 2, -1), log_target=True,
                                          reduction="batchmean").item()

    student = make_student(model, 1)
    torch.manual_seed(0)  # the reset below must not depend on which tests ran before
    for module in student.base_model.encoder.layer[0].modules():  # forget what the block knew
        if isinstance(module, torch.nn.Linear):
            module.reset_parameters()
    before = kl_to_teacher(student)
    agreement_before = (logits_of(student, ids, tokenizer.pad_token_id).argmax(1) == t_logits.argmax(1)).float().mean()
    cfg = DistillConfig(student_layers=1, alpha=1.0, temperature=2.0, epochs=30, batch_size=4, lr=5e-3)
    trained = train_student(student, tokenizer, data, data, cfg, teacher_logits=t_logits).model
    after = kl_to_teacher(trained)
    agreement = (logits_of(trained, ids, tokenizer.pad_token_id).argmax(1) == t_logits.argmax(1)).float().mean()
    assert after < 0.5 * before
    assert agreement_before < 0.8 and agreement >= 0.9  # learnt from soft targets alone (alpha = 1: no gold label seen)


def test_distill_compares_teacher_student_and_baseline(teacher, tmp_path):
    tokenizer, model = teacher
    data = toy_sentiment()
    cfg = DistillConfig(student_layers=1, epochs=2, batch_size=8, lr=3e-3)
    events = []

    class Recorder:
        def report(self, progress=None, message=None, **event):
            events.append((progress, event))

        def check_cancelled(self):
            pass

    result = distill(model, tokenizer, data, data, data, cfg, Recorder(), out_dir=tmp_path / "student")
    names = [r["model"] for r in result["rows"]]
    assert names == ["teacher", "student (distilled)", "student alone"]
    teacher_row, student_row, _ = result["rows"]
    assert teacher_row["accuracy"] == 1.0 and teacher_row["layers"] == 2 and student_row["layers"] == 1
    assert student_row["parameters"] < teacher_row["parameters"]
    assert all(r["latency_ms"] > 0 for r in result["rows"])
    assert teacher_row["speedup"] == 1.0
    progress = [p for p, _ in events if p is not None]
    assert progress == sorted(progress) and progress[-1] >= 0.9
    assert {e.get("model") for _, e in events if e} >= {"student", "student alone"}
    saved = json.loads((tmp_path / "student" / "config.json").read_text())
    assert saved["num_hidden_layers"] == 1 and (tmp_path / "student" / "model.safetensors").is_file()


def test_distill_refuses_a_teacher_with_other_labels(teacher):
    tokenizer, model = teacher
    data = toy_sentiment()
    other = LabelledTexts(data.texts, data.labels, ["bad", "good"])
    with pytest.raises(UserError, match="labels"):
        distill(model, tokenizer, other, other, other, DistillConfig(student_layers=1))
    with pytest.raises(UserError, match="fewer than 2"):
        distill(model, tokenizer, data, data, data, DistillConfig(student_layers=2))


def test_latency_is_measured_per_model(teacher):
    tokenizer, model = teacher
    ms = latencies_ms({"a": model, "b": make_student(model, 1)}, tokenizer, ["the cat sat ."] * 3, rounds=1)
    assert set(ms) == {"a", "b"} and all(v > 0 for v in ms.values())


def save_for_cli(tokenizer, model, tmp_path, name: str, monkeypatch):
    """A saved classifier folder (in a folder local models may come from) and the toy data as CSV."""
    folder = tmp_path / name
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    data = toy_sentiment()
    csv = tmp_path / "toy.csv"
    csv.write_text("text,label\n" + "\n".join(f"{t},{data.label_names[y]}" for t, y in zip(data.texts, data.labels)))
    monkeypatch.setenv("BERT_PLAYGROUND_MODEL_DIRS", os.pathsep.join([os.environ["BERT_PLAYGROUND_MODEL_DIRS"], str(tmp_path)]))
    return folder, csv


def test_cli_distill_json(teacher, tmp_path, monkeypatch):
    folder, csv = save_for_cli(*teacher, tmp_path, "teacher", monkeypatch)
    argv = ["distill", "--teacher", str(folder), "--student-layers", "1", "--train", str(csv), "--eval", str(csv),
            "--epochs", "1", "--batch-size", "8", "--lr", "3e-3", "--no-baseline", "--json"]
    code, out, err = run(argv)
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert [r["model"] for r in rows] == ["teacher", "student (distilled)"]
    code, out, err = run(argv[:2] + ["/nonexistent"] + argv[3:])
    assert code == 2 and err.count("\n") == 1 and err.startswith("error:")


def test_a_pretraining_checkpoint_is_not_a_teacher():
    with pytest.raises(UserError, match="not a fine-tuned classifier"):
        load_teacher(tiny_choice("bert"))
