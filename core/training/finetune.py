"""Fine-tune a BERT-family model as a sentence classifier, fast on a laptop CPU and correct on GPUs.

Built on Hugging Face Accelerate, so the same loop runs in the app (one process, a worker
thread) and under ``accelerate launch -m core finetune ...`` on several GPUs or machines.
Where the time goes on a CPU is padding, so batches are built from texts of similar length and
padded only to their own longest text; evaluation runs sorted by length, in inference mode.

Progress goes to a *reporter*: anything with ``report(progress, message, **event)`` and
``check_cancelled()``, which is exactly `core.jobs.Job`.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import replace
from pathlib import Path

from core.inputs.datasets import LabelledTexts, builtin_sentiment
from core.errors import UserError
from core.models.arch import max_length_of
from core.progress import Recorded, SilentReporter
from core.models.classifiers import load_base_classifier
from core.tasks.heads import task_of
from core.training.kit import (BestCheckpoint, TrainResult, adamw, collate_features, linear_schedule,
                               make_accelerator, model_inputs, plan_batches, save_checkpoint)
from core.training.config import QUICK_FINETUNE, TrainConfig


# ---------------------------------------------------------------------------------------------
# Training


def _steps_per_epoch(rows: int, update_size: int, world: int) -> int:
    steps = math.ceil(rows / update_size)
    if world > 1:
        steps //= world
        if steps == 0:
            raise UserError(f"{rows} training rows are too few for {world} processes with {update_size} rows per step.")
    return steps


def _update(model, optimizer, scheduler, accelerator, features, batch, config: TrainConfig, pad_id: int,
            reporter, task) -> float:
    """One optimizer update over `batch` (feature indices), in micro-batches; returns the update's loss.

    Each micro-batch's loss is its sum (over examples, or labelled tokens) / that of the whole
    update: K micro-batches of B give exactly the gradient of one batch of K*B, even when the last
    is short.
    """
    model.train()
    micro = [batch[i:i + config.batch_size] for i in range(0, len(batch), config.batch_size)]
    weight = max(1, task.weight([features[i] for i in batch]))
    total = 0.0
    for j, idx in enumerate(micro):
        reporter.check_cancelled()
        tensors = collate_features([features[i] for i in idx], pad_id, accelerator.device)
        sync = accelerator.no_sync(model) if j < len(micro) - 1 else contextlib.nullcontext()
        with sync, accelerator.autocast():
            loss = task.loss(model(**model_inputs(tensors)), tensors) / weight
            accelerator.backward(loss)
        total += loss.item()
    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return total


class _Validation:
    """Scores the validation set, keeps the best weights, and says when patience has run out."""

    def __init__(self, model, task, data, features, pad_id: int, accelerator, config: TrainConfig, reporter):
        self.model, self.task, self.data, self.features, self.pad_id = model, task, data, features, pad_id
        self.accelerator, self.config, self.reporter = accelerator, config, reporter
        self.best = BestCheckpoint(task.metric if config.metric == "auto" else config.metric)

    def __call__(self, step: int, total: int, epoch: float) -> bool:
        result = self.task.evaluate(self.model, self.data, self.features, self.pad_id, self.accelerator,
                                    max(64, self.config.batch_size))
        improved = self.best.offer(result, self.model, step)
        self.reporter.report(step / total, f"Step {step}/{total}: validation {self.best.metric} "
                             f"{getattr(result, self.best.metric):.1%}", type="eval",
                             step=step, epoch=round(epoch, 3), best=improved, **result.metrics())
        return self.config.patience > 0 and self.best.stale >= self.config.patience


def _updates(lengths, update_size: int, config: TrainConfig, world: int, rank: int):
    """(epoch, training done in epochs, row indices) for every optimizer update of the run."""
    for epoch in range(config.epochs):
        plan = plan_batches(lengths, update_size, config.seed + epoch, world=world, rank=rank)
        for batch_no, batch in enumerate(plan):
            yield epoch, epoch + (batch_no + 1) / len(plan), batch


def train_classifier(model, tokenizer, train, evaluation, config: TrainConfig | None = None, reporter=None,
                     out_dir: Path | str | None = None, source: str = "") -> TrainResult:
    """Train `model` (its own copy: it is changed in place) and keep the best checkpoint by `config.metric`.

    The task follows the data (`core.tasks.heads.task_of`): texts, pairs, tagged sentences or
    questions, with a model of the matching head (`load_base_classifier(..., task)`).

    Events sent to `reporter.report`: ``type="start"`` (steps, device, precision, processes,
    train_rows, eval_rows, metric: the one that picks the best checkpoint), ``type="step"`` (step,
    epoch, loss, lr, samples_per_s, eta_s), ``type="eval"`` (step, epoch, eval_loss, accuracy, f1, best) and ``type="stop"``
    (reason). With `out_dir`, the best checkpoint is saved there by the main process only.
    """
    from accelerate.utils import set_seed

    config, reporter = config or TrainConfig(), Recorded(reporter or SilentReporter())
    config.validate()
    if len(train) == 0 or len(evaluation) == 0:
        raise UserError("Both the training and the evaluation data need at least one row.")
    accelerator = make_accelerator(config.precision)
    set_seed(config.seed)
    world = accelerator.num_processes
    max_length = min(config.max_length, max_length_of(model.config))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    reporter.report(0.0, "Tokenizing…")
    task = task_of(train)
    train_ids, eval_ids = task.encode(tokenizer, train, max_length), task.encode(tokenizer, evaluation, max_length)
    update_size = config.batch_size * config.grad_accum
    total = _steps_per_epoch(len(train_ids), update_size, world) * config.epochs
    model.to(accelerator.device)
    optimizer = adamw(model, config.lr, config.weight_decay)
    scheduler = linear_schedule(optimizer, int(config.warmup_ratio * total), total)
    model, optimizer = accelerator.prepare(model, optimizer)
    plain = accelerator.unwrap_model(model)
    validate = _Validation(plain, task, evaluation, eval_ids, pad_id, accelerator, config, reporter)
    reporter.report(0.0, f"Training: {total} steps of {update_size} examples on {accelerator.device}", type="start",
         steps=total, device=str(accelerator.device), precision=accelerator.mixed_precision,
         processes=world, train_rows=len(train), eval_rows=len(evaluation), metric=validate.best.metric)
    step, samples, stopped_early, started = 0, 0, False, time.perf_counter()
    for epoch, done, batch in _updates([len(f["input_ids"]) for f in train_ids], update_size, config, world,
                                       accelerator.process_index):
        loss = _update(model, optimizer, scheduler, accelerator, train_ids, batch, config, pad_id, reporter, task)
        step, samples, elapsed = step + 1, samples + len(batch) * world, time.perf_counter() - started
        reporter.report(step / total, f"Step {step}/{total} · loss {loss:.3f}", type="step", step=step, epoch=round(done, 3),
             loss=loss, lr=scheduler.get_last_lr()[0], samples_per_s=samples / elapsed,
             eta_s=elapsed / step * (total - step))
        # Evaluate every `eval_every` steps, else at each epoch's end (where the last one cannot stop early).
        due = step % config.eval_every == 0 if config.eval_every else done == epoch + 1
        if due and validate(step, total, done) and (config.eval_every or epoch + 1 < config.epochs):
            stopped_early = True
            reporter.report(1.0, f"Stopped early: no improvement in {config.patience} evaluation(s).", type="stop",
                 reason="early_stopping", step=step)
            break
    if config.eval_every and step % config.eval_every and not stopped_early:
        validate(step, total, float(config.epochs))
    best = validate.best
    result = TrainResult(best.restore(plain), tokenizer, task.labels(train), best.result, best.step, step,
                         samples, time.perf_counter() - started, stopped_early, reporter.history,
                         task=task.name, main_process=accelerator.is_main_process)
    if out_dir is not None:
        _save(result, accelerator, reporter, Path(out_dir), config, source)
    return result


def _save(result: TrainResult, accelerator, reporter, out_dir: Path, config: TrainConfig, source: str) -> None:
    """The main process saves the best checkpoint; the others wait for it."""
    reporter.check_cancelled()
    reporter.report(1.0, "Saving the best checkpoint…")
    if accelerator.is_main_process:
        save_checkpoint(result, out_dir, config, source)
    accelerator.wait_for_everyone()
    result.out_dir = out_dir


def finetune(choice: str, train, evaluation, config: TrainConfig | None = None,
             reporter=None, out_dir: Path | str | None = None) -> TrainResult:
    """Load a fresh model with the data's task head from `choice` ("embedded", a hub id, "local:...") and train it."""
    from accelerate.utils import set_seed

    config = config or TrainConfig()
    config.validate()
    if reporter is not None:
        reporter.report(0.0, f"Loading {choice}…")
    set_seed(config.seed)  # the new classification head starts the same way every run
    task = task_of(train)
    tokenizer, model = load_base_classifier(choice, task.labels(train), task)
    return train_classifier(model, tokenizer, train, evaluation, config, reporter, out_dir, source=choice)


def quick_finetune(choice: str, out_dir: Path | str | None = None, reporter=None) -> TrainResult:
    """`choice` fine-tuned on the built-in reviews with QUICK_FINETUNE: a classifier to explain in a minute."""
    train = builtin_sentiment("train")
    return finetune(choice, train, builtin_sentiment("validation", train.label_names), QUICK_FINETUNE,
                    reporter, out_dir)


# ---------------------------------------------------------------------------------------------
# Time estimate


def measure_throughput(choice: str, train: LabelledTexts, config: TrainConfig, batches: int = 3) -> float:
    """Training samples/s measured on `batches` real batches of a random sample of `train`.

    A throwaway model runs the real loop, so the number includes everything a real run pays
    per step (the first, slower step too: the estimate errs on the long side).
    """
    sample = train.sample(config.batch_size * config.grad_accum * batches, config.seed)
    probe = sample.subset([0])
    quick = replace(config, epochs=1, eval_every=0, patience=0)
    return finetune(choice, sample, probe, quick).samples_per_s


def estimate_seconds(samples_per_s: float, train_rows: int, eval_rows: int, config: TrainConfig) -> float:
    """Training time from a measured throughput: every epoch, plus evaluations (a forward pass
    costs about a third of a training step per example)."""
    updates = math.ceil(train_rows / (config.batch_size * config.grad_accum)) * config.epochs
    n_evals = config.epochs if not config.eval_every else max(1, updates // config.eval_every)
    return (train_rows * config.epochs + n_evals * eval_rows / 3) / samples_per_s


def score(model, tokenizer, data, max_length: int, batch_size: int = 64):
    """The task's scores (`EvalResult`) of a trained model on `data`, e.g. a held-out test split."""
    task = task_of(data)
    features = task.encode(tokenizer, data, min(max_length, max_length_of(model.config)))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return task.evaluate(model, data, features, pad_id, make_accelerator(), batch_size)
