"""Several app processes behind a proxy share one runs/ folder: what one process saves there, another
lists and loads (README, "Several app processes")."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT, tiny_choice


def core(*argv, env) -> dict:
    proc = subprocess.run([sys.executable, "-m", "core", *argv], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    if "--json" not in argv:
        return proc.stdout
    try:
        return json.loads(proc.stdout)  # `info` prints one indented object
    except json.JSONDecodeError:
        return json.loads(proc.stdout.strip().splitlines()[-1])  # the last line of a progress log


def test_a_model_saved_by_one_process_is_listed_and_used_by_another(tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "BERT_PLAYGROUND_RUNS": str(runs), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    first = core("finetune", "--train", "builtin", "--model", tiny_choice("bert"), "--epochs", "1",
                 "--out", str(runs / "shared-tiny"), "--json", "--quiet", env=env)
    assert first["out"].endswith("shared-tiny")
    second = core("info", "--json", env=env)  # another process, the same folder
    assert f"local:{runs / 'shared-tiny'}" in second["models"]
    answer = core("classify", "a wonderful film", "--model", f"local:{runs / 'shared-tiny'}", "--json", env=env)
    assert set(answer["scores"]) == {"negative", "positive"}


def test_the_server_config_skips_the_full_gc_after_every_rerun_and_the_file_watcher():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False  # ~0.2 s of CPU per rerun with torch loaded
    assert config["server"]["fileWatcherType"] == "none"
