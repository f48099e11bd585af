"""The embedded model's measured scores on each task's built-in test split, written by
`bench/bench_tasks.py --record`, so a page can say what to expect from a fine-tune (and how long
it took) without claiming more than was measured."""
from __future__ import annotations

import json
from pathlib import Path

SCORES_FILE = Path(__file__).resolve().parent.parent / "data" / "task_scores.json"
METRIC = {"tokens": ("f1", "entity F1"), "qa": ("f1", "F1"), "pairs": ("accuracy", "accuracy")}


def recorded(task: str) -> dict | None:
    """The record for `task` ({"test", "train_s", "settings", "machine", "date", ...}), if measured."""
    try:
        return json.loads(SCORES_FILE.read_text()).get(task)
    except (OSError, ValueError):
        return None


def expectation(task: str) -> str | None:
    """One sentence on the measured test score of the embedded model for `task`."""
    found, (key, name) = recorded(task), METRIC.get(task, (None, None))
    if not found or key is None:
        return None
    extra = f", exact match {found['test']['exact_match']:.1%}" if task == "qa" else ""
    value = f"{found['test'][key]:.1%}" if key == "accuracy" or task == "qa" else f"{found['test'][key]:.3f}"
    settings = found["settings"]
    return (f"Measured: the embedded model fine-tuned on all {found['train_rows']} built-in training rows "
            f"({settings['epochs']} epochs, learning rate {settings['lr']:g}, max length {settings['max_length']}) "
            f"scores **{name} {value}**{extra} on the {found['test_rows']} unseen test rows, after "
            f"{found['train_s'] / 60:.1f} min of training ({found['machine']}, {found['date']}).")
