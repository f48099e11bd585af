"""Pretrain a tiny BERT from nothing, live: the lab page's job around `core.training.pretraining`.

It builds a randomly initialised `BertForPreTraining` of the chosen size (with the embedded
model's WordPiece vocabulary), trains it on masked words + next-sentence prediction with
`core.training.pretraining.train`, reports every step and, every few steps, what it now guesses for a few
masked sentences, so a learner watches "the" give way to real words. The result is saved as a
model folder under runs/ (written under runs/.partial and renamed once complete), which the
sidebar then offers like any other model.
"""
from __future__ import annotations

import functools
import os
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import UserError

MAX_UPLOAD_BYTES = 5 * 2**20
UPLOAD_PREFIX = "bert-lab-upload-"  # such files are deleted once read
DEFAULT_SAMPLES = (
    "A dog is a [MASK] of the genus Canis.",
    "To walk means to use one's [MASK] to move.",
    "Red means having the [MASK] of blood.",
    "A teacher is a person whose job is to [MASK] people.",
)


@dataclass
class ScratchSpec:
    """Size and budget of a from-scratch run; the defaults finish in a few minutes on 2 CPU cores."""

    layers: int = 2
    hidden: int = 64
    heads: int = 2
    steps: int = 300
    batch_size: int = 16
    max_length: int = 64
    lr: float = 1e-3
    corpus: str = "wordnet"  # wordnet | text:PATH
    max_documents: int = 3000
    sample_every: int = 25
    eval_every: int = 50
    seed: int = 0

    def approx_parameters(self, vocab_size: int) -> int:
        """Embedding table + ~12 h^2 per layer (attention 4 h^2, feed-forward 8 h^2): what the page quotes."""
        return vocab_size * self.hidden + self.layers * 12 * self.hidden ** 2

    def validate(self) -> None:
        checks = [
            (1 <= self.layers <= 12, "Layers must be between 1 and 12."),
            (16 <= self.hidden <= 768, "The hidden size must be between 16 and 768."),
            (1 <= self.heads <= 12 and self.hidden % self.heads == 0,
             f"The number of heads must divide the hidden size ({self.hidden})."),
            (1 <= self.steps <= 100_000, "Steps must be between 1 and 100,000."),
            (1 <= self.batch_size <= 256, "Batch size must be between 1 and 256."),
            (16 <= self.max_length <= 512, "Max length must be between 16 and 512 tokens."),
            (0 < self.lr < 1, "The learning rate must be between 0 and 1 (try 1e-3)."),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)


def save_upload(data: bytes, folder: Path | None = None) -> str:
    """A user's .txt upload as a `text:PATH` corpus, after the size and encoding checks."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserError(f"The text file is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError("The text file is not UTF-8 text.") from err
    handle, path = tempfile.mkstemp(prefix=UPLOAD_PREFIX, suffix=".txt", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write(text)
    return f"text:{path}"


def documents(spec: ScratchSpec):
    """(training, held-out) documents, capped at `spec.max_documents`; refuses a corpus too small for NSP."""
    from core.inputs.corpus import load_documents, split_documents

    try:
        docs = [d for d in load_documents(spec.corpus) if len(d) >= 2]
    finally:
        path = Path(spec.corpus.removeprefix("text:"))
        if spec.corpus.startswith("text:") and path.name.startswith(UPLOAD_PREFIX):
            path.unlink(missing_ok=True)
    if len(docs) < 4:
        raise UserError("The text needs at least 4 paragraphs (separated by blank lines) of 2 or more sentences: "
                        "next-sentence prediction pairs a sentence with the one that follows it.")
    random.Random(spec.seed).shuffle(docs)
    docs = docs[:spec.max_documents]
    train, held = split_documents(docs, held_out=0.05, seed=spec.seed)
    return train, held or train[:1]


@functools.cache
def vocabulary_size() -> int:
    """Pieces in the lab's vocabulary (the embedded model's vocab.txt, one piece a line)."""
    from core.models.embedded import encoder_path

    with open(encoder_path() / "vocab.txt", encoding="utf-8") as f:
        return sum(1 for _ in f)


def tokenizer():
    """The embedded model's 30,522-piece uncased WordPiece vocabulary (offline)."""
    from transformers import AutoTokenizer

    from core.models.embedded import encoder_path

    return AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)


def _samples(model, tok, sentences: list[str], k: int = 3) -> list[dict]:
    """Top-k guesses per mask with `core.explain.masked` (model temporarily in eval mode)."""
    import torch

    from core.explain.masked import fill_mask
    from core.models.loading import LoadedModel

    was_training = model.training
    model.eval()
    loaded = LoadedModel("training", "local", tok, model, True, True, torch.device("cpu"))
    rows = []
    with torch.no_grad():
        for sentence in sentences:
            result = fill_mask(loaded, sentence, top_k=k)
            rows.append({"sentence": sentence, "guesses": [[(p.token, round(p.score, 4)) for p in preds]
                                                           for preds in result.predictions]})
    model.train(was_training)
    return rows


def check_samples(sentences: list[str]) -> list[str]:
    cleaned = [s.strip() for s in sentences if s.strip()]
    if not cleaned:
        return list(DEFAULT_SAMPLES)
    missing = [s for s in cleaned if "[mask]" not in s.lower()]
    if missing:
        raise UserError(f"Every sample sentence needs a [MASK]; this one has none: {missing[0][:80]}")
    return cleaned[:6]


def pretrain(spec: ScratchSpec, reporter, samples: list[str] | None = None,
             out_dir: Path | str | None = None) -> dict:
    """Train a tiny BERT from random weights; report steps, held-out scores and mask guesses; save it.

    Events: type="start" (parameters, documents), "step" (step, mlm_loss, nsp_loss, mlm_acc,
    nsp_acc), "eval" (held-out step, mlm_loss, nsp_loss, mlm_acc, nsp_acc), "samples" (step, rows).
    Cancelling (reporter.check_cancelled raising) stops it with nothing saved.
    """
    import torch
    from transformers import BertForPreTraining

    from core.training import pretraining as P
    from core.training.config import PretrainConfig

    from core.training import pretrain_data as D
    spec.validate()
    sentences = check_samples(samples or [])
    reporter.report(0.0, "Reading and tokenizing the text…")
    train_docs, held_docs = documents(spec)
    tok = tokenizer()
    train_ids = D.tokenize_documents(train_docs, tok)
    held_ids = D.tokenize_documents(held_docs, tok)
    torch.manual_seed(spec.seed)
    model = BertForPreTraining(P.small_bert_config(len(tok), spec.hidden, spec.layers, spec.heads, spec.max_length))
    cfg = PretrainConfig(mode="scratch", steps=spec.steps, batch_size=spec.batch_size,
                           max_length=spec.max_length, lr=spec.lr, seed=spec.seed)
    model = P.prepare_model(model, cfg)
    n_params = sum(p.numel() for p in model.parameters())
    reporter.report(0.0, f"Training {n_params / 1e6:.1f}M parameters on {len(train_ids)} documents…",
                    type="start", parameters=n_params, documents=len(train_ids), steps=spec.steps)
    reporter.report(0.0, None, type="samples", step=0, rows=_samples(model, tok, sentences))
    started = time.perf_counter()
    last_eval: dict = {}

    def on_step(stats):
        reporter.check_cancelled()
        reporter.report(stats.step / spec.steps,
                        f"Step {stats.step}/{spec.steps} · MLM loss {stats.mlm_loss:.2f} · NSP accuracy {stats.nsp_acc:.0%}",
                        type="step", **asdict(stats))
        if stats.step % spec.sample_every == 0 or stats.step == spec.steps:
            reporter.report(None, None, type="samples", step=stats.step, rows=_samples(model, tok, sentences))

    def on_eval(step, result):
        last_eval.update(result, step=step)
        reporter.report(None, None, type="eval", step=step, **result)

    history = P.train(model, tok, train_ids, cfg, on_step=on_step, eval_docs=held_ids,
                      eval_every=spec.eval_every, on_eval=on_eval)
    reporter.check_cancelled()
    summary = {"spec": asdict(spec), "parameters": n_params, "train_s": round(time.perf_counter() - started, 1),
               "first": asdict(history[0]) if history else None, "last": asdict(history[-1]) if history else None,
               "held_out": last_eval, "out": None}
    if out_dir is not None:
        from core.models.saved import save_folder

        reporter.report(1.0, "Saving…")
        summary["out"] = str(save_folder(P.bert_of(model), tok, out_dir, summary, "lab.json"))
    return summary
