"""Next-sentence calibration: refit the NSP classifier on many single-sentence pairs, the encoder frozen.

The embedded model's NSP head was trained on 64-token packed pairs of several sentences, NotNext
drawn from another document of the same source. The app (and the evaluation) asks about *one*
sentence followed by *one* sentence, and there the head says IsNext too readily (65% of random
news sentences called right, 92% of real successors). The fix that costs no pretraining: pair
single sentences of the training sources (real successor or a random sentence of another document
of the same source, 50/50), read the frozen pooled [CLS] vector of each pair once, and fit a
logistic regression on those vectors — it becomes the new 384 x 2 classifier. Its regularisation
is chosen on the held-out documents of the same sources; evaluation text (BBC, speeches, KJV) is
never seen.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from core.progress import Reporter, SilentReporter
from core.training.pretrain_data import IS_NEXT, NOT_NEXT

STRENGTHS = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths tried (sklearn's C)


def sentence_pairs(documents: list[list[str]], n: int, rng: random.Random) -> list[tuple[str, str, int]]:
    """n (A, B, label): B is A's real successor (IsNext) or, half of the time, a random sentence of
    another document (NotNext); documents need at least two sentences."""
    usable = [d for d in documents if len(d) >= 2]
    if len(usable) < 2:
        raise ValueError("sentence pairs need at least two documents of two sentences")
    out = []
    while len(out) < n:
        d = rng.randrange(len(usable))
        i = rng.randrange(len(usable[d]) - 1)
        if rng.random() < 0.5:
            out.append((usable[d][i], usable[d][i + 1], IS_NEXT))
        else:
            other = usable[(d + rng.randrange(1, len(usable))) % len(usable)]
            out.append((usable[d][i], rng.choice(other), NOT_NEXT))
    return out


def source_pairs(sources: list[list[list[str]]], n: int, seed: int = 0) -> list[tuple[str, str, int]]:
    """About n pairs spread evenly over the sources, each pair's NotNext from its own source."""
    rng = random.Random(seed)
    return [p for docs in sources if len([d for d in docs if len(d) >= 2]) >= 2
            for p in sentence_pairs(docs, max(1, n // len(sources)), rng)]


@torch.no_grad()
def pooled_features(tokenizer, model, pairs, batch_size: int = 64, max_length: int = 128,
                    reporter: Reporter | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(pooled [CLS] vector of every pair (n, hidden), labels (n,)) from a BertForPreTraining."""
    reporter = reporter or SilentReporter()
    device = next(model.parameters()).device
    rows = []
    for start in range(0, len(pairs), batch_size):
        reporter.check_cancelled()
        chunk = pairs[start:start + batch_size]
        enc = tokenizer([a for a, _, _ in chunk], [b for _, b, _ in chunk], padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt").to(device)
        rows.append(model.bert(**enc).pooler_output.float().cpu().numpy())
        reporter.report((start + len(chunk)) / len(pairs), None if start else f"Encoding {len(pairs):,} pairs")
    return np.concatenate(rows), np.array([label for _, _, label in pairs])


@torch.no_grad()
def head_accuracy(weight: torch.Tensor, bias: torch.Tensor, features: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of an NSP classifier (logits = features @ weight.T + bias) on pooled features."""
    logits = torch.from_numpy(np.asarray(features, dtype=np.float32)) @ weight.float().T + bias.float()
    return float((logits.argmax(-1).numpy() == labels).mean())


def as_head(probe: LogisticRegression) -> tuple[torch.Tensor, torch.Tensor]:
    """A binary logistic regression as BertForPreTraining's 2-way classifier: IsNext's logit 0,
    NotNext's w·x + c (softmax over the two equals the regression's sigmoid)."""
    w = torch.from_numpy(probe.coef_[0]).float()
    weight = torch.stack([torch.zeros_like(w), w]) if probe.classes_[1] == NOT_NEXT else torch.stack([w, torch.zeros_like(w)])
    c = float(probe.intercept_[0])
    bias = torch.tensor([0.0, c]) if probe.classes_[1] == NOT_NEXT else torch.tensor([c, 0.0])
    return weight, bias


@dataclass
class Calibration:
    weight: torch.Tensor  # (2, hidden)
    bias: torch.Tensor  # (2,)
    strength: float | None  # None: no refit beat the old head, which is kept
    before: float  # held-out accuracy of the head as it was
    after: float  # held-out accuracy of the refitted head
    n_train: int
    n_held_out: int


def refit_head(train: tuple[np.ndarray, np.ndarray], held: tuple[np.ndarray, np.ndarray],
               old_weight: torch.Tensor, old_bias: torch.Tensor) -> Calibration:
    """The logistic regression (strength chosen on `held`) that becomes the new NSP classifier, or
    the old classifier if none does better on `held`."""
    best = None
    for strength in STRENGTHS:
        probe = LogisticRegression(C=strength, max_iter=2000).fit(*train)
        weight, bias = as_head(probe)
        score = head_accuracy(weight, bias, *held)
        if best is None or score > best[0]:
            best = (score, strength, weight, bias)
    score, strength, weight, bias = best
    before = head_accuracy(old_weight, old_bias, *held)
    if score <= before:  # never replace a head by one that is no better on the held-out pairs
        score, strength, weight, bias = before, None, old_weight.float(), old_bias.float()
    return Calibration(weight, bias, strength, before, score, len(train[1]), len(held[1]))


def calibrate(tokenizer, model, sources, n_pairs: int = 16_000, n_held: int = 3_000, seed: int = 0,
              reporter: Reporter | None = None) -> Calibration:
    """Refit `model`'s NSP classifier on single-sentence pairs of `sources` (load_sources' output):
    fitted on their training documents, chosen on their held-out ones (the 2% pretraining holds out)."""
    from core.progress import SubProgress
    from core.training.pretraining import split_sources

    reporter = reporter or SilentReporter()
    split = split_sources(sources, seed)
    train = pooled_features(tokenizer, model, source_pairs([t for t, _h, _n in split], n_pairs, seed + 1),
                            reporter=SubProgress(reporter, 0, 0.8))
    held = pooled_features(tokenizer, model, source_pairs([h for _t, h, _n in split], n_held, seed + 2),
                           reporter=SubProgress(reporter, 0.8, 1))
    head = model.cls.seq_relationship
    return refit_head(train, held, head.weight.detach(), head.bias.detach())


def write_head(adapter: Path, out: Path, calibration: Calibration, note: str) -> None:
    """Copy `adapter` to `out` with the NSP classifier replaced (fp16, as shipped); metadata says how."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(adapter), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    tensors["cls.seq_relationship.weight"] = calibration.weight.to(torch.float16).contiguous()
    tensors["cls.seq_relationship.bias"] = calibration.bias.to(torch.float16).contiguous()
    meta["nsp_calibration"] = (f"{note}; logistic regression C={calibration.strength} on {calibration.n_train} "
                               f"pairs; held-out {calibration.before:.4f} -> {calibration.after:.4f}")
    tmp = Path(out).with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(out)
