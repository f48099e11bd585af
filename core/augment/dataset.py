"""Augmenting a whole dataset: every row N more times with one recipe, labels kept, duplicates dropped.

The output holds the original rows first, then the new ones; each new row copies every column of
the row it came from (label, domain, split…) with its text replaced, and says which row and recipe
made it. A new row identical to a row already kept (same text and label) is dropped and counted:
augmentation that changes nothing adds no information, only weight.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from core.augment.techniques import Recipe, augment_texts, parse_recipe
from core.augment.contextual import DEFAULT_STRENGTH
from core.inputs.csv_input import read_text_csv
from core.inputs.datasets import LabelledTexts
from core.errors import UserError

MAX_ROWS = 5_000  # rows in; with N up to 20 that is up to 100,000 rows out
BUILTIN = Path(__file__).resolve().parent.parent / "data" / "sentiment.csv"
SOURCE_COLUMN, RECIPE_COLUMN = "source_row", "augmentation"


def builtin_dataset() -> pd.DataFrame:
    """The project's sentiment dataset (text, label, domain, split)."""
    if not BUILTIN.is_file():
        raise UserError("The built-in dataset (core/data/sentiment.csv) is not installed in this copy "
                        "of the app: upload a CSV instead.")
    return read_text_csv(BUILTIN, "text", "label", max_rows=MAX_ROWS)


@dataclass
class AugmentedDataset:
    frame: pd.DataFrame
    n_original: int
    n_augmented_rows: int  # original rows that were augmented (all, or the training split)
    n_generated: int  # n_augmented_rows * n
    n_duplicates: int  # generated rows dropped as exact duplicates (incl. unchanged ones)

    @property
    def n_new(self) -> int:
        return self.n_generated - self.n_duplicates

    def summary(self) -> dict:
        return {"original_rows": self.n_original, "augmented_rows": self.n_augmented_rows,
                "generated": self.n_generated, "duplicates_dropped": self.n_duplicates,
                "new_rows": self.n_new, "output_rows": len(self.frame)}


def augment_dataset(frame: pd.DataFrame, text_column: str, label_column: str | None,
                    recipe: Recipe | str, n: int = 1, strength: float = DEFAULT_STRENGTH, seed: int = 0,
                    loaded=None, train_only: bool = True, progress: Callable[[int, int], None] | None = None,
                    max_rows: int = MAX_ROWS) -> AugmentedDataset:
    """Originals plus `n` augmented copies of each row (of the 'train' split only when the frame
    has a `split` column and `train_only`: copies of test sentences in training would leak).

    `progress(done, total)` may raise (e.g. JobCancelled) to stop early; nothing is returned then.
    """
    recipe = parse_recipe(recipe) if isinstance(recipe, str) else recipe
    if len(frame) > max_rows:
        raise UserError(f"The dataset has {len(frame):,} rows; augmentation takes at most {max_rows:,}.")
    for column in (text_column, label_column):
        if column and column not in frame.columns:
            raise UserError(f"The dataset has no column {column!r}.")
    chosen = frame
    if train_only and "split" in frame.columns:
        chosen = frame[frame["split"].str.strip().str.lower() == "train"]
        if chosen.empty:
            raise UserError("No row is in the 'train' split; untick 'training split only' to augment every row.")
    texts = chosen[text_column].astype(str).tolist()
    outputs = augment_texts(texts, recipe, n=n, strength=strength, seed=seed, loaded=loaded,
                            progress=progress)
    originals = frame.assign(**{SOURCE_COLUMN: frame.index, RECIPE_COLUMN: ""})
    new = chosen.loc[chosen.index.repeat(n)].assign(
        **{SOURCE_COLUMN: chosen.index.repeat(n), RECIPE_COLUMN: recipe.name})
    new[text_column] = [text for row in outputs for text in row]
    key = [text_column] + ([label_column] if label_column else [])
    seen = pd.MultiIndex.from_frame(originals[key].astype(str))
    candidate = pd.MultiIndex.from_frame(new[key].astype(str))
    keep = ~candidate.isin(seen) & ~candidate.duplicated()
    out = pd.concat([originals, new[keep]], ignore_index=True)
    return AugmentedDataset(out, len(frame), len(chosen), len(new), int((~keep).sum()))


def augment_labelled(data: LabelledTexts, recipe: Recipe | str, n: int = 1, strength: float = DEFAULT_STRENGTH,
                     seed: int = 0, loaded=None, progress: Callable[[int, int], None] | None = None) -> LabelledTexts:
    """`data` plus `n` augmented copies of every row, labels kept and duplicates dropped as above
    (the fine-tuning page's optional step: only training rows are passed in, as many as it trains on)."""
    frame = pd.DataFrame({"text": data.texts, "label": data.labels})
    out = augment_dataset(frame, "text", "label", recipe, n, strength, seed, loaded, False, progress,
                          max_rows=len(frame)).frame
    return LabelledTexts(out["text"].tolist(), out["label"].astype(int).tolist(), data.label_names, data.name)


def augment_csv(data: bytes | str | Path, text_column: str, label_column: str | None, recipe: str,
                **options) -> AugmentedDataset:
    """Read a CSV (friendly errors from core.inputs.csv_input) and augment it."""
    frame = read_text_csv(data, text_column, label_column, max_rows=MAX_ROWS)
    return augment_dataset(frame, text_column, label_column, recipe, **options)
