"""Ensembles: several fine-tuned classifiers vote, by averaging probabilities or by majority.

An ensemble only helps where members make *different* mistakes: if they all agree it is one model
run several times. So next to each member's and the ensemble's accuracy this reports how often
members agree and how often at least one of them is right (the "oracle", the most any way of
combining them could reach), and counts the texts the ensemble fixed or broke compared with its
best member.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.inputs.datasets import LabelledTexts
from core.errors import UserError
from core.progress import SilentReporter, SubProgress

METHODS = ("mean", "vote")


def combine(probabilities: list[np.ndarray], method: str = "mean") -> np.ndarray:
    """Predicted class per row from members' (N, C) probabilities.

    mean: argmax of the averaged probabilities. vote: the class most members pick; a tie goes to
    the tied class with the higher averaged probability.
    """
    if method not in METHODS:
        raise UserError(f"The ensemble method must be one of {', '.join(METHODS)}.")
    stack = np.stack([np.asarray(p, dtype=float) for p in probabilities])  # (M, N, C)
    mean = stack.mean(0)
    if method == "mean":
        return mean.argmax(1)
    votes = np.zeros_like(mean)
    for member in stack.argmax(2):  # (N,) class chosen by each member
        votes[np.arange(len(member)), member] += 1
    return (votes + mean / (len(stack) + 1)).argmax(1)  # mean < 1 vote, so it only breaks ties


def report(member_probs: dict[str, np.ndarray], labels: list[int], stacked: np.ndarray | None = None) -> dict:
    """Accuracy of each member and of both ensembles (and of stacking, given its (N, C) test
    probabilities, see core.training.stacking), agreement, oracle, fixed/broken counts."""
    if len(member_probs) < 2:
        raise UserError("An ensemble needs at least two models.")
    y = np.asarray(labels)
    names = list(member_probs)
    preds = {n: np.asarray(p).argmax(1) for n, p in member_probs.items()}
    members = [{"model": n, "accuracy": round(float((preds[n] == y).mean()), 4)} for n in names]
    best = max(members, key=lambda m: m["accuracy"])["model"]
    out = {"members": members, "best_member": best}
    combined = {method: combine(list(member_probs.values()), method) for method in METHODS}
    if stacked is not None:
        combined["stack"] = np.asarray(stacked).argmax(1)
    for method, ensemble in combined.items():
        right, best_right = ensemble == y, preds[best] == y
        out[method] = {"accuracy": round(float(right.mean()), 4),
                       "fixed": int((right & ~best_right).sum()), "broken": int((~right & best_right).sum())}
    correct = np.stack([preds[n] == y for n in names])
    out["oracle"] = round(float(correct.any(0).mean()), 4)
    out["all_agree"] = round(float(np.mean([len(set(col)) == 1 for col in np.stack([preds[n] for n in names]).T])), 4)
    out["agreement"] = [[round(float((preds[a] == preds[b]).mean()), 4) for b in names] for a in names]
    out["error_overlap"] = [[_overlap(preds[a] != y, preds[b] != y) for b in names] for a in names]
    return out


def _overlap(err_a: np.ndarray, err_b: np.ndarray) -> float | None:
    """Share of the texts either member gets wrong that both get wrong (1 = the same mistakes)."""
    either = (err_a | err_b).sum()
    return round(float((err_a & err_b).sum() / either), 4) if either else None


def evaluate_members(folders: list[str], data: LabelledTexts, max_length: int = 64, reporter=None) -> dict[str, np.ndarray]:
    """(N, C) test probabilities per saved classifier; all must predict the same labels as `data`."""
    from core.training.distill import score
    from core.models.classifiers import load_teacher

    reporter = reporter or SilentReporter()
    if len(folders) < 2:
        raise UserError("Pick at least two fine-tuned models for an ensemble.")
    out = {}
    for i, folder in enumerate(folders):
        reporter.check_cancelled()
        reporter.report(i / len(folders), f"Scoring {Path(folder).name} on {len(data)} texts…")
        tokenizer, model = load_teacher(folder)
        names = [model.config.id2label[j] for j in range(model.config.num_labels)]
        if names != list(data.label_names):
            raise UserError(f"{Path(folder).name} predicts {names}, but the data's labels are {data.label_names}: "
                            "ensemble models fine-tuned on the same dataset.")
        out[Path(str(folder).removeprefix("local:")).name] = np.asarray(score(model, tokenizer, data, max_length).probabilities)
    reporter.report(1.0, "Combining…")
    return out


def train_member(train: LabelledTexts, evaluation: LabelledTexts, seed: int, layers: int = 2, epochs: int = 2,
                 base: str = "embedded", reporter=None, label: str = "member"):
    """One small classifier: the first `layers` blocks of `base`, trained from seed `seed` (a TrainResult).

    Different seeds give different head initialisations and data orders, hence different mistakes.
    """
    from core.training.distill import make_student, train_student
    from core.training.config import DistillConfig
    from core.models.classifiers import load_base_classifier

    torch.manual_seed(seed)  # a different classification head per member
    tokenizer, full = load_base_classifier(base, train.label_names)
    cfg = DistillConfig(student_layers=layers, alpha=0.0, epochs=epochs, seed=seed)
    student = make_student(full, layers, cfg.layer_choice)
    del full
    return train_student(student, tokenizer, train, evaluation, cfg, None, reporter, label=label), cfg


def train_members(train: LabelledTexts, evaluation: LabelledTexts, n: int = 3, layers: int = 2, epochs: int = 2,
                  out_root: Path | str | None = None, prefix: str = "member", reporter=None,
                  base: str = "embedded") -> list[str]:
    """Fine-tune and save `n` small classifiers (`train_member`, seeds 0..n-1); the saved folders
    (under runs/ by default)."""
    from core.models.loading import RUNS_DIR
    from core.training.kit import save_checkpoint

    reporter = reporter or SilentReporter()
    out_root = Path(out_root or RUNS_DIR)
    folders = []
    for seed in range(n):
        result, cfg = train_member(train, evaluation, seed, layers, epochs, base,
                                   SubProgress(reporter, seed / n, (seed + 1) / n), f"{prefix}-{seed}")
        folder = save_checkpoint(result, out_root / f"{prefix}-{seed}", cfg, source=f"{base}, first {layers} layers")
        folders.append(f"local:{folder}")
    return folders


def member_fit(evaluation: LabelledTexts, seed: int, layers: int = 2, epochs: int = 2, base: str = "embedded"):
    """`train_member` as a stacking member (core.training.stacking): fit(train, reporter) -> predict."""
    from core.training.distill import score

    def fit(train: LabelledTexts, reporter=None):
        result, _ = train_member(train, evaluation, seed, layers, epochs, base, reporter, f"member-{seed}")
        return lambda data: np.asarray(score(result.model, result.tokenizer, data).probabilities)
    return fit
