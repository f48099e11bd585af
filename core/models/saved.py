"""The folder every model the app trains is saved as: weights, config, tokenizer and one JSON record.

Fine-tunes, distilled students, ensemble members and the lab's from-scratch BERTs all go through
`save_folder`, so they share one rule for writing (atomically, safetensors only) and can all be
listed, loaded and zipped the same way.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

from core.errors import UserError

PARTIAL_DIR = ".partial"  # under the output's parent: never listed as a model while being written


def save_folder(model, tokenizer, out_dir: Path | str, record: dict, record_name: str = "training.json",
                replace: bool = False) -> Path:
    """Write model.safetensors + config + tokenizer + `record_name`, then rename the folder into place.

    It is written under a hidden `.partial/` sibling, so no list ever shows a half-written model.
    An existing folder is replaced only with `replace` (the CLI's `--out`); otherwise it is a
    UserError, so a page never overwrites a model behind the user's back.
    """
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not replace:
        raise UserError(f"{out_dir.name} already exists: choose another name.")
    partial = out_dir.parent / PARTIAL_DIR / f"{out_dir.name}-{os.getpid()}-{time.time_ns()}"
    partial.mkdir(parents=True)
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        (partial / record_name).write_text(json.dumps(record, indent=1))
        if not (partial / "model.safetensors").is_file():
            raise RuntimeError("the model was not written as model.safetensors")
        old = None
        if out_dir.exists():
            old = partial.with_name(partial.name + "-old")
            out_dir.rename(old)
        partial.rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
        with contextlib.suppress(OSError):
            partial.parent.rmdir()  # only when empty
    return out_dir


KINDS = {"lab.json": "pretrained from scratch", "training.json": "fine-tuned"}


def local_kind(folder: Path | str) -> str:
    """What a saved model is, from the record its trainer wrote: a from-scratch BERT is not "fine-tuned"."""
    folder = Path(folder)
    return next((kind for record, kind in KINDS.items() if (folder / record).is_file()), "your model")


def zip_folder(folder: Path | str) -> bytes:
    """A saved model folder as a zip (stored, not compressed: weights barely compress)."""
    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, Path(folder.name) / path.relative_to(folder))
    return buffer.getvalue()
