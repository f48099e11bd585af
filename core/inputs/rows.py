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
