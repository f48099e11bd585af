import json

import pytest
import torch

from core.errors import UserError
from core.models.loading import EMBEDDED, get_model, list_local_models, load_model, resolve_local, session_runs_dir
from in_process import run


def test_tiny_models_load_with_their_heads(tiny_any):
    m = load_model(tiny_any)
    assert m.source == "local"
    assert m.has_mlm, m.notes
    assert m.has_nsp == (m.model_type == "bert")
    assert not m.model.training
    assert all(not p.requires_grad for p in m.model.parameters())
    s = m.summary()
    assert s["layers"] == 2 and s["heads"] == 4 and s["parameters"] == m.n_params > 0


def test_embedded_model_is_the_real_minilm():
    m = get_model(EMBEDDED)
    s = m.summary()
    assert (s["type"], s["layers"], s["hidden"], s["heads"], s["vocab"]) == ("bert", 6, 384, 12, 30522)
    ids = m.tokenizer("hello world")["input_ids"]
    assert m.tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "hello", "world", "[SEP]"]
    assert get_model(EMBEDDED) is m  # cached once per process


@pytest.mark.parametrize("bad, expected", [
    ("", "Choose a model"),
    ("not a valid id!!", "not a valid Hugging Face model id"),
    ("local:../../etc", "outside the model folders"),
    ("../../etc", "outside the model folders"),
    ("/etc", "outside the model folders"),
])
def test_bad_choices_are_friendly(bad, expected):
    with pytest.raises(UserError, match=expected):
        load_model(bad)


def test_hub_model_offline_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="No internet: the hub model 'bert-base-uncased'"):
        load_model("bert-base-uncased")


def test_non_model_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BERT_PLAYGROUND_MODEL_DIRS", str(tmp_path))
    (tmp_path / "notes").mkdir()
    with pytest.raises(UserError, match="no config.json"):
        resolve_local(f"local:{tmp_path / 'notes'}")


def test_pickle_only_checkpoint_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BERT_PLAYGROUND_MODEL_DIRS", str(tmp_path))
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    torch.save({"x": torch.zeros(1)}, folder / "pytorch_model.bin")
    with pytest.raises(UserError, match="only safetensors"):
        load_model(f"local:{folder}")


def test_a_sessions_models_are_listed_only_for_that_session(tmp_path, monkeypatch):
    import core.models.loading as models

    monkeypatch.setattr(models, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.delenv("BERT_PLAYGROUND_MODEL_DIRS", raising=False)
    alice, bob = session_runs_dir("a" * 32), session_runs_dir("b" * 32)
    for folder in (tmp_path / "runs" / "shared", alice / "mine"):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"")
    shared = f"local:{(tmp_path / 'runs' / 'shared').resolve()}"
    assert list_local_models() == [shared]  # no session's models in the shared list
    assert list_local_models(alice) == [shared, f"local:{alice / 'mine'}"]
    assert list_local_models(bob) == [shared]
    with pytest.raises(ValueError):
        session_runs_dir("../../etc")


def test_cli_info_json():
    code, out, err = run(["info", "--json"])
    assert code == 0, err
    info = json.loads(out)
    assert info["device"] == "cpu" and info["offline"] is True
    assert info["models"][0] == "embedded" and "bert-base-uncased" in info["models"]


def test_cli_errors_are_one_line():
    code, _, err = run(["no-such-command"])
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def test_memory_estimate_counts_the_real_parameters_and_a_model_too_big_is_refused(tiny_any, monkeypatch):
    import psutil

    from core.models.loading import estimated_bytes, get_model, load_model, require_memory, resolve

    loaded = get_model(tiny_any)
    assert estimated_bytes(loaded.config) == 4 * sum(p.numel() for p in loaded.model.parameters())
    monkeypatch.setattr(psutil, "virtual_memory", lambda: type("Memory", (), {"available": 10_000})())
    with pytest.raises(UserError, match=r"needs about 0\.0 GB to load \(0M parameters in float32\); this machine "
                                         r"has 0\.0 GB free"):
        require_memory(resolve(tiny_any), loaded.config)
    with pytest.raises(UserError, match="Pick a smaller model"):
        load_model(tiny_any)


def test_the_family_presets_and_org_ids_are_hub_ids():
    """"org/name" is a hub id (it used to be read as a folder and refused); a path written as one is not."""
    from core.models.loading import HUB_PRESETS, resolve

    for choice in ("bert-large-uncased", "distilroberta-base", "google/bert_uncased_L-4_H-256_A-4"):
        assert choice in HUB_PRESETS and resolve(choice).kind == "hub"
    assert resolve("prajjwal1/bert-tiny").kind == "hub"
    with pytest.raises(UserError, match="outside the model folders"):
        resolve("./prajjwal1/bert-tiny")


def test_a_saved_model_is_named_for_what_it_is(tmp_path):
    """The sidebar names the lab's from-scratch BERT as such, not as "fine-tuned"."""
    from core.models.saved import local_kind

    for record, kind in (("lab.json", "pretrained from scratch"), ("training.json", "fine-tuned"), (None, "your model")):
        folder = tmp_path / kind.replace(" ", "-")
        folder.mkdir()
        if record:
            (folder / record).write_text("{}")
        assert local_kind(folder) == kind
