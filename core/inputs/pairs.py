"""Sentence pairs for NLI and paraphrase: the built-in pairs, a user's CSV, or a hub dataset.

They end as `LabelledTexts` with `second` set, so a pair task splits, samples and counts classes
exactly like a sentence task; only the encoder input differs (`[CLS] A [SEP] B [SEP]`).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.errors import UserError
from core.inputs.datasets import LabelledTexts, builtin_split, from_frame

BUILTIN_PAIRS = Path(__file__).resolve().parent.parent / "data" / "pairs.csv"
NLI_LABELS = ["entailment", "neutral", "contradiction"]
COLUMNS = ("text_a", "text_b", "label")
# name -> (datasets path, config, (sentence A, sentence B) columns, validation split)
HUB_PAIRS = {
    "glue/mnli": ("glue", "mnli", ("premise", "hypothesis"), "validation_matched"),
    "glue/mrpc": ("glue", "mrpc", ("sentence1", "sentence2"), "validation"),
    "snli": ("stanfordnlp/snli", None, ("premise", "hypothesis"), "validation"),
}


def pairs_from_frame(frame: pd.DataFrame, label_names: list[str] | None = None, name: str = "") -> LabelledTexts:
    """Pairs from the columns text_a, text_b, label; the checks of `from_frame`, plus sentence B."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"{name or 'The data'} has no column {missing[0]!r}: a pairs CSV has the header "
                        f"text_a,text_b,label (its columns are {', '.join(map(repr, frame.columns))}).")
    empty = frame["text_b"].astype(str).str.strip() == ""
    if empty.any():
        raise UserError(f"{name or 'The data'} has {int(empty.sum())} row(s) with an empty text_b "
                        f"(the first is data row {int(empty.to_numpy().argmax()) + 1}).")
    data = from_frame(frame, "text_a", "label", label_names, name)
    data.second = frame["text_b"].astype(str).str.strip().tolist()
    return data


def read_pairs_csv(data, label_names: list[str] | None = None, name: str = "The CSV") -> LabelledTexts:
    """A user's pairs CSV (path or uploaded bytes), `text_a,text_b,label`."""
    from core.inputs.csv_input import load_csv

    return pairs_from_frame(load_csv(data), label_names, name)


def builtin_pairs(split: str) -> LabelledTexts:
    """One split (train / validation / test) of the built-in NLI pairs (core/data/DATA_CARD_pairs.md)."""
    _, part = builtin_split(BUILTIN_PAIRS, split, "NLI pairs")
    return pairs_from_frame(part, NLI_LABELS, f"built-in NLI pairs ({split})")
