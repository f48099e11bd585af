"""Knowledge distillation (Hinton et al. 2015): a small student learns a fine-tuned teacher's soft targets.

The student starts as k of the teacher's encoder layers, spread over its depth (as DistilBERT took
every other layer) or simply the first k, keeping its embeddings, pooler and classifier, so it starts
close to the teacher and only has to learn to do the same job with less depth. The loss mixes the
teacher's temperature-softened probabilities, which say *how* wrong each other class is ("dark
knowledge"), with the usual cross-entropy on the gold labels:

    loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, labels)

The T^2 keeps the soft term's gradients on the same scale whatever T is. The fair baseline is the
same student, same loop, trained alone (alpha = 0): any gap is what the teacher taught.

Progress goes to a *reporter* with `report(progress, message, **event)` and `check_cancelled()`
(exactly `core.jobs.Job`; `core.progress.SilentReporter` for scripts).
"""
from __future__ import annotations

import copy
import json
import math
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.inputs.datasets import LabelledTexts
from core.errors import UserError
from core.training.config import DistillConfig
from core.progress import Recorded, SilentReporter, SubProgress
from core.models.arch import max_length_of
from core.training.kit import (BestCheckpoint, EvalResult, TrainResult, adamw, collate, evaluate, linear_schedule,
                               make_accelerator, plan_batches, save_checkpoint, tokenize)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      temperature: float, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, soft, hard): alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE, batch means."""
    t = temperature
    soft = F.kl_div(F.log_softmax(student_logits / t, dim=-1), F.log_softmax(teacher_logits / t, dim=-1),
                    log_target=True, reduction="batchmean")
    hard = F.cross_entropy(student_logits, labels)
    return alpha * t * t * soft + (1 - alpha) * hard, soft, hard


# ---------------------------------------------------------------------------------------------
# Students


def encoder_layers(model) -> tuple[torch.nn.ModuleList, str]:
    """(the encoder's list of blocks, the config field that counts them) for BERT, RoBERTa, DistilBERT."""
    base = model.base_model
    if model.config.model_type == "distilbert":
        return base.transformer.layer, "n_layers"
    if model.config.model_type in ("bert", "roberta"):
        return base.encoder.layer, "num_hidden_layers"
    raise UserError(f"A {model.config.model_type} model can't be cut into a student: ALBERT shares one "
                    "block across all its layers. Use a BERT, RoBERTa or DistilBERT teacher.")


def student_layer_ids(n_teacher: int, k: int, choice: str = "first") -> list[int]:
    """Which teacher blocks the student keeps: the first k, or k spread evenly (always first and last)."""
    if not 1 <= k <= n_teacher:
        raise UserError(f"The student can keep 1 to {n_teacher} of the teacher's {n_teacher} layers, not {k}.")
    if choice == "first" or k == 1:
        return list(range(k))
    return sorted({round(i * (n_teacher - 1) / (k - 1)) for i in range(k)})


def make_student(teacher, k: int, choice: str = "first"):
    """A trainable copy of `teacher` keeping k of its encoder blocks (the teacher is untouched)."""
    student = copy.deepcopy(teacher)
    layers, field_name = encoder_layers(student)
    keep = student_layer_ids(len(layers), k, choice)
    kept = torch.nn.ModuleList([layers[i] for i in keep])
    if student.config.model_type == "distilbert":
        student.base_model.transformer.layer = kept
    else:
        student.base_model.encoder.layer = kept
    for new_index, block in enumerate(kept):  # caches and eager attention look up their own index
        for module in block.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = new_index
    setattr(student.config, field_name, k)
    for p in student.parameters():
        p.requires_grad_(True)
    return student.train()


# ---------------------------------------------------------------------------------------------
# Measuring


@torch.inference_mode()
def logits_of(model, ids: list[list[int]], pad_id: int, batch_size: int = 64) -> torch.Tensor:
    """(N, classes) float logits in the input order, batches sorted by length to avoid padding."""
    model.eval()
    device = next(model.parameters()).device
    order = np.argsort([len(x) for x in ids], kind="stable")
    out = torch.empty(len(ids), model.config.num_labels)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        out[torch.as_tensor(idx)] = model(**collate([ids[i] for i in idx], pad_id, device)).logits.float().cpu()
    return out


def score(model, tokenizer, data: LabelledTexts, max_length: int = 64) -> EvalResult:
    """Accuracy, macro-F1, confusion and probabilities of a classifier on `data` (core.training.kit.evaluate)."""
    max_length = min(max_length, max_length_of(model.config))
    ids = tokenize(tokenizer, data.texts, max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return evaluate(model, ids, data.labels, len(data.label_names), pad, make_accelerator("no"))


def size_of(model) -> dict:
    """Parameters (all and non-zero) and megabytes as stored densely in float32."""
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    nonzero = sum(int(torch.count_nonzero(p)) for p in params)
    return {"parameters": total, "nonzero_parameters": nonzero,
            "size_mb": round(sum(p.numel() * p.element_size() for p in params) / 2**20, 2)}


@torch.inference_mode()
def latencies_ms(models: dict, tokenizer, texts: list[str], max_length: int = 64, rounds: int = 3) -> dict[str, float]:
    """Median milliseconds to classify one text (batch 1) per model, measured interleaved.

    Models take turns text by text, so a busy shared CPU slows every model alike and the ratios
    stay honest even when the absolute numbers drift.
    """
    encoded = [tokenizer(t, truncation=True, max_length=max_length, return_tensors="pt") for t in texts]
    times: dict[str, list[float]] = {name: [] for name in models}
    devices = {name: next(model.parameters()).device for name, model in models.items()}
    for name, model in models.items():
        model.eval()
        model(**encoded[0].to(devices[name]))  # warm-up
    for _ in range(rounds):
        for inputs in encoded:
            for name, model in models.items():
                on_device = inputs.to(devices[name])
                _sync(devices[name])
                start = time.perf_counter()
                model(**on_device)
                _sync(devices[name])
                times[name].append(time.perf_counter() - start)
    return {name: round(1000 * statistics.median(t), 3) for name, t in times.items()}


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timing covers the computation and not just its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compare(models: dict, tokenizer, test: LabelledTexts, max_length: int = 64, latency_texts: int = 40,
            rounds: int = 3) -> list[dict]:
    """One row per model: accuracy, F1, size and single-text latency (same tokenizer for all)."""
    rows = []
    for name, model in models.items():
        result = score(model, tokenizer, test, max_length)
        layers, _ = encoder_layers(model)
        rows.append({"model": name, "layers": len(layers), "accuracy": round(result.accuracy, 4),
                     "f1": round(result.f1, 4), **size_of(model)})
    latency = latencies_ms(models, tokenizer, test.texts[:latency_texts], max_length, rounds)
    for row in rows:
        row["latency_ms"] = latency[row["model"]]
    return rows


# ---------------------------------------------------------------------------------------------
# Training


def train_student(student, tokenizer, train: LabelledTexts, evaluation: LabelledTexts, config: DistillConfig,
                  teacher_logits: torch.Tensor | None = None, reporter=None, label: str = "student") -> TrainResult:
    """Train `student` in place on soft + hard targets; keep the epoch with the best validation accuracy.

    `teacher_logits` are the teacher's logits on `train` (computed once: the teacher is frozen and in
    eval mode, so they never change); without them the student learns from the labels alone.
    """
    config.validate()
    if teacher_logits is None and config.alpha > 0:
        raise ValueError("alpha > 0 needs the teacher's logits")
    reporter = Recorded(reporter or SilentReporter())
    torch.manual_seed(config.seed)
    max_length = min(config.max_length, max_length_of(student.config))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = tokenize(tokenizer, train.texts, max_length)
    labels = torch.as_tensor(train.labels)
    if teacher_logits is None:
        teacher_logits = torch.zeros(len(ids), len(train.label_names))
    device = next(student.parameters()).device
    steps_per_epoch = math.ceil(len(ids) / config.batch_size)
    total = steps_per_epoch * config.epochs
    optimizer = adamw(student, config.lr)
    scheduler = linear_schedule(optimizer, max(1, total // 10), total)
    best, step, started = BestCheckpoint("accuracy"), 0, time.perf_counter()
    for epoch in range(config.epochs):
        student.train()
        for batch in plan_batches([len(x) for x in ids], config.batch_size, config.seed + epoch):
            reporter.check_cancelled()
            idx = torch.as_tensor(batch)
            logits = student(**collate([ids[i] for i in batch], pad, device)).logits.float()
            loss, soft, hard = distillation_loss(logits, teacher_logits[idx].to(device), labels[idx].to(device),
                                                 config.temperature, config.alpha)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            reporter.report(step / total, f"{label}: step {step}/{total} · loss {loss.item():.3f}", type="step",
                            model=label, step=step, loss=loss.item(), soft=soft.item(), hard=hard.item())
        result = score(student, tokenizer, evaluation, max_length)
        improved = best.offer(result, student, step)
        reporter.report(step / total, f"{label}: epoch {epoch + 1} validation accuracy {result.accuracy:.1%}",
                        type="eval", model=label, step=step, epoch=epoch + 1, accuracy=result.accuracy, f1=result.f1,
                        best=improved)
    return TrainResult(best.restore(student), tokenizer, list(train.label_names), best.result, best.step, step,
                       len(ids) * config.epochs, time.perf_counter() - started, False, reporter.history)


def distill(teacher, tokenizer, train: LabelledTexts, evaluation: LabelledTexts, test: LabelledTexts,
            config: DistillConfig, reporter=None, baseline: bool = True, out_dir: Path | str | None = None,
            teacher_name: str = "teacher") -> dict:
    """Distil `teacher` into a k-layer student, optionally train the same student alone, compare all on `test`.

    Returns {"rows": [teacher, student, student alone], "history": [...], "config": {...}, "out": path}.
    The student is saved to `out_dir` (a classifier folder other pages can pick) when given.
    """
    config.validate()
    reporter = reporter or SilentReporter()
    if list(teacher.config.id2label.values()) != list(train.label_names):
        raise UserError(f"The teacher predicts {list(teacher.config.id2label.values())} but the data has labels "
                        f"{train.label_names}: pick a teacher fine-tuned on this dataset.")
    n_teacher = len(encoder_layers(teacher)[0])
    if config.student_layers >= n_teacher:
        raise UserError(f"The student must be smaller than the teacher: choose fewer than {n_teacher} layers.")
    max_length = min(config.max_length, max_length_of(teacher.config))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    reporter.report(0.0, "The teacher labels the training set with soft targets…")
    teacher_logits = logits_of(teacher, tokenize(tokenizer, train.texts, max_length), pad)
    reporter.check_cancelled()
    share = 0.45 if baseline else 0.9
    student = make_student(teacher, config.student_layers, config.layer_choice)
    distilled = train_student(student, tokenizer, train, evaluation, config, teacher_logits,
                              SubProgress(reporter, 0.0, share), label="student")
    models = {teacher_name: teacher, "student (distilled)": distilled.model}
    history = list(distilled.history)
    if baseline:
        alone_cfg = DistillConfig(**{**asdict(config), "alpha": 0.0})
        alone = train_student(make_student(teacher, config.student_layers, config.layer_choice), tokenizer, train,
                              evaluation, alone_cfg, None, SubProgress(reporter, share, 0.9), label="student alone")
        models["student alone"] = alone.model
        history += alone.history
    reporter.report(0.9, "Measuring accuracy, size and speed on the test set…")
    rows = compare(models, tokenizer, test, max_length)
    teacher_ms = rows[0]["latency_ms"]
    for row in rows:
        row["speedup"] = round(teacher_ms / row["latency_ms"], 2) if row["latency_ms"] else None
    out = None
    if out_dir is not None:
        reporter.check_cancelled()
        reporter.report(0.98, "Saving the student…")
        record = replace(distilled, history=[{"type": "distill", "teacher": teacher_name, **asdict(config)},
                                             *distilled.history])
        out = str(save_checkpoint(record, out_dir, config, source=teacher_name))
    return {"rows": rows, "history": history, "config": asdict(config), "out": out}


def distill_builtin(teacher_choice: str | None, config: DistillConfig, reporter=None, baseline: bool = True,
                    out_dir: Path | str | None = None, teacher_dir: Path | str | None = None) -> dict:
    """`distill` on the built-in sentiment splits (train, validation picks the best epoch, test compares).

    With `teacher_choice` None the teacher is fine-tuned first, from the embedded MiniLM, and saved
    to `teacher_dir`; the lab page's one-click route on a fresh offline install.
    """
    from core.inputs.datasets import builtin_sentiment
    from core.models.classifiers import load_teacher
    from core.training.finetune import finetune
    from core.training.config import TrainConfig

    reporter = reporter or SilentReporter()
    train = builtin_sentiment("train")
    validation, test = builtin_sentiment("validation", train.label_names), builtin_sentiment("test", train.label_names)
    if teacher_choice is None:
        reporter.report(0.0, "Fine-tuning the teacher (embedded MiniLM)…")
        result = finetune("embedded", train, validation, TrainConfig(epochs=2, batch_size=16),
                          SubProgress(reporter, 0, 0.4), teacher_dir)
        tokenizer, teacher, rest = result.tokenizer, result.model, SubProgress(reporter, 0.4, 1)
        name = f"teacher ({result.out_dir.name})" if result.out_dir else "teacher"
    else:
        reporter.report(0.0, "Loading the teacher…")
        (tokenizer, teacher), rest = load_teacher(teacher_choice), reporter
        name = f"teacher ({teacher_choice.rsplit('/', 1)[-1]})"
    return distill(teacher, tokenizer, train, validation, test, config, rest, baseline, out_dir, name)


def to_json(result: dict) -> str:
    """The CLI's --json output (no per-step history)."""
    return json.dumps({k: v for k, v in result.items() if k != "history"}, indent=2)
