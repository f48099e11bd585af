"""A classroom without internet: `download` asks the hub for the loadable files only, and hub
models in the cache are listed, marked in the sidebar and loaded offline (a cache made here from
the tiny test models)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub.utils import filter_repo_objects

from core.errors import UserError
from core.models.hub_cache import WANTED, cached_models, download

ROOT = Path(__file__).resolve().parent.parent
REVISION = "0123456789abcdef0123456789abcdef01234567"


def cache_of(model: str, cache: Path, files: list[Path]) -> Path:
    """`files` laid out as the hub client caches `model` (refs/main -> one snapshot)."""
    repo = cache / ("models--" + model.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(REVISION)
    snapshot = repo / "snapshots" / REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, snapshot / f.name)
    return snapshot


@pytest.fixture()
def cache(tmp_path, tiny_bert) -> Path:
    tiny = Path(tiny_bert.removeprefix("local:"))
    cache_of("tiny-org/tiny-bert", tmp_path / "hub", sorted(tiny.iterdir()))
    (tmp_path / "pickle.bin").write_bytes(b"not loaded")
    cache_of("tiny-org/pickle-only", tmp_path / "hub", [tiny / "config.json", tmp_path / "pickle.bin"])
    return tmp_path / "hub"


def test_download_asks_for_weights_config_and_tokenizer_only():
    repo = ["config.json", "model.safetensors", "model-00001-of-00002.safetensors", "model.safetensors.index.json",
            "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json", "merges.txt",
            "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "onnx/model.onnx", "README.md", "rust_model.ot",
            "coreml/model.mlpackage/Data/weights.bin"]
    kept = list(filter_repo_objects(repo, allow_patterns=WANTED))
    assert kept == repo[:9]


def test_cached_hub_models_are_listed_only_with_safetensors(cache):
    assert cached_models(cache) == ["tiny-org/tiny-bert"]
    assert cached_models(cache.parent / "no-cache-here") == []


def test_offline_a_cached_model_is_fetched_from_the_cache_and_a_missing_one_is_one_message(cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    got = download("tiny-org/tiny-bert", cache)
    assert got["model"] == "tiny-org/tiny-bert" and "model.safetensors" in got["files"] and got["mb"] > 0
    with pytest.raises(UserError, match="No internet"):
        download("tiny-org/not-cached", cache)
    with pytest.raises(UserError, match="not a valid"):
        download("../etc", cache)


def test_a_cached_hub_model_loads_offline_in_a_real_process(cache):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    run = lambda *argv: subprocess.run([sys.executable, "-m", "core", *argv], capture_output=True, text=True,  # noqa: E731
                                       cwd=ROOT, env=env, timeout=300)
    done = run("tokenize", "the cat sat", "--model", "tiny-org/tiny-bert", "--json")
    assert done.returncode == 0, done.stderr
    assert "cat" in json.dumps(json.loads(done.stdout))
    info = json.loads(run("info", "--json").stdout)
    assert info["available_offline"] == ["tiny-org/tiny-bert"]
    missing = run("download", "tiny-org/not-cached")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "No internet" in missing.stderr


def test_the_sidebar_marks_cached_models_available_offline_and_loads_them(cache, monkeypatch):
    import huggingface_hub.constants as hub
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(cache))
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    picker = at.sidebar.selectbox(key="model_picker")
    assert "tiny-org/tiny-bert · available offline" in picker.options
    picker.set_value("tiny-org/tiny-bert")
    at.run()
    assert not at.exception
    # (AppTest draws no sidebar after a sidebar widget changes; the home page describes the model.)
    assert "2 layers · hidden size 32 · 4 heads" in " ".join(c.value for c in at.caption)
    st.cache_data.clear()
