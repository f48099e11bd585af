"""One trainer for BERT's other tasks: tags, spans and pairs learn, accumulate exactly, and run from the CLI."""
from __future__ import annotations

import json
import random

import pytest
import torch

from core.inputs.entities import parse_tagged
from core.inputs.pairs import read_pairs_csv
from core.inputs.questions import parse_questions
from core.models.classifiers import load_base_classifier
from core.tasks.heads import task_of
from core.training.config import TrainConfig
from core.training.finetune import finetune, train_classifier
from tests.test_trainer import cli, no_dropout

WORDS = "the cat dog sat on mat a big red house".split()
NAMES = ["anna", "bob", "carl", "dora"]


def tagged(n: int, seed: int = 0):
    """Sentences where the names are people: learnable by a tiny model in seconds."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        tokens = [rng.choice(NAMES) if rng.random() < 0.3 else rng.choice(WORDS) for _ in range(6)]
        rows.append({"tokens": tokens, "tags": ["B-PER" if t in NAMES else "O" for t in tokens]})
    return parse_tagged("\n".join(json.dumps(r) for r in rows))


def questions(n: int, seed: int = 0):
    """"Who is it?" on contexts with one name among other words: the name is the answer."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(8)]
        k, name = rng.randrange(8), rng.choice(NAMES)
        words.insert(k, name)
        context = " ".join(words)
        lines.append(json.dumps({"context": context, "question": "who is it?",
                                 "answers": {"text": [name], "answer_start": [len(" ".join(words[:k])) + (k > 0)]}}))
    return parse_questions("\n".join(lines))


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


@pytest.mark.parametrize("data", [lambda: tagged(8), lambda: questions(8)], ids=["tokens", "qa"])
def test_accumulation_equals_one_big_batch(tiny_bert, data):
    data = data()
    weights = []
    for batch, accum in ((8, 1), (3, 3)):
        torch.manual_seed(0)
        task = task_of(data)
        tokenizer, model = load_base_classifier(tiny_bert, task.labels(data), task)
        result = train_classifier(no_dropout(model), tokenizer, data, data,
                                  TrainConfig(epochs=1, batch_size=batch, grad_accum=accum, lr=1e-2, warmup_ratio=0))
        # The span head's bias, and the last LayerNorm's bias under it, shift every position's logit
        # alike, so the softmax gives them no gradient: Adam turns the float noise there into a full
        # step of either sign. Everything else must agree.
        shift_only = ("qa_outputs.bias", "layer.1.output.LayerNorm.bias")
        weights.append(torch.cat([p.detach().flatten() for name, p in result.model.named_parameters()
                                  if not name.endswith(shift_only)]))
    assert torch.allclose(weights[0], weights[1], atol=1e-5)


def test_pairs_train_with_segment_ids(tiny_bert):
    rows = [f"the {w} sat,the {w} sat,same" for w in WORDS] + \
           [f"the {w} sat,the {v} ran,different" for w, v in zip(WORDS, WORDS[1:] + WORDS[:1])]
    data = read_pairs_csv(("\n".join(["text_a,text_b,label"] + rows * 4)).encode())
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
    done = cli("finetune", "--task", "tokens", "--train", str(tmp_path / "train.conll"), "--model", tiny_bert,
               "--epochs", "1", "--out", str(out), "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["task"] == "tokens" and {"precision", "recall", "f1", "accuracy"} <= set(summary)
    record = json.loads((out / "training.json").read_text())
    assert record["task"] == "tokens" and "PER" in record["details"]["per_type"]
    assert json.loads((out / "config.json").read_text())["architectures"][0].endswith("ForTokenClassification")
    (tmp_path / "bad.conll").write_text("Anna B-PER\nBerg\n")
    bad = cli("finetune", "--task", "tokens", "--train", str(tmp_path / "bad.conll"), "--model", tiny_bert)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "line 2" in bad.stderr
