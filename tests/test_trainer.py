"""The fine-tuning loop: it learns, stops early, accumulates exactly, cancels, saves, leaves the base alone."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.inputs.datasets import LabelledTexts
from core.errors import UserError
from core.jobs import JobCancelled, JobManager
from core.progress import SilentReporter
from core.training.finetune import finetune, train_classifier
from core.training.config import TrainConfig
from core.models.classifiers import classify, load_base_classifier, load_classifier
from core.training.kit import choose_precision, plan_batches
from in_process import run

ROOT = Path(__file__).resolve().parent.parent
POS = ["i loved this film , it was wonderful .", "the film was wonderful .", "i loved the film .",
       "we loved this wonderful film .", "a wonderful film , i loved it ."]
NEG = ["the food was cold and the service was slow .", "the food was cold .", "the service was slow .",
       "cold food and slow service .", "the rain was cold and the bank was muddy ."]


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_words_choice() -> str:
    """A tiny random BERT whose tokenizer knows the test words.

    tests/tiny_models.py builds its BERT tokenizer with `vocab_file=`, which transformers 5
    ignores (5 tokens, every word [UNK]), so a classifier could not tell the texts apart.
    """
    from tiny_models import SMALL, _wordpiece_vocab
    from transformers import BertConfig, BertForPreTraining, BertTokenizer

    folder = Path(os.environ["BERT_PLAYGROUND_TEST_MODELS"]) / "tiny-bert-words"
    if not (folder / "model.safetensors").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        vocab = list(dict.fromkeys(_wordpiece_vocab()))  # '.' and 'a' are both words and characters there
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
        tokenizer = BertTokenizer(vocab=str(folder / "vocab.txt"), do_lower_case=True)
        torch.manual_seed(0)
        BertForPreTraining(BertConfig(vocab_size=len(tokenizer), **SMALL)).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return f"local:{folder}"


def separable(copies: int = 4) -> LabelledTexts:
    texts = (POS + NEG) * copies
    labels = ([1] * len(POS) + [0] * len(NEG)) * copies
    return LabelledTexts(texts, labels, ["negative", "positive"], "toy")


def evaluation() -> LabelledTexts:
    return LabelledTexts(POS + NEG, [1] * len(POS) + [0] * len(NEG), ["negative", "positive"], "toy eval")


FAST = dict(batch_size=4, lr=3e-3, max_length=16, warmup_ratio=0.0)


class Recorder(SilentReporter):
    def __init__(self):
        self.events = []

    def report(self, progress=None, message=None, **event):
        if event:
            self.events.append(event)

    def of(self, kind):
        return [e for e in self.events if e.get("type") == kind]


def state_checksum(module: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def no_dropout(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model


@pytest.fixture(scope="module")
def choice():
    return tiny_words_choice()


def test_tiny_model_learns_separable_data(choice, tmp_path):
    rec = Recorder()
    result = finetune(choice, separable(), evaluation(), TrainConfig(epochs=6, **FAST), rec, tmp_path / "run")
    losses = [e["loss"] for e in rec.of("step")]
    assert result.best.accuracy == 1.0 and result.best.f1 == 1.0
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5, losses
    assert result.best.confusion == [[5, 0], [0, 5]]
    evals = rec.of("eval")
    assert len(evals) == 6 and evals[-1]["eval_loss"] < evals[0]["eval_loss"]
    assert result.steps == 6 * 10 and result.samples_seen == 6 * 40
    lrs = [e["lr"] for e in rec.of("step")]
    assert lrs[0] == pytest.approx(3e-3, rel=0.05) and lrs[-1] < 1e-4  # linear decay to zero
    summary = result.summary()
    assert set(summary) == {"task", "accuracy", "f1", "train_s", "train_samples_per_s", "out"}
    assert summary["task"] == "sentences"
    assert summary["train_samples_per_s"] == pytest.approx(240 / result.train_s, rel=0.01)


def test_checkpoint_is_listed_loads_back_and_predicts_the_same(choice, tmp_path, monkeypatch):
    import core.models.loading as models

    runs = tmp_path / "runs"
    monkeypatch.setattr(models, "RUNS_DIR", runs)
    result = finetune(choice, separable(), evaluation(), TrainConfig(epochs=6, **FAST), out_dir=runs / "toy")
    assert sorted(p.name for p in runs.iterdir()) == ["toy"]  # no .partial left behind
    assert f"local:{(runs / 'toy').resolve()}" in models.list_local_models()
    saved = json.loads((runs / "toy" / "config.json").read_text())
    assert saved["id2label"] == {"0": "negative", "1": "positive"} and saved["label2id"]["positive"] == 1
    meta = json.loads((runs / "toy" / "training.json").read_text())
    assert meta["metrics"]["accuracy"] == result.best.accuracy and meta["labels"] == ["negative", "positive"]
    loaded = load_classifier(runs / "toy")
    for text in POS[:2] + NEG[:2]:
        label, scores, notice = classify(loaded, text)
        assert label == ("positive" if text in POS else "negative") and notice is None
        assert sum(scores.values()) == pytest.approx(1.0)
    # The attention pages load it with AutoModelForPreTraining: the encoder, honestly without heads.
    as_pretraining = models.load_model(f"local:{runs / 'toy'}")
    assert not as_pretraining.has_mlm


def test_early_stopping_stops_after_patience(choice):
    rec = Recorder()
    # A learning rate this small cannot change a prediction: every evaluation after the first ties.
    result = finetune(choice, separable(), evaluation(),
                      TrainConfig(epochs=6, patience=2, **{**FAST, "lr": 1e-9}), rec)
    assert result.stopped_early and len(rec.of("eval")) == 3 and result.steps == 3 * 10
    assert rec.of("stop")[0]["reason"] == "early_stopping" and result.best_step == 10


def test_eval_every_n_steps(choice):
    rec = Recorder()
    finetune(choice, separable(), evaluation(), TrainConfig(epochs=1, eval_every=4, **FAST), rec)
    assert [e["step"] for e in rec.of("eval")] == [4, 8, 10]


def test_gradient_accumulation_matches_one_big_batch(choice):
    """K micro-batches of B must give the same updates as one batch of K*B (dropout off)."""
    data = separable(3)  # 30 rows: the last update is a short one (30 = 3*8 + 6)
    runs = []
    for batch, accum in ((8, 1), (2, 4)):
        torch.manual_seed(0)
        tokenizer, model = load_base_classifier(choice, data.label_names)
        rec = Recorder()
        result = train_classifier(no_dropout(model), tokenizer, data, evaluation(),
                                  TrainConfig(epochs=2, batch_size=batch, grad_accum=accum, lr=1e-3, max_length=16), rec)
        runs.append(([e["loss"] for e in rec.of("step")], result.model.state_dict()))
    (loss_a, state_a), (loss_b, state_b) = runs
    assert len(loss_a) == len(loss_b) == 8
    assert loss_a == pytest.approx(loss_b, abs=1e-5)
    assert max((state_a[k] - state_b[k]).abs().max().item() for k in state_a) < 1e-4


def test_cancel_stops_within_a_step_and_leaves_things_usable(choice, tmp_path):
    jobs = JobManager(max_running=1, max_per_owner=1)
    out = tmp_path / "cancelled"

    def work(job):
        return finetune(choice, separable(10), evaluation(), TrainConfig(epochs=20, **FAST), job, out)

    job = jobs.submit("finetune", "tester", work)
    while not any(e.get("type") == "step" for e in job.events) and not job.done:
        time.sleep(0.01)
    job.cancel()
    steps_at_cancel = sum(e.get("type") == "step" for e in job.events)
    jobs.wait(job, timeout=60)
    assert job.status == "cancelled", job.error
    assert sum(e.get("type") == "step" for e in job.events) <= steps_at_cancel + 2
    assert not out.exists() and not (tmp_path / ".partial").exists()
    # The cap is released and the next fine-tune runs to the end.
    again = jobs.wait(jobs.submit("finetune", "tester", lambda j: finetune(
        choice, separable(), evaluation(), TrainConfig(epochs=1, **FAST), j)), timeout=120)
    assert again.status == "done" and again.result.steps == 10


def test_a_job_whose_tab_closed_stops_after_the_grace_period(choice, tmp_path):
    jobs = JobManager(max_running=1, max_per_owner=1, abandon_after=0.5)
    tab_open = {"value": True}
    out = tmp_path / "abandoned"

    def work(job):
        return finetune(choice, separable(10), evaluation(), TrainConfig(epochs=50, **FAST), job, out)

    job = jobs.submit("finetune", "tester", work, alive=lambda: tab_open["value"])
    while not any(e.get("type") == "step" for e in job.events) and not job.done:
        time.sleep(0.01)
    time.sleep(0.7)
    assert not job.done  # an open tab keeps it going however long it takes
    tab_open["value"] = False
    closed = time.monotonic()
    jobs.wait(job, timeout=60)
    assert job.status == "cancelled" and "tab" in job.message and "nothing" in job.message
    assert time.monotonic() - closed >= 0.5  # not before the grace period: a reload comes back in time
    assert not out.exists() and not jobs.running()  # nothing half-saved; the slot is free for others


def test_a_reconnecting_tab_keeps_its_job(choice):
    jobs = JobManager(abandon_after=60)
    flips = iter([False] * 3 + [True] * 10_000)  # gone for a moment, then back
    job = jobs.wait(jobs.submit("finetune", "tester", lambda j: finetune(
        choice, separable(), evaluation(), TrainConfig(epochs=1, **FAST), j), alive=lambda: next(flips)), timeout=120)
    assert job.status == "done", job.message


def test_cancel_raises_through_the_reporter(choice):
    class CancelAfter(Recorder):
        calls = 0

        def check_cancelled(self):
            self.calls += 1
            if self.calls > 3:
                raise JobCancelled()

    rec = CancelAfter()
    with pytest.raises(JobCancelled):
        finetune(choice, separable(), evaluation(), TrainConfig(epochs=3, **FAST), rec)
    assert len(rec.of("step")) == 3


def test_cached_base_model_is_unchanged_by_a_fine_tune():
    from core.models.loading import get_model

    shared = get_model("embedded")
    before = state_checksum(shared.model)
    result = finetune("embedded", separable(1), evaluation(), TrainConfig(epochs=1, batch_size=8, max_length=16))
    assert state_checksum(shared.model) == before
    assert not any(p.requires_grad for p in shared.model.parameters())
    tuned = result.model.base_model.embeddings.word_embeddings.weight
    base = shared.encoder.embeddings.word_embeddings.weight
    assert not torch.equal(tuned.cpu(), base.cpu())  # the copy did train


@pytest.mark.parametrize("device,bf16,requested,expected", [
    ("cuda", True, "auto", "bf16"), ("cuda", False, "auto", "fp16"), ("cpu", False, "auto", "no"),
    ("mps", False, "auto", "no"), ("cpu", False, "bf16", "bf16"), ("cuda", True, "no", "no"),
])
def test_precision_choice_per_device(device, bf16, requested, expected):
    assert choose_precision(device, bf16, requested) == expected


def test_precision_refuses_what_the_device_cannot_do():
    with pytest.raises(UserError, match="CUDA"):
        choose_precision("cpu", False, "fp16")
    with pytest.raises(UserError, match="bf16"):
        choose_precision("cuda", False, "bf16")


def test_bucketed_batches_cover_everything_once_and_pad_less():
    import numpy as np

    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 64, size=1000)
    batches = plan_batches(lengths, 16, seed=3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    padded = sum(len(b) * lengths[b].max() for b in batches)
    naive = sum(len(b) * lengths[b].max() for b in np.array_split(rng.permutation(1000), 63))
    assert padded < 0.6 * naive
    assert plan_batches(lengths, 16, seed=3)[0].tolist() == batches[0].tolist()  # seeded
    ranks = [plan_batches(lengths, 16, seed=3, world=2, rank=r) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == len(batches) // 2
    assert not set(np.concatenate(ranks[0])) & set(np.concatenate(ranks[1]))


def test_bad_hyper_parameters_are_user_errors(choice):
    for bad in (dict(epochs=0), dict(lr=0), dict(batch_size=0), dict(max_length=4), dict(precision="fp8")):
        with pytest.raises(UserError):
            finetune(choice, separable(), evaluation(), TrainConfig(**bad))


# --- command line ------------------------------------------------------------------------------


def write_csv(path: Path, data: LabelledTexts) -> Path:
    import pandas as pd

    pd.DataFrame({"text": data.texts, "label": [data.label_names[i] for i in data.labels]}).to_csv(path, index=False)
    return path


def cli(*args, launcher):
    """A real launcher (accelerate, torchrun) starting `python -m core` processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *launcher, *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


def test_cli_finetune_then_classify(choice, tmp_path):
    train, ev = write_csv(tmp_path / "train.csv", separable()), write_csv(tmp_path / "eval.csv", evaluation())
    out = tmp_path / "model"
    code, stdout, err = run(["finetune", "--train", str(train), "--eval", str(ev), "--model", choice, "--epochs", "6",
                             "--batch-size", "4", "--lr", "3e-3", "--max-length", "16", "--out", str(out), "--json"])
    assert code == 0, err
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["accuracy"] == 1.0 and result["f1"] == 1.0 and result["out"] == str(out)
    assert result["train_s"] > 0 and result["train_samples_per_s"] > 0
    code, stdout, err = run(["classify", POS[0], "--model", str(out), "--json"])
    assert code == 0, err
    answer = json.loads(stdout)
    assert answer["label"] == "positive" and set(answer["scores"]) == {"negative", "positive"}


def test_cli_builtin_dataset(choice, tmp_path):
    code, _, err = run(["finetune", "--train", "builtin", "--eval", "builtin", "--model", choice, "--epochs", "1",
                        "--batch-size", "32", "--max-length", "16", "--out", str(tmp_path / "b"), "--json", "--quiet"])
    assert code == 0, err
    meta = json.loads((tmp_path / "b" / "training.json").read_text())
    assert meta["labels"] == ["negative", "positive"] and meta["steps"] == 35  # ceil(1090 / 32)
    assert meta["confusion"][0][0] + meta["confusion"][0][1] == 70  # the 140-row validation split


def test_cli_bad_csv_is_one_line_and_exit_2(tmp_path):
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\nhello there,a\ngood day,a\n")
    code, out, err = run(["finetune", "--train", str(one_class), "--json"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "at least two classes" in err
    code, _, err = run(["finetune", "--train", str(one_class), "--label-column", "nope"])
    assert code == 2 and "no column 'nope'" in err


def test_classify_refuses_a_model_without_a_trained_classifier(choice):
    with pytest.raises(UserError, match="not a fine-tuned classifier"):
        load_classifier(choice.removeprefix("local:"))


def test_accelerate_launch_cpu_writes_one_checkpoint(choice, tmp_path):
    """The documented command; accelerate 1.15 runs ONE process for `--cpu` on one machine."""
    train, ev = write_csv(tmp_path / "train.csv", separable()), write_csv(tmp_path / "eval.csv", evaluation())
    out = tmp_path / "ddp"
    launcher = ("-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "core")
    done = cli("finetune", "--train", str(train), "--eval", str(ev), "--model", choice, "--epochs", "2",
               "--batch-size", "4", "--max-length", "16", "--out", str(out), "--json", launcher=launcher)
    assert done.returncode == 0, done.stderr[-2000:]
    json_lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(json_lines) == 1 and json.loads(json_lines[0])["out"] == str(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "eval.csv", "train.csv"]


def test_two_process_data_parallel_run_splits_the_work(choice, tmp_path):
    """Two real ranks (gloo on CPU): half the steps each, one JSON line, one checkpoint."""
    train, ev = write_csv(tmp_path / "train.csv", separable()), write_csv(tmp_path / "eval.csv", evaluation())
    out = tmp_path / "ddp"
    launcher = ("-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "core")
    done = cli("finetune", "--train", str(train), "--eval", str(ev), "--model", choice, "--epochs", "2",
               "--batch-size", "4", "--max-length", "16", "--out", str(out), "--json", launcher=launcher)
    assert done.returncode == 0, done.stderr[-2000:]
    json_lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(json_lines) == 1
    meta = json.loads((out / "training.json").read_text())
    assert meta["steps"] == 2 * (40 // 4 // 2)  # each rank takes half of the 10 batches per epoch
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "eval.csv", "train.csv"]
