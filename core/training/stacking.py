"""Stacking: a meta-classifier learns which member to trust, from predictions on texts it never saw.

Averaging and voting trust every member equally. Stacking (Wolpert 1992) learns the combination:
a logistic regression reads the members' probabilities (one feature per member and class) and
predicts the label. It must learn from *out-of-fold* predictions: the training split is cut into
k folds, and for fold j every member is trained on the other k - 1 folds and then predicts fold j.
A member asked about a text it was trained on looks better than it is (it has memorised it), and
a meta-classifier taught on that would over-trust the member that memorises best. Members trained
on the whole split then score the test split, and the meta-classifier combines them there.

A member is a function `fit(train, reporter) -> predict`, `predict(data) -> (N, C) probabilities`,
so the same code stacks the lab's small fine-tunes and the tests' toy members.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from core.errors import UserError
from core.inputs.datasets import LabelledTexts
from core.progress import SilentReporter, SubProgress

Predict = Callable[[LabelledTexts], np.ndarray]
Fit = Callable[..., Predict]  # fit(train: LabelledTexts, reporter) -> Predict


def out_of_fold(members: dict[str, Fit], train: LabelledTexts, folds: int = 5, seed: int = 0,
                reporter=None) -> dict[str, np.ndarray]:
    """(N, C) probabilities per member on every training row, each from a model trained without that row."""
    reporter = reporter or SilentReporter()
    counts = min(train.class_counts().values())
    if not 2 <= folds <= counts:
        raise UserError(f"Stacking needs between 2 and {counts} folds (the smallest class has {counts} rows).")
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    out = {name: np.zeros((len(train), len(train.label_names))) for name in members}
    jobs = len(members) * folds
    for j, (fit_rows, held_rows) in enumerate(splitter.split(np.zeros(len(train)), train.labels)):
        for m, (name, fit) in enumerate(members.items()):
            done = j * len(members) + m
            part = SubProgress(reporter, done / jobs, (done + 1) / jobs)
            part.report(0.0, f"Fold {j + 1}/{folds}: training {name} on {len(fit_rows)} rows…")
            predict = fit(train.subset(fit_rows.tolist()), part)
            out[name][held_rows] = predict(train.subset(held_rows.tolist()))
    return out


def features(member_probs: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """(N, M·C): each member's class probabilities side by side, in `names` order."""
    return np.concatenate([np.asarray(member_probs[n], dtype=float) for n in names], axis=1)


@dataclass
class Stacker:
    names: list[str]
    label_names: list[str]
    meta: LogisticRegression

    @classmethod
    def fit(cls, oof: dict[str, np.ndarray], labels: list[int], label_names: list[str]) -> "Stacker":
        names = list(oof)
        meta = LogisticRegression(max_iter=1000).fit(features(oof, names), labels)
        return cls(names, list(label_names), meta)

    def predict_proba(self, member_probs: dict[str, np.ndarray]) -> np.ndarray:
        return self.meta.predict_proba(features(member_probs, self.names))

    def weights(self) -> list[dict]:
        """How much the meta-classifier listens to each member: the summed |coefficients| on its
        features (a share of all of them), and per class the coefficient on that member's
        probability of the class (positive: it trusts the member when it says this class)."""
        coef = self.meta.coef_  # (1, M·C) for two classes, else (C, M·C)
        c = len(self.label_names)
        per_class = np.vstack([-coef[0], coef[0]]) if coef.shape[0] == 1 else coef  # (C, M·C)
        total = float(np.abs(coef).sum()) or 1.0
        rows = []
        for m, name in enumerate(self.names):
            block = slice(m * c, (m + 1) * c)
            rows.append({"member": name, "share": round(float(np.abs(coef[:, block]).sum()) / total, 4),
                         **{f"trust for {label}": round(float(per_class[k, m * c + k]), 4)
                            for k, label in enumerate(self.label_names)}})
        return rows


def stack(members: dict[str, Fit], train: LabelledTexts, test: LabelledTexts, folds: int = 5, seed: int = 0,
          reporter=None) -> tuple[Stacker, dict[str, np.ndarray], np.ndarray]:
    """(meta-classifier, members' test probabilities, stacked test probabilities).

    Each member is trained k + 1 times: once per fold for the out-of-fold predictions, then on the
    whole training split for the test split.
    """
    if len(members) < 2:
        raise UserError("Stacking needs at least two members.")
    reporter = reporter or SilentReporter()
    share = folds / (folds + 1)
    oof = out_of_fold(members, train, folds, seed, SubProgress(reporter, 0.0, share))
    stacker = Stacker.fit(oof, train.labels, train.label_names)
    test_probs = {}
    for m, (name, fit) in enumerate(members.items()):
        part = SubProgress(reporter, share + (1 - share) * m / len(members),
                           share + (1 - share) * (m + 1) / len(members))
        part.report(0.0, f"Training {name} on the whole training split…")
        test_probs[name] = fit(train, part)(test)
    return stacker, test_probs, stacker.predict_proba(test_probs)
