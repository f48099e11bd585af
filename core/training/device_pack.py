"""The embedded model's pretraining, packed for a GPU machine that has torch but none of our data.

A lent GPU comes bare (torch, transformers, peft, no network, no pip package of ours) and takes
at most 64 MiB with the code. The pack is one folder:

- `encoder.safetensors`: all-MiniLM-L6-v2's weights (encoder, pooler, embeddings) in fp16,
  45 MB — the pip package that ships them is not there;
- `config.json` and the tokenizer files;
- `corpus.npz`: every document of every training source as token ids, uint16, compressed, with
  the sentence lengths, sentences per document, each document's source, whether it is held out,
  and each source's repeat count (`*N`).

The shipped adapter (core/assets/embedded/adapter.safetensors) travels in the code tree, so the
run resumes from it. `bench/device_pretrain.py` builds the pack and runs the training.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.errors import UserError

LIMIT = 64 * 2**20  # what travels to the device machine, code tree included
CORPUS = "corpus.npz"
ENCODER = "encoder.safetensors"


def pack_corpus(path: Path, sources: list[tuple[list, list, int]]) -> None:
    """Write `sources` — per source (training documents, held-out documents, repeats), documents
    as lists of sentences of token ids — as compressed arrays."""
    sentences, doc_sizes, doc_source, doc_held, repeats = [], [], [], [], []
    for g, (train, held, times) in enumerate(sources):
        repeats.append(times)
        for is_held, docs in ((False, train), (True, held)):
            for doc in docs:
                sentences += doc
                doc_sizes.append(len(doc))
                doc_source.append(g)
                doc_held.append(is_held)
    vocab_max = max((max(s) for s in sentences if s), default=0)
    if vocab_max >= 2**16:
        raise UserError(f"Token id {vocab_max} does not fit the pack's uint16 ids.")
    np.savez_compressed(
        path, ids=np.fromiter((t for s in sentences for t in s), dtype=np.uint16),
        sentence_lengths=np.asarray([len(s) for s in sentences], dtype=np.uint32),
        doc_sizes=np.asarray(doc_sizes, dtype=np.uint32), doc_source=np.asarray(doc_source, dtype=np.uint16),
        doc_held=np.asarray(doc_held, dtype=bool), repeats=np.asarray(repeats, dtype=np.uint16))


def unpack_corpus(path: Path) -> tuple[list, list, list[int]]:
    """(training documents with repeats, held-out documents, each training document's source): what
    `core.training.pretraining.token_documents` gives, read back from the pack."""
    data = np.load(path)
    ids = data["ids"].astype(np.int64).tolist()
    cuts = np.concatenate([[0], np.cumsum(data["sentence_lengths"], dtype=np.int64)]).tolist()
    sentences = [ids[a:b] for a, b in zip(cuts, cuts[1:])]
    per_source: dict[int, tuple[list, list]] = {}
    start = 0
    for size, source, held in zip(data["doc_sizes"].tolist(), data["doc_source"].tolist(), data["doc_held"].tolist()):
        per_source.setdefault(source, ([], []))[1 if held else 0].append(sentences[start:start + size])
        start += size
    docs, held_docs, groups = [], [], []
    for source, times in enumerate(data["repeats"].tolist()):
        train, held = per_source.get(source, ([], []))
        docs += train * times  # the same list objects, as token_documents repeats them
        groups += [source] * (len(train) * times)
        held_docs += held
    return docs, held_docs, groups


def pack(out: Path, source: str, seed: int = 0) -> dict:
    """Build the pack for `source` (core.inputs.corpus syntax) under `out`; returns its sizes."""
    from safetensors.torch import save_file

    from core.inputs.corpus import load_sources
    from core.models.embedded import load_embedded
    from core.training.pretrain_data import tokenize_documents
    from core.training.pretraining import split_sources

    tokenizer, model, _ = load_embedded(adapter=None)
    out.mkdir(parents=True, exist_ok=True)
    split = split_sources(load_sources(source), seed)
    pack_corpus(out / CORPUS, [(tokenize_documents(t, tokenizer), tokenize_documents(h, tokenizer), times)
                               for t, h, times in split])
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
             if k.startswith("bert.")}
    save_file(state, str(out / ENCODER), metadata={"source": source, "seed": str(seed)})
    model.config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"files": {f.name: f.stat().st_size for f in sorted(out.iterdir())}, "bytes": pack_bytes(out)}


def pack_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def load_pack(folder: Path):
    """(tokenizer, BertForPreTraining with the pack's encoder weights in fp32, heads untrained)."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertConfig, BertForPreTraining

    folder = Path(folder)
    if not (folder / ENCODER).is_file():
        raise UserError(f"{folder} is not a pack: build one with `python bench/device_pretrain.py pack`.")
    config = BertConfig.from_pretrained(folder)
    config._attn_implementation = "eager"
    model = BertForPreTraining(config)
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in load_file(str(folder / ENCODER)).items()},
                                                strict=False)
    if unexpected or any(k.startswith("bert.") for k in missing):
        raise UserError(f"The pack's encoder does not fit BERT: {(unexpected or missing)[:3]}")
    model.tie_weights()  # the MLM decoder reads the word embeddings
    return AutoTokenizer.from_pretrained(folder), model.eval()
