"""The training kit: what every training loop in the app shares, written once.

Fine-tuning, distillation and ensemble members take their batches, optimizer, learning-rate
schedule, precision, best checkpoint, evaluation and saved record from here; both kinds of
pretraining (which pair and mask their own batches) take the optimizer and the schedule. Where the
time goes on a CPU is padding, so batches are built from texts of similar length and padded only
to their own longest text; evaluation runs sorted by length, in inference mode.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import gather_object
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from core.errors import UserError
from core.training.config import PRECISIONS


@dataclass
class EvalResult:
    loss: float
    accuracy: float
    f1: float
    confusion: list[list[int]]
    predictions: list  # per evaluation example, in the dataset's order: a label id, a tag list, an answer
    probabilities: list[list[float]]
    details: dict = field(default_factory=dict)  # a task's other numbers: exact match, per entity type, ...

    def metrics(self) -> dict:
        scalars = {k: v for k, v in self.details.items() if isinstance(v, (int, float))}
        return {"eval_loss": self.loss, "accuracy": self.accuracy, "f1": self.f1, **scalars}


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
    from core.models.loading import pick_device

    device = pick_device()
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    chosen = choose_precision(device.type, bf16, precision)
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision") not in (None, chosen):
        # Accelerate fixes precision once per process; a second, different request would raise.
        chosen = state["_mixed_precision"]
    return Accelerator(mixed_precision=chosen, cpu=device.type == "cpu")


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


TARGETS = ("labels", "start_positions", "end_positions")  # -100 pads a per-token target


def collate_features(features: list[dict], pad_id: int, device) -> dict[str, torch.Tensor]:
    """One batch from unpadded features, padded to the longest of this batch only.

    A feature holds `input_ids` and, where the task has them, `token_type_ids` (segment A / B),
    `labels` (an int per text or a list per token) and span `start_positions` / `end_positions`;
    any other key (offsets, word ids) is the task's own and stays out of the batch.
    """
    width = max(len(f["input_ids"]) for f in features)
    batch = {}
    for key, fill in (("input_ids", pad_id), ("token_type_ids", 0), ("labels", -100)):
        if key not in features[0]:
            continue
        if key == "labels" and not isinstance(features[0]["labels"], list):
            batch[key] = torch.tensor([f[key] for f in features])
            continue
        rows = np.full((len(features), width), fill, dtype=np.int64)
        for row, f in enumerate(features):
            rows[row, :len(f[key])] = f[key]
        batch[key] = torch.from_numpy(rows)
    mask = np.zeros((len(features), width), dtype=np.int64)
    for row, f in enumerate(features):
        mask[row, :len(f["input_ids"])] = 1
    batch["attention_mask"] = torch.from_numpy(mask)
    for key in ("start_positions", "end_positions"):
        if key in features[0]:
            batch[key] = torch.tensor([f[key] for f in features])
    return {k: v.to(device) for k, v in batch.items()}


def collate(ids: list[list[int]], pad_id: int, device) -> dict[str, torch.Tensor]:
    """input_ids + attention_mask padded to the longest text of this batch only."""
    return collate_features([{"input_ids": x} for x in ids], pad_id, device)


def model_inputs(batch: dict) -> dict:
    """The batch without its targets: the trainer computes the loss itself, summed, so that
    gradient accumulation is exact; a model given `labels` would average its own."""
    return {k: v for k, v in batch.items() if k not in TARGETS}


def forward_rows(model, features: list[dict], pad_id: int, accelerator, batch_size: int, per_row) -> list:
    """`per_row(outputs, batch)` (a list, one value per row of the batch) for every feature, in
    the features' order; each process runs its share, sorted by length, in inference mode.

    `model` is the unwrapped model: a DDP wrapper would sync buffers on every forward and hang
    when ranks hold different numbers of batches.
    """
    model.eval()
    order = np.argsort([len(f["input_ids"]) for f in features], kind="stable")
    order = order[accelerator.process_index::accelerator.num_processes]
    rows = []
    with torch.inference_mode(), accelerator.autocast():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            tensors = collate_features([features[i] for i in idx], pad_id, accelerator.device)
            rows += list(zip(idx.tolist(), per_row(model(**model_inputs(tensors)), tensors)))
    if accelerator.num_processes > 1:
        rows = gather_object(rows)
    return [value for _, value in sorted(rows, key=lambda r: r[0])]


def evaluate(model, ids: list, labels: list[int], n_labels: int, pad_id: int, accelerator,
             batch_size: int = 64) -> EvalResult:
    """Loss, accuracy, macro-F1 and confusion matrix of a classifier; `ids` are token ids per text
    or features (`collate_features`), one per label."""
    features = [dict(x, labels=y) if isinstance(x, dict) else {"input_ids": x, "labels": y} for x, y in zip(ids, labels)]

    def per_row(outputs, targets):
        logits = outputs.logits.float()
        losses = F.cross_entropy(logits, targets["labels"], reduction="none")
        return list(zip(losses.tolist(), logits.softmax(-1).tolist()))

    rows = forward_rows(model, features, pad_id, accelerator, batch_size, per_row)
    probs = np.array([r[1] for r in rows]).reshape(len(rows), n_labels)
    preds = probs.argmax(1).tolist()
    classes = list(range(n_labels))
    return EvalResult(
        loss=float(np.mean([r[0] for r in rows])),
        accuracy=float(accuracy_score(labels, preds)),
        f1=float(f1_score(labels, preds, labels=classes, average="macro", zero_division=0)),
        confusion=confusion_matrix(labels, preds, labels=classes).tolist(),
        predictions=preds,
        probabilities=probs.tolist(),
    )


def adamw(model, lr: float, weight_decay: float = 0.01) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters, with no weight decay on biases and LayerNorm weights
    (the BERT recipe: every parameter with fewer than two dimensions).

    Build it after the model is on its device: the fused kernel checks where the parameters live.
    """
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:  # one fused kernel: measured 6x faster than the per-tensor loop on CPU for MiniLM
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError):  # a device or dtype without the fused kernel
        return torch.optim.AdamW(groups, lr=lr)


def warmup_then_decay(done: float, warmup: float) -> float:
    """BERT's learning-rate factor after fraction `done` of training: linear warm-up to the peak
    over the first `warmup` fraction, then linear decay to zero at the end."""
    if done < warmup:
        return done / warmup
    return max(0.0, 1 - done) / (1 - warmup) if warmup < 1 else 0.0


def linear_schedule(optimizer, warmup: int, total: int):
    """`warmup_then_decay` per optimizer step: the first step already runs at 1 / (warmup + 1) of
    the peak (none is wasted at zero), step `warmup` at the peak, the last near zero."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_then_decay((step + 1) / (total + 1), (warmup + 1) / (total + 1)))


class BestCheckpoint:
    """The best evaluation so far and a CPU copy of its weights, by one metric (higher is better).

    `offer` returns whether the result improved; `stale` counts evaluations since the last
    improvement, which is what early stopping's patience is measured in.
    """

    def __init__(self, metric: str = "accuracy"):
        self.metric, self.result, self.state, self.step, self.stale = metric, None, None, 0, 0

    def offer(self, result: EvalResult, model, step: int) -> bool:
        if self.result is not None and getattr(result, self.metric) <= getattr(self.result, self.metric):
            self.stale += 1
            return False
        self.result, self.step, self.stale = result, step, 0
        self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        return True

    def restore(self, model):
        model.load_state_dict(self.state)
        return model.eval()


@dataclass
class TrainResult:
    """What a training produced (a fine-tune, a distilled student, an ensemble member); `model` is
    the best checkpoint, in eval mode."""

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
    task: str = "sentences"  # core.tasks.TASKS: what the model's head does
    main_process: bool = True  # False on the other ranks of a multi-process run: they stay quiet

    @property
    def samples_per_s(self) -> float:
        return self.samples_seen / self.train_s if self.train_s else 0.0

    def summary(self) -> dict:
        """The CLI's JSON line."""
        scores = {k: round(v, 4) for k, v in self.best.metrics().items() if k != "eval_loss"}
        return {"task": self.task, **scores,
                "train_s": round(self.train_s, 2), "train_samples_per_s": round(self.samples_per_s, 2),
                "out": str(self.out_dir) if self.out_dir else None}


def save_checkpoint(result: TrainResult, out_dir: Path | str, config, source: str = "", replace: bool = True) -> Path:
    """Save a trained classifier and its training.json record (`config`: the run's config dataclass)."""
    from core.models.saved import save_folder

    record = {"task": result.task, "base_model": source, "labels": result.label_names, "config": asdict(config),
              "best_step": result.best_step, "steps": result.steps, "stopped_early": result.stopped_early,
              "metrics": result.best.metrics(), "confusion": result.best.confusion,
              "details": {k: v for k, v in result.best.details.items() if not isinstance(v, (int, float))},
              "train_s": result.train_s, "train_samples_per_s": result.samples_per_s, "history": result.history}
    return save_folder(result.model, result.tokenizer, out_dir, record, "training.json", replace=replace)
