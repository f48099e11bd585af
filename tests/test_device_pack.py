"""The device run's pack: the corpus unpacks to the same token ids, the pack fits the device's 64 MiB
with the code, and the training script runs end to end on a CPU (the dry run)."""
from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess

import pytest

from conftest import ROOT
from core.training.device_pack import LIMIT, load_pack, pack, pack_bytes, pack_corpus, unpack_corpus


def random_sources(rng: random.Random):
    def doc():
        return [[rng.randrange(30522) for _ in range(rng.randint(1, 40))] for _ in range(rng.randint(1, 9))]

    return [([doc() for _ in range(rng.randint(3, 30))], [doc() for _ in range(rng.randint(0, 4))], times)
            for times in (1, 4, 2)]


def test_packed_corpus_unpacks_to_the_same_ids_and_repeats_share_documents(tmp_path):
    sources = random_sources(random.Random(0))
    pack_corpus(tmp_path / "corpus.npz", sources)
    docs, held, groups = unpack_corpus(tmp_path / "corpus.npz")
    assert docs == [d for train, _h, times in sources for d in train * times]
    assert held == [d for _t, h, _times in sources for d in h]
    assert groups == [g for g, (train, _h, times) in enumerate(sources) for _ in range(len(train) * times)]
    second = len(sources[0][0])  # source 1's documents, four times: the same objects (never paired with themselves)
    n = len(sources[1][0])
    assert docs[second] is docs[second + n] is docs[second + 3 * n]


def tree_bytes() -> int:
    """What the device call sends besides the pack: the tracked files."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True).stdout.split("\0")
    return sum((ROOT / f).stat().st_size for f in files if f and (ROOT / f).is_file())


@pytest.fixture(scope="module")
def wordnet_pack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pack")
    return folder, pack(folder, "wordnet")


def test_a_wordnet_pack_fits_with_the_code_and_matches_the_pretraining_data(wordnet_pack):
    from core.inputs.corpus import load_sources
    from core.training.pretraining import token_documents

    folder, found = wordnet_pack
    assert found["bytes"] == pack_bytes(folder) and found["bytes"] + tree_bytes() < LIMIT
    assert 40 * 2**20 < found["files"]["encoder.safetensors"] < 50 * 2**20  # 22.7M parameters in fp16
    tokenizer, model = load_pack(folder)
    assert model.cls.predictions.decoder.weight.data_ptr() == model.bert.embeddings.word_embeddings.weight.data_ptr()
    docs, held, groups = unpack_corpus(folder / "corpus.npz")
    expected = token_documents(load_sources("wordnet"), tokenizer)
    assert (docs, held, groups) == expected


def test_the_dry_run_trains_checkpoints_and_reports_speed(wordnet_pack, tmp_path):
    # 18 s of budget: at least 5 steps even on a busy 2-core machine (6 s gave only 2 under a loaded CI run).
    spec = importlib.util.spec_from_file_location("device_pretrain", ROOT / "bench" / "device_pretrain.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    args = argparse.Namespace(pack=wordnet_pack[0], out=tmp_path, resume=ROOT / "core/assets/embedded/adapter.safetensors",
                              minutes=0.3, batch_size=4, max_length=32, short_seq_prob=0.3, lr=1e-4, warmup=0.06,
                              workers=1, eval_every=5, log_every=5, checkpoint_every_s=1.0, bf16=False, seed=0)
    summary = script.train(args)
    assert summary["steps"] >= 5 and summary["from_step"] == 17689 and summary["to_step"] == 17689 + summary["steps"]
    assert summary["steps_per_s"] > 0 and summary["tokens_per_s"] > 0 and summary["held_out"]
    assert json.loads((tmp_path / "summary.json").read_text())["steps"] == summary["steps"]
    from core.training import pretraining as P
    from core.training.config import PretrainConfig

    _tok, fresh = load_pack(wordnet_pack[0])
    fresh = P.prepare_model(fresh, PretrainConfig(lora_rank=64, lora_alpha=128))
    for name in ("last.safetensors", "best.safetensors"):
        assert P.load_trainable(fresh, tmp_path / name) > 17689
