"""Shared fixtures: tiny models of every supported architecture, saved once per test session.

The tiny models live under a temporary folder that is added to the allowed model folders, so
they load through the same `local:` path as a user's fine-tuned model.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Named after the generator's hash, so a change to tiny_models.py rebuilds the models.
_GENERATOR = hashlib.sha256((ROOT / "tests" / "tiny_models.py").read_bytes()).hexdigest()[:10]
_TINY_ROOT = Path(os.environ.setdefault("BERT_PLAYGROUND_TEST_MODELS",
                                        str(ROOT / "build" / f"tiny-models-{_GENERATOR}")))
os.environ["BERT_PLAYGROUND_MODEL_DIRS"] = str(_TINY_ROOT)

ARCHS = ("bert", "distilbert", "roberta", "albert")


def tiny_choice(arch: str) -> str:
    """The model choice string for a tiny model of `arch`, built on first use."""
    from tiny_models import make_bert

    folder = _TINY_ROOT / f"tiny-{arch}"
    if not (folder / "model.safetensors").is_file():
        make_bert(folder, arch)
    return f"local:{folder}"


@pytest.fixture(scope="session", params=ARCHS)
def tiny_any(request) -> str:
    """A tiny model choice, once per architecture."""
    return tiny_choice(request.param)


@pytest.fixture(scope="session")
def tiny_bert() -> str:
    return tiny_choice("bert")


@pytest.fixture(scope="session")
def trained() -> dict[str, Path]:
    """Tiny fine-tunes for the try-it views and `predict`, trained once: a tagger of names, a
    reader that answers "who is it?" and a same-or-different pair classifier."""
    import torch

    from core.training.config import TrainConfig
    from core.training.finetune import finetune
    from tiny_models import questions, same_or_different, tagged

    recipes = {"tokens": (lambda: tagged(300).holdout(0.2, 0), 10), "qa": (lambda: questions(200).holdout(0.2, 0), 3),
               "pairs": (lambda: (same_or_different(),) * 2, 10)}
    folders = {}
    for task, (data, epochs) in recipes.items():
        folder = folders[task] = _TINY_ROOT / f"trained-{task}"
        if not (folder / "model.safetensors").is_file():
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            torch.manual_seed(0)
            finetune(tiny_choice("bert"), *data(), TrainConfig(epochs=epochs, lr=3e-3, batch_size=16), out_dir=folder)
            torch.set_num_threads(threads)
    return folders


@pytest.fixture(scope="module")
def one_thread():
    """Training tests run on one torch thread: two threads thrash (10-50x slower) when the 2-core
    machine is busy, and tiny models gain nothing from a second one."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# Real-browser fixtures, registered once here so every module shares one server and one Chromium.
from browser import app_server, app_url, browser  # noqa: E402,F401
