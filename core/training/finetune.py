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
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.inputs.datasets import LabelledTexts
from core.errors import UserError

PRECISIONS = ("auto", "no", "bf16", "fp16")
METRICS = ("accuracy", "f1")
PARTIAL_DIR = ".partial"  # under the output's parent: never listed as a model while being written


@dataclass
class TrainConfig:
    """Hyper-parameters; the defaults fine-tune MiniLM on a few thousand sentences in minutes on 2 cores."""

    epochs: int = 2
    batch_size: int = 16
    lr: float = 5e-5
    max_length: int = 64
    grad_accum: int = 1
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    patience: int = 0  # evaluations without improvement before stopping; 0 = never stop early
    eval_every: int = 0  # optimizer steps between evaluations; 0 = once per epoch
    seed: int = 42
    precision: str = "auto"  # auto: bf16 on CUDA that supports it, else fp16 on CUDA, else fp32
    metric: str = "accuracy"  # the validation metric that picks the best checkpoint

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, "Epochs must be at least 1."),
            (1 <= self.batch_size <= 1024, "Batch size must be between 1 and 1024."),
            (0 < self.lr < 1, "The learning rate must be between 0 and 1 (try 5e-5)."),
            (8 <= self.max_length <= 512, "Max length must be between 8 and 512 tokens."),
            (self.grad_accum >= 1, "Gradient accumulation must be at least 1."),
            (self.weight_decay >= 0, "Weight decay cannot be negative."),
            (0 <= self.warmup_ratio < 1, "Warmup must be a fraction of training between 0 and 1."),
            (self.max_grad_norm > 0, "Gradient clipping must be positive."),
            (self.patience >= 0 and self.eval_every >= 0, "Patience and eval-every cannot be negative."),
            (self.precision in PRECISIONS, f"Precision must be one of {', '.join(PRECISIONS)}."),
            (self.metric in METRICS, f"The metric must be one of {', '.join(METRICS)}."),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)


@dataclass
class EvalResult:
    loss: float
    accuracy: float
    f1: float
    confusion: list[list[int]]
    predictions: list[int]  # per evaluation example, in the dataset's order
    probabilities: list[list[float]]

    def metrics(self) -> dict:
        return {"eval_loss": self.loss, "accuracy": self.accuracy, "f1": self.f1}


@dataclass
class TrainResult:
    """What a fine-tune produced; `model` is the best checkpoint, in eval mode."""

    model: torch.nn.Module
    tokenizer: object
    label_names: list[str]
    best: EvalResult
    best_step: int
    steps: int
    samples_seen: int
    train_s: float  # wall time of the loop (training + periodic evaluation), not loading or saving
    stopped_early: bool
    history: list[dict] = field(default_factory=list)
    out_dir: Path | None = None
    main_process: bool = True  # False on the other ranks of a multi-process run: they stay quiet

    @property
    def samples_per_s(self) -> float:
        return self.samples_seen / self.train_s if self.train_s else 0.0

    def summary(self) -> dict:
        """The CLI's JSON line."""
        return {"accuracy": round(self.best.accuracy, 4), "f1": round(self.best.f1, 4),
                "train_s": round(self.train_s, 2), "train_samples_per_s": round(self.samples_per_s, 2),
                "out": str(self.out_dir) if self.out_dir else None}


class SilentReporter:
    """A reporter that drops every event (tests, scripts)."""

    def report(self, progress=None, message=None, **event) -> None:
        pass

    def check_cancelled(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Device, precision, threads


def choose_precision(device_type: str, bf16_supported: bool, requested: str = "auto") -> str:
    """Mixed precision for a device: bf16 where CUDA supports it (no loss scaling needed), fp16 on
    older CUDA GPUs, full precision on CPU/MPS (CPU bf16 autocast is slower than fp32 on most CPUs)."""
    if requested not in PRECISIONS:
        raise UserError(f"Precision must be one of {', '.join(PRECISIONS)}.")
    if requested == "auto":
        if device_type == "cuda":
            return "bf16" if bf16_supported else "fp16"
        return "no"
    if requested == "fp16" and device_type != "cuda":
        raise UserError("fp16 mixed precision needs a CUDA GPU; use 'no' (or 'bf16' on a recent CPU).")
    if requested == "bf16" and device_type == "cuda" and not bf16_supported:
        raise UserError("This GPU does not support bf16; use fp16.")
    return requested


def sensible_threads() -> int:
    """CPU threads per process: the cores this process may use, shared among local processes,
    and one thread when the machine is already busy: OpenMP threads that must wait for a core
    spin against each other (measured on a loaded 2-core box: 2 threads 5x slower than 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    threads = max(1, cores // max(1, local))
    with contextlib.suppress(OSError, AttributeError):
        if os.getloadavg()[0] >= cores:
            threads = 1
    return threads


def make_accelerator(precision: str = "auto"):
    """An Accelerator on the best device (CUDA / MPS / CPU, or BERT_PLAYGROUND_DEVICE)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from core.models.loading import pick_device

    device = pick_device()
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    chosen = choose_precision(device.type, bf16, precision)
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision") not in (None, chosen):
        # Accelerate fixes precision once per process; a second, different request would raise.
        chosen = state["_mixed_precision"]
    return Accelerator(mixed_precision=chosen, cpu=device.type == "cpu")


# ---------------------------------------------------------------------------------------------
# Model


def model_max_length(config) -> int:
    limit = getattr(config, "max_position_embeddings", 512)
    return min(limit - 2 if config.model_type == "roberta" else limit, 512)


def load_base_classifier(choice: str, label_names: list[str]):
    """(tokenizer, a fresh XForSequenceClassification) from the weights behind `choice`.

    Loaded from disk (or the hub) every time, so the cached model other pages share is never
    touched. A classifier already fine-tuned with other labels gets a new head.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from core.models.loading import EMBEDDED, SUPPORTED_TYPES, _HUB_ID, is_offline, resolve_local

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    choice = (choice or "").strip()
    kwargs = {"local_files_only": True}
    if choice == EMBEDDED:
        from core.models.embedded import encoder_path

        source = str(encoder_path())
    elif (local := resolve_local(choice)) is not None:
        source = str(local)
    elif _HUB_ID.match(choice):
        source, kwargs = choice, {}
    else:
        raise UserError(f"'{choice}' is not a valid Hugging Face model id (like 'bert-base-uncased').")
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False, **kwargs)
        if config.model_type not in SUPPORTED_TYPES:
            raise UserError(f"'{choice}' is a {config.model_type} model; fine-tuning supports "
                            f"{', '.join(SUPPORTED_TYPES)}.")
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False, **kwargs)
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=len(label_names), id2label=dict(enumerate(label_names)),
            label2id={n: i for i, n in enumerate(label_names)}, ignore_mismatched_sizes=True,
            trust_remote_code=False, use_safetensors=True, **kwargs)
    except UserError:
        raise
    except (OSError, ValueError) as err:
        if not kwargs and is_offline():
            raise UserError(f"No internet: the hub model '{choice}' can't be downloaded; "
                            "the embedded model works offline.") from err
        raise UserError(f"'{choice}' could not be loaded: {str(err).splitlines()[0]}") from err
    model.config.problem_type = "single_label_classification"
    return tokenizer, model


# ---------------------------------------------------------------------------------------------
# Batches


def tokenize(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated, unpadded: padding happens per batch."""
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def plan_batches(lengths, batch_size: int, seed: int, shuffle: bool = True, world: int = 1,
                 rank: int = 0, pool: int = 50) -> list[np.ndarray]:
    """Index batches whose texts have similar lengths, in random order.

    Shuffle, cut into pools of `pool` batches, sort each pool by length and slice it: batches
    stay random but need little padding. With several processes every rank plans the same list
    (same seed) and takes its share; all ranks get the same number of batches.
    """
    lengths = np.asarray(lengths)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
    batches = []
    step = batch_size * pool
    for start in range(0, len(order), step):
        part = order[start:start + step]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    if world > 1:
        per_rank = len(batches) // world
        batches = batches[rank::world][:per_rank]
    return batches


def collate(ids: list[list[int]], pad_id: int, device) -> dict[str, torch.Tensor]:
    """input_ids + attention_mask padded to the longest text of this batch only."""
    width = max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, x in enumerate(ids):
        input_ids[row, :len(x)] = x
        mask[row, :len(x)] = 1
    return {"input_ids": torch.from_numpy(input_ids).to(device), "attention_mask": torch.from_numpy(mask).to(device)}


# ---------------------------------------------------------------------------------------------
# Evaluation


def evaluate(model, ids: list[list[int]], labels: list[int], n_labels: int, pad_id: int, accelerator,
             batch_size: int = 64) -> EvalResult:
    """Loss, accuracy, macro-F1 and confusion matrix; each process scores its share, sorted by length.

    `model` is the unwrapped model: a DDP wrapper would sync buffers on every forward and hang
    when ranks hold different numbers of batches.
    """
    from accelerate.utils import gather_object
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    model.eval()
    order = np.argsort([len(x) for x in ids], kind="stable")[accelerator.process_index::accelerator.num_processes]
    rows = []
    target = torch.as_tensor(labels)
    with torch.inference_mode(), accelerator.autocast():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            logits = model(**collate([ids[i] for i in idx], pad_id, accelerator.device)).logits.float()
            losses = F.cross_entropy(logits, target[idx].to(logits.device), reduction="none")
            probs = logits.softmax(-1)
            rows += list(zip(idx.tolist(), losses.tolist(), probs.tolist()))
    rows = sorted(gather_object(rows)) if accelerator.num_processes > 1 else sorted(rows)
    probs = np.array([r[2] for r in rows]).reshape(len(rows), n_labels)
    preds = probs.argmax(1).tolist()
    classes = list(range(n_labels))
    return EvalResult(
        loss=float(np.mean([r[1] for r in rows])),
        accuracy=float(accuracy_score(labels, preds)),
        f1=float(f1_score(labels, preds, labels=classes, average="macro", zero_division=0)),
        confusion=confusion_matrix(labels, preds, labels=classes).tolist(),
        predictions=preds,
        probabilities=probs.tolist(),
    )


# ---------------------------------------------------------------------------------------------
# Training


def _optimizer(model, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with no weight decay on biases and LayerNorm weights (the BERT recipe).

    Built after the model is on its device: the fused kernel checks where the parameters live.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 else decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:  # one fused kernel: measured 6x faster than the per-tensor loop on CPU for MiniLM
        return torch.optim.AdamW(groups, lr=config.lr, fused=True)
    except (RuntimeError, TypeError):  # a device or dtype without the fused kernel
        return torch.optim.AdamW(groups, lr=config.lr)


def _linear_schedule(optimizer, warmup: int, total: int):
    """Linear warmup to the peak learning rate, then linear decay to zero."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_classifier(model, tokenizer, train: LabelledTexts, evaluation: LabelledTexts,
                     config: TrainConfig | None = None, reporter=None, out_dir: Path | str | None = None,
                     source: str = "") -> TrainResult:
    """Train `model` (its own copy: it is changed in place) and keep the best checkpoint by `config.metric`.

    Events sent to `reporter.report`: ``type="step"`` (step, epoch, loss, lr, samples_per_s,
    eta_s), ``type="eval"`` (step, epoch, eval_loss, accuracy, f1, best) and ``type="stop"``
    (reason). With `out_dir`, the best checkpoint is saved there by the main process only.
    """
    from accelerate.utils import set_seed

    config = config or TrainConfig()
    config.validate()
    reporter = reporter or SilentReporter()
    if len(train) == 0 or len(evaluation) == 0:
        raise UserError("Both the training and the evaluation data need at least one row.")
    accelerator = make_accelerator(config.precision)
    set_seed(config.seed)
    world, rank = accelerator.num_processes, accelerator.process_index
    n_labels = len(train.label_names)
    max_length = min(config.max_length, model_max_length(model.config))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    reporter.report(0.0, "Tokenizing…")
    train_ids = tokenize(tokenizer, train.texts, max_length)
    eval_ids = tokenize(tokenizer, evaluation.texts, max_length)
    lengths = [len(x) for x in train_ids]
    update_size = config.batch_size * config.grad_accum
    updates_per_epoch = math.ceil(len(train_ids) / update_size)
    if world > 1:
        updates_per_epoch //= world
        if updates_per_epoch == 0:
            raise UserError(f"{len(train_ids)} training rows are too few for {world} processes "
                            f"with {update_size} rows per step.")
    total = updates_per_epoch * config.epochs
    labels = torch.as_tensor(train.labels)

    model.to(accelerator.device)
    optimizer = _optimizer(model, config)
    scheduler = _linear_schedule(optimizer, int(config.warmup_ratio * total), total)
    model, optimizer = accelerator.prepare(model, optimizer)
    plain = accelerator.unwrap_model(model)

    history: list[dict] = []
    best: EvalResult | None = None
    best_state, best_step, bad_evals = None, 0, 0
    step, samples, stopped_early = 0, 0, False
    started = time.perf_counter()

    def emit(progress, message, **event):
        history.append(event)
        reporter.report(progress, message, **event)

    def run_eval(epoch: float) -> bool:
        """Evaluate, keep the best weights; True when patience has run out."""
        nonlocal best, best_state, best_step, bad_evals
        result = evaluate(plain, eval_ids, evaluation.labels, n_labels, pad_id, accelerator,
                          batch_size=max(64, config.batch_size))
        improved = best is None or getattr(result, config.metric) > getattr(best, config.metric)
        if improved:
            best, best_step, bad_evals = result, step, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in plain.state_dict().items()}
        else:
            bad_evals += 1
        emit(step / total, f"Step {step}/{total}: validation accuracy {result.accuracy:.1%}", type="eval",
             step=step, epoch=round(epoch, 3), best=improved, **result.metrics())
        return config.patience > 0 and bad_evals >= config.patience

    emit(0.0, f"Training: {total} steps of {update_size} examples on {accelerator.device}", type="start",
         steps=total, device=str(accelerator.device), precision=accelerator.mixed_precision,
         processes=world, train_rows=len(train), eval_rows=len(evaluation))
    for epoch in range(config.epochs):
        plan = plan_batches(lengths, update_size, config.seed + epoch, world=world, rank=rank)
        for batch_no, batch in enumerate(plan):
            model.train()
            micro = [batch[i:i + config.batch_size] for i in range(0, len(batch), config.batch_size)]
            loss_value = 0.0
            for j, idx in enumerate(micro):
                reporter.check_cancelled()
                inputs = collate([train_ids[i] for i in idx], pad_id, accelerator.device)
                # Sum over the examples / examples in the whole update: K micro-batches of B give
                # exactly the gradient of one batch of K*B, even when the last one is short.
                sync = accelerator.no_sync(model) if j < len(micro) - 1 else contextlib.nullcontext()
                with sync, accelerator.autocast():
                    logits = model(**inputs).logits.float()
                    loss = F.cross_entropy(logits, labels[idx].to(logits.device), reduction="sum") / len(batch)
                    accelerator.backward(loss)
                loss_value += loss.item()
            accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            samples += len(batch) * world
            elapsed = time.perf_counter() - started
            emit(step / total, f"Step {step}/{total} · loss {loss_value:.3f}", type="step", step=step,
                 epoch=round(epoch + (batch_no + 1) / len(plan), 3), loss=loss_value,
                 lr=scheduler.get_last_lr()[0], samples_per_s=samples / elapsed,
                 eta_s=elapsed / step * (total - step))
            if config.eval_every and step % config.eval_every == 0 and run_eval(epoch + (batch_no + 1) / len(plan)):
                stopped_early = True
                break
        if stopped_early:
            break
        if not config.eval_every and run_eval(epoch + 1.0) and epoch + 1 < config.epochs:
            stopped_early = True
            break
    if config.eval_every and step % config.eval_every and not stopped_early:
        run_eval(float(config.epochs))
    train_s = time.perf_counter() - started
    if stopped_early:
        emit(1.0, f"Stopped early: no improvement in {config.patience} evaluation(s).", type="stop",
             reason="early_stopping", step=step)

    plain.load_state_dict(best_state)
    plain.eval()
    result = TrainResult(plain, tokenizer, list(train.label_names), best, best_step, step, samples, train_s,
                         stopped_early, history, main_process=accelerator.is_main_process)
    if out_dir is not None:
        reporter.check_cancelled()
        reporter.report(1.0, "Saving the best checkpoint…")
        if accelerator.is_main_process:
            result.out_dir = save_checkpoint(result, Path(out_dir), config, source)
        accelerator.wait_for_everyone()
        result.out_dir = Path(out_dir)
    return result


def finetune(choice: str, train: LabelledTexts, evaluation: LabelledTexts, config: TrainConfig | None = None,
             reporter=None, out_dir: Path | str | None = None) -> TrainResult:
    """Load a fresh classifier from `choice` ("embedded", a hub id, "local:...") and train it."""
    from accelerate.utils import set_seed

    config = config or TrainConfig()
    config.validate()
    if reporter is not None:
        reporter.report(0.0, f"Loading {choice}…")
    set_seed(config.seed)  # the new classification head starts the same way every run
    tokenizer, model = load_base_classifier(choice, train.label_names)
    return train_classifier(model, tokenizer, train, evaluation, config, reporter, out_dir, source=choice)


# ---------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(result: TrainResult, out_dir: Path, config: TrainConfig, source: str = "") -> Path:
    """Write safetensors + config + tokenizer + training.json, then move the folder into place.

    The folder is written under a hidden `.partial/` sibling and renamed when complete, so the
    model list never shows a half-written checkpoint; an existing folder is replaced.
    """
    out_dir = Path(out_dir).resolve()
    partial = out_dir.parent / PARTIAL_DIR / f"{out_dir.name}-{os.getpid()}-{time.time_ns()}"
    partial.mkdir(parents=True)
    try:
        result.model.save_pretrained(partial)
        result.tokenizer.save_pretrained(partial)
        meta = {"base_model": source, "labels": result.label_names, "config": asdict(config),
                "best_step": result.best_step, "steps": result.steps, "stopped_early": result.stopped_early,
                "metrics": result.best.metrics(), "confusion": result.best.confusion,
                "train_s": result.train_s, "train_samples_per_s": result.samples_per_s,
                "history": result.history}
        (partial / "training.json").write_text(json.dumps(meta, indent=1))
        if not (partial / "model.safetensors").is_file():
            raise RuntimeError("the checkpoint was not written as model.safetensors")
        old = None
        if out_dir.exists():
            old = partial.with_name(partial.name + "-old")
            out_dir.rename(old)
        partial.rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
        with contextlib.suppress(OSError):
            partial.parent.rmdir()  # only when empty
    return out_dir


def load_classifier(folder: Path | str):
    """A saved fine-tune as a `core.models.loading.LoadedModel` (so `core.inputs.text.encode` works on it)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.models.loading import LoadedModel, pick_device

    folder = Path(folder)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise UserError(f"'{folder}' is not a saved model: it needs config.json and model.safetensors.")
    architectures = json.loads((folder / "config.json").read_text()).get("architectures") or []
    if not any(a.endswith("ForSequenceClassification") for a in architectures):
        raise UserError(f"'{folder}' is not a fine-tuned classifier (it is {', '.join(architectures) or 'unlabelled'}): "
                        "its classification head would be random. Fine-tune it first.")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True,
                                                                   use_safetensors=True)
    except (OSError, ValueError) as err:
        raise UserError(f"'{folder}' could not be loaded: {str(err).splitlines()[0]}") from err
    if not getattr(model.config, "id2label", None) or model.config.problem_type not in (None, "single_label_classification"):
        raise UserError(f"'{folder}' is not a single-label classifier.")
    device = pick_device()
    model.to(device).eval()
    return LoadedModel(f"local:{folder}", "local", tokenizer, model, False, False, device)


def as_loaded(result: TrainResult):
    """The in-memory result as a `LoadedModel`, to classify before (or without) saving."""
    from core.models.loading import LoadedModel

    device = next(result.model.parameters()).device
    return LoadedModel("fine-tuned", "local", result.tokenizer, result.model, False, False, device)


def classify(loaded, text: str) -> tuple[str, dict[str, float], str | None]:
    """(label, probability per label, truncation notice) for one text."""
    from core.inputs.text import encode

    enc = encode(loaded, text)
    with torch.inference_mode():
        probs = loaded.model(**enc.inputs).logits.float().softmax(-1)[0]
    names = [loaded.config.id2label[i] for i in range(probs.numel())]
    scores = {n: float(p) for n, p in zip(names, probs.tolist())}
    return max(scores, key=scores.get), scores, enc.notice


def zip_checkpoint(folder: Path | str) -> bytes:
    """The saved model folder as a zip (stored, not compressed: weights barely compress)."""
    import io
    import zipfile

    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, Path(folder.name) / path.relative_to(folder))
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Time estimate


def measure_throughput(choice: str, train: LabelledTexts, config: TrainConfig, batches: int = 3) -> float:
    """Training samples/s measured on `batches` real batches of a random sample of `train`.

    A throwaway model runs the real loop, so the number includes everything a real run pays
    per step (the first, slower step too: the estimate errs on the long side).
    """
    rng = np.random.default_rng(config.seed)
    n = min(len(train), config.batch_size * config.grad_accum * batches)
    pick = rng.choice(len(train), size=n, replace=False)
    sample = LabelledTexts([train.texts[i] for i in pick], [train.labels[i] for i in pick], train.label_names)
    probe = LabelledTexts(sample.texts[:1], sample.labels[:1], train.label_names)
    quick = replace(config, epochs=1, eval_every=0, patience=0)
    return finetune(choice, sample, probe, quick).samples_per_s


def estimate_seconds(samples_per_s: float, train_rows: int, eval_rows: int, config: TrainConfig) -> float:
    """Training time from a measured throughput: every epoch, plus evaluations (a forward pass
    costs about a third of a training step per example)."""
    updates = math.ceil(train_rows / (config.batch_size * config.grad_accum)) * config.epochs
    n_evals = config.epochs if not config.eval_every else max(1, updates // config.eval_every)
    return (train_rows * config.epochs + n_evals * eval_rows / 3) / samples_per_s
