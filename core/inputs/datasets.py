"""Labelled texts for fine-tuning: the built-in sentiment set, a user's CSV, or a hub dataset.

Every source ends as `LabelledTexts` (texts, integer labels, label names), after the checks a
classifier needs and a CSV reader cannot know about: at least two classes, no class the training
split never saw, enough rows to split off a validation set.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import UserError
from core.inputs.rows import Rows

BUILTIN = "builtin"
BUILTIN_CSV = Path(__file__).resolve().parent.parent / "data" / "sentiment.csv"
MIN_VALIDATION = 2
# name -> (datasets path, config, text column, validation split: None = carve from train)
HUB_DATASETS = {
    "rotten_tomatoes": ("rotten_tomatoes", None, "text", "validation"),
    "glue/sst2": ("glue", "sst2", "sentence", "validation"),
    "imdb": ("imdb", None, "text", "test"),
    "ag_news": ("ag_news", None, "text", "test"),
}


@dataclass
class LabelledTexts(Rows):
    """Texts (or sentence pairs, with `second`) with integer labels indexing `label_names` (the
    classifier's id2label)."""

    ROW_FIELDS = ("texts", "labels", "second")

    texts: list[str]
    labels: list[int]
    label_names: list[str]
    name: str = ""
    second: list[str] | None = None  # sentence B of each pair: `[CLS] A [SEP] B [SEP]`

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(np.asarray(self.labels, dtype=int), minlength=len(self.label_names))
        return dict(zip(self.label_names, counts.tolist()))


def _sorted_names(values) -> list[str]:
    """Label names in a stable, human order: numbers numerically ("2" before "10"), then text."""
    def key(v: str):
        try:
            return (0, float(v), v)
        except ValueError:
            return (1, 0.0, v)

    return sorted({str(v) for v in values}, key=key)


def from_frame(frame: pd.DataFrame, text_column: str, label_column: str,
               label_names: list[str] | None = None, name: str = "") -> LabelledTexts:
    """Texts and labels from two columns; `label_names` (the training split's) fixes the ids.

    Raises UserError for missing values, a single class, or a label the training split lacks.
    """
    for column in (text_column, label_column):
        if column not in frame.columns:
            shown = ", ".join(repr(c) for c in frame.columns)
            raise UserError(f"{name or 'The data'} has no column {column!r}; its columns are {shown}.")
    texts = frame[text_column]
    labels = frame[label_column]
    missing = texts.isna() | labels.isna() | (texts.astype(str).str.strip() == "") | (labels.astype(str).str.strip() == "")
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        raise UserError(f"{name or 'The data'} has {int(missing.sum())} row(s) with an empty text or label "
                        f"(the first is data row {row + 1}); fill or delete them.")
    labels = labels.astype(str).str.strip()
    if label_names is None:
        label_names = _sorted_names(labels)
        if len(label_names) < 2:
            raise UserError(f"Every row of {name or 'the data'} has the label {label_names[0]!r}: "
                            "a classifier needs at least two classes.")
    index = {n: i for i, n in enumerate(label_names)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise UserError(f"{name or 'The evaluation data'} has label(s) {', '.join(map(repr, unknown[:5]))} that the "
                        f"training data never shows (it has {', '.join(map(repr, label_names))}).")
    return LabelledTexts(texts.astype(str).str.strip().tolist(), [index[v] for v in labels],
                         list(label_names), name)


def read_labelled_csv(data, text_column: str, label_column: str, label_names: list[str] | None = None,
                      name: str = "The CSV", max_rows: int | None = None) -> LabelledTexts:
    """A user's CSV (path or uploaded bytes) as labelled texts, with every check in one place."""
    from core.inputs.csv_input import MAX_ROWS, read_text_csv

    frame = read_text_csv(data, text_column, label_column, max_rows=max_rows or MAX_ROWS)
    return from_frame(frame, text_column, label_column, label_names, name)


def split_validation(data: LabelledTexts, fraction: float = 0.2, seed: int = 0) -> tuple[LabelledTexts, LabelledTexts]:
    """(train, validation): a stratified random split, so a small class is in both parts."""
    from sklearn.model_selection import train_test_split

    n_val = max(MIN_VALIDATION, len(data.label_names), int(round(len(data) * fraction)))
    if len(data) - n_val < len(data.label_names):
        raise UserError(f"{len(data)} rows are too few to keep a validation set: add rows or upload a "
                        "separate evaluation CSV.")
    counts = np.bincount(data.labels)
    stratify = data.labels if counts[counts > 0].min() >= 2 else None
    idx_train, idx_val = train_test_split(np.arange(len(data)), test_size=n_val, random_state=seed,
                                          stratify=stratify)
    return data.subset(sorted(idx_train), "train"), data.subset(sorted(idx_val), "validation")


def builtin_split(path: Path, split: str, what: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the whole built-in CSV, the rows of one fixed split), or a UserError naming what is missing."""
    if not path.is_file():
        raise UserError(f"The built-in {what} are missing from this install (core/data/{path.name}).")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    part = frame[frame["split"] == split].reset_index(drop=True)
    if part.empty:
        raise UserError(f"The built-in {what} have no {split!r} split; they have {sorted(frame['split'].unique())}.")
    return frame, part


def builtin_sentiment(split: str, label_names: list[str] | None = None) -> LabelledTexts:
    """One split (train / validation / test) of the built-in sentiment dataset."""
    frame, part = builtin_split(BUILTIN_CSV, split, "sentiment reviews")
    if label_names is None:
        label_names = _sorted_names(frame["label"])
    return from_frame(part, "text", "label", label_names, name=f"built-in sentiment ({split})")


def open_hub_dataset(name: str, path: str, config: str | None):
    """A hub dataset's DatasetDict (needs internet), or a one-line UserError saying why not."""
    from core.models.loading import is_offline

    if is_offline():
        raise UserError(f"No internet: the hub dataset '{name}' can't be downloaded. "
                        "Use the built-in dataset or upload a file.")
    import datasets

    try:
        return datasets.load_dataset(path, config)
    except Exception as err:  # noqa: BLE001 - network and hub errors come in many types
        raise UserError(f"The hub dataset '{name}' could not be loaded: {str(err).splitlines()[0]}") from err


def hub_rows(loaded, split: str, n: int, seed: int):
    """`n` random rows of one split of a loaded hub dataset."""
    return loaded[split].shuffle(seed=seed).select(range(min(n, loaded[split].num_rows)))


def load_hub_dataset(name: str, limit: int = 2000, seed: int = 0,
                     table: dict | None = None) -> tuple[LabelledTexts, LabelledTexts]:
    """(train, validation) of a known hub dataset, `limit` random training rows (needs internet).

    `table` maps names to (path, config, text column, validation split); a pair of text columns
    makes sentence pairs (`core.inputs.pairs.HUB_PAIRS`).
    """
    table = HUB_DATASETS if table is None else table
    if name not in table:
        raise UserError(f"Unknown hub dataset {name!r}; choose one of {', '.join(table)}.")
    path, config, text_column, val_split = table[name]
    loaded = open_hub_dataset(name, path, config)
    names = list(loaded["train"].features["label"].names)
    first, second = (text_column, None) if isinstance(text_column, str) else text_column

    def take(split: str, n: int) -> LabelledTexts:
        rows = hub_rows(loaded, split, n, seed).filter(lambda r: r["label"] >= 0)  # GLUE test labels are hidden (-1)
        return LabelledTexts(list(rows[first]), list(rows["label"]), names, f"{name} ({split})",
                             list(rows[second]) if second else None)

    return take("train", limit), take(val_split, max(200, limit // 5))
