"""Every CLI subcommand answers every hostile input with a result or one friendly line — never a
traceback, never an "unexpected" exit 1, never a hang."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, tiny_choice
from core.layers import neighbours
from hostile import BAD_MODELS, HOSTILE_TEXTS
from in_process import run
from test_explain import toy_classifier

TEXT_COMMANDS = {
    "tokenize": lambda t, m: ["tokenize", t, "--model", m, "--json"],
    "tokenize-pair": lambda t, m: ["tokenize", "A first sentence.", "--pair", t, "--model", m, "--json"],
    "attention": lambda t, m: ["attention", t, "--model", m, "--json"],
    "fill-mask": lambda t, m: ["fill-mask", t, "--model", m, "--json"],
    "nsp": lambda t, m: ["nsp", "It was raining.", t, "--model", m, "--json"],
    "augment": lambda t, m: ["augment", t, "--method", "keyboard", "--n", "2", "--json"],
    "explain": lambda t, m: ["explain", t, "--model", toy_classifier(), "--steps", "8", "--json"],
    "explain-mask": lambda t, m: ["explain", t, "--mask-word", "", "--model", m, "--steps", "8", "--json"],
    "counterfactual": lambda t, m: ["counterfactual", t, "--model", toy_classifier(), "--max-edits", "1", "--json"],
    "project": lambda t, m: ["project", t, "--model", m, "--json"],
    "neighbors": lambda t, m: ["neighbors", t, "--token", "0", "--model", m, "--json", "--quiet"],
}
MODEL_COMMANDS = {
    "tokenize": lambda m: ["tokenize", "hello", "--model", m, "--json"],
    "attention": lambda m: ["attention", "hello", "--model", m, "--json"],
    "fill-mask": lambda m: ["fill-mask", "hello [MASK]", "--model", m, "--json"],
    "nsp": lambda m: ["nsp", "a", "b", "--model", m, "--json"],
    "parity": lambda m: ["parity", "--model", m, "--json"],
    "classify": lambda m: ["classify", "great film", "--model", m, "--json"],
    "predict": lambda m: ["predict", "great film", "--model", m, "--json"],
    "explain": lambda m: ["explain", "great film", "--model", m, "--json"],
    "counterfactual": lambda m: ["counterfactual", "great film", "--model", m, "--json"],
    "faithfulness": lambda m: ["faithfulness", "--model", m, "--eval", "builtin", "--n", "2", "--quiet", "--json"],
    "generate": lambda m: ["generate", "a dog", "--model", m, "--json"],
    "project": lambda m: ["project", "a dog ran home", "--model", m, "--json"],
    "probe": lambda m: ["probe", "--task", "pos", "--n", "100", "--model", m, "--json", "--quiet"],
    "neighbors": lambda m: ["neighbors", "a dog", "--token", "0", "--model", m, "--json", "--quiet"],
}


@pytest.fixture(autouse=True, scope="module")
def private_runs(tmp_path_factory):
    """`neighbors` builds an index under runs/: a private one, not the checkout's."""
    patch = pytest.MonkeyPatch()
    patch.setattr(neighbours, "RUNS_DIR", tmp_path_factory.mktemp("runs"))
    yield
    patch.undo()


def assert_friendly(argv: list[str]) -> int:
    code, out, err = run(argv)
    assert code in (0, 2), f"{argv[:2]} exited {code}: {err.strip()}"
    assert "Traceback" not in out + err
    if code == 0:
        json.loads(out.strip().splitlines()[-1])
    else:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), err
    return code


@pytest.mark.parametrize("text_name", HOSTILE_TEXTS)
@pytest.mark.parametrize("command", TEXT_COMMANDS)
def test_hostile_text(command, text_name):
    assert_friendly(TEXT_COMMANDS[command](HOSTILE_TEXTS[text_name], tiny_choice("bert")))


@pytest.mark.parametrize("model_name", BAD_MODELS)
@pytest.mark.parametrize("command", MODEL_COMMANDS)
def test_bad_model(command, model_name):
    assert assert_friendly(MODEL_COMMANDS[command](BAD_MODELS[model_name])) == 2


def test_pickle_checkpoint_is_refused_everywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("BERT_PLAYGROUND_MODEL_DIRS", str(tmp_path))
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    torch.save({"payload": torch.zeros(1)}, folder / "pytorch_model.bin")
    for build in MODEL_COMMANDS.values():
        assert assert_friendly(build(f"local:{folder}")) == 2


CSV_CASES = {
    "empty": b"",
    "header only": b"text,label\n",
    "binary": bytes(range(256)) * 10,
    "non-utf8": "text,label\ncafé crème,positive\n".encode("latin-1") + b"\xff\xfe bad,negative\n",
    "one class": b"text,label\n" + b"".join(f"good {i},positive\n".encode() for i in range(20)),
    "missing column": b"sentence,label\nhello,positive\nbye,negative\n",
    "nan labels": b"text,label\nhello,\nbye,\n",
    "100k rows": b"text,label\n" + b"".join(f"row {i},{'ab'[i % 2]}\n".encode() for i in range(100_000)),
}


@pytest.mark.parametrize("case", CSV_CASES)
@pytest.mark.parametrize("command", ["augment-csv", "finetune"])
def test_hostile_csv(command, case, tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(CSV_CASES[case])
    if command == "augment-csv":
        argv = ["augment-csv", str(path), str(tmp_path / "out.csv"), "--method", "keyboard",
                "--label-column", "label", "--json"]
    else:
        argv = ["finetune", "--train", str(path), "--eval", str(path), "--model", tiny_choice("bert"),
                "--epochs", "1", "--out", str(tmp_path / "model"), "--json", "--quiet"]
    code = assert_friendly(argv)
    acceptable = {"100k rows"} | ({"one class"} if command == "augment-csv" else set())
    if case not in acceptable:
        assert code == 2, f"{command} accepted the {case} CSV"


@pytest.mark.parametrize("argv", [
    ["tokenize", "<script>alert(1)</script>", "--model", "local:../../etc"],
    ["fill-mask", "no mask here"],
    ["nsp"],
    ["augment", "x", "--method", "no-such-method"],
])
def test_real_process_prints_one_line_and_no_traceback(argv):
    proc = subprocess.run([sys.executable, "-m", "core", *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
