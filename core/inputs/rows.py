"""Row selection shared by every dataset type: a dataset is a few lists of one value per row.

`LabelledTexts`, `TaggedSentences` and `QuestionItems` name their per-row lists in `ROW_FIELDS`;
subsets and samples then keep those lists aligned, and everything else (label names, the name).
"""
from __future__ import annotations

import dataclasses

import numpy as np


class Rows:
    """Mixin for a dataclass whose `ROW_FIELDS` are lists with one entry per row (None: absent)."""

    ROW_FIELDS: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(getattr(self, self.ROW_FIELDS[0]))

    def subset(self, rows, suffix: str = ""):
        """These rows (indices), in the order given."""
        rows = list(rows)
        picked = {f: [values[i] for i in rows] for f in self.ROW_FIELDS if (values := getattr(self, f)) is not None}
        name = f"{self.name} ({suffix})" if suffix else self.name
        return dataclasses.replace(self, name=name, **picked)

    def sample(self, n: int, seed: int = 0):
        """`n` random rows (all when there are fewer), kept in their original order."""
        if n >= len(self):
            return self
        return self.subset(sorted(np.random.default_rng(seed).choice(len(self), int(n), replace=False).tolist()))

    def holdout(self, fraction: float = 0.2, seed: int = 0, groups: list | None = None):
        """(train, validation) at random; rows of one group (a QA item's context) stay together,
        so the validation score never comes from a paragraph the model trained on."""
        from core.errors import UserError

        keys = list(range(len(self))) if groups is None else groups
        unique = sorted(set(keys), key=str)
        rng = np.random.default_rng(seed)
        held = set(rng.permutation(len(unique))[:max(1, round(len(unique) * fraction))].tolist())
        if len(held) >= len(unique):
            raise UserError(f"{len(self)} rows are too few to keep a validation set: add rows or give an evaluation file.")
        chosen = {unique[i] for i in held}
        val = [i for i, k in enumerate(keys) if k in chosen]
        train = [i for i, k in enumerate(keys) if k not in chosen]
        return self.subset(train, "train"), self.subset(val, "validation")
