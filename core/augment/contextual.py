"""BERT as an augmenter, batched: mask a share of the words of many sentences, fill them in one pass.

nlpaug's own ContextualWordEmbsAug runs one sentence (and one word) at a time; here every mask of
a batch of sentences is predicted in one forward pass, as in BERT's pretraining.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from core.explain.masked import mask_logits


_WORD = re.compile(r"[^\W\d_]+")  # letters only: what the contextual augmenter may replace


_PIECE = re.compile(r"\s+|[^\W\d_]+|\d+|[^\w\s]|_")  # whitespace, words, numbers, punctuation


DEFAULT_STRENGTH = 0.2


def seed_for(seed: int, row: int, variation: int) -> int:
    """One seed per (run seed, row, variation): the same output whatever the batch or thread."""
    return int(np.random.SeedSequence([seed, row, variation]).generate_state(1)[0])


_word_vocab_cache: dict[int, tuple[torch.Tensor, list[str]]] = {}


def word_vocabulary(loaded) -> tuple[torch.Tensor, list[str]]:
    """(mask over the model's vocabulary, word per id): which predictions are whole real words.

    Special tokens, [UNK], WordPiece continuations (##ing), BPE/SentencePiece pieces that do not
    start a word, punctuation and numbers are all excluded.
    """
    key = id(loaded.tokenizer)
    if key not in _word_vocab_cache:
        tok = loaded.tokenizer
        size = loaded.config.vocab_size
        tokens = tok.convert_ids_to_tokens(list(range(min(size, len(tok)))))
        marker = {"roberta": "Ġ", "albert": "▁"}.get(loaded.model_type)
        special = set(tok.all_special_tokens)
        allowed = torch.zeros(size, dtype=torch.bool)
        words = [""] * size
        for i, t in enumerate(tokens):
            if t is None or t in special:
                continue
            if marker:
                if not t.startswith(marker):
                    continue
                t = t[len(marker):]
            if len(t) > 1 and t.isalpha():
                allowed[i], words[i] = True, t
        _word_vocab_cache[key] = (allowed, words)
    return _word_vocab_cache[key]


def _match_case(word: str, original: str) -> str:
    if original.isupper() and len(original) > 1:
        return word.upper()
    if original[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


@dataclass
class _Item:
    """One variation of one text, its mask slots, and its own random generator."""

    pieces: list[str]
    slots: list[int]  # indices in `pieces` that hold a mask
    originals: list[str]  # the word each slot replaced ("" for an insertion)
    rng: np.random.Generator


def _plan(text: str, action: str, strength: float, rng: np.random.Generator, mask: str) -> _Item:
    """Choose which words to mask (substitute) or where to add a mask (insert)."""
    pieces = _PIECE.findall(text)
    word_idx = [i for i, p in enumerate(pieces) if _WORD.fullmatch(p)]
    if not word_idx:
        return _Item(pieces, [], [], rng)
    k = min(len(word_idx), max(1, int(np.ceil(strength * len(word_idx)))))
    chosen = sorted(rng.choice(word_idx, size=k, replace=False).tolist())
    if action == "substitute":
        originals = [pieces[i] for i in chosen]
        for i in chosen:
            pieces[i] = mask
        return _Item(pieces, chosen, originals, rng)
    slots = []
    for shift, i in enumerate(chosen):  # insert " [MASK]" after each chosen word
        at = i + 1 + 2 * shift
        pieces[at:at] = [" ", mask]
        slots.append(at + 1)
    return _Item(pieces, slots, [""] * len(slots), rng)


def contextual_augment(loaded, texts: list[str], action: str = "substitute", n: int = 1,
                       strength: float = DEFAULT_STRENGTH, seed: int = 0, top_k: int = 10,
                       batch_size: int = 32, progress: Callable[[int, int], None] | None = None,
                       first_row: int = 0) -> list[list[str]]:
    """BERT-style augmentation, batched: mask ~`strength` of the words and sample replacements.

    All masks of a sentence are predicted in one forward pass, as in BERT's pretraining (15% of
    tokens masked at once). Each mask is filled by sampling from the top-`top_k` whole words the
    MLM head proposes (never the original word, a special token or a subword piece). Masks that
    fall beyond the model's maximum length are put back as they were.
    """
    if action not in ("substitute", "insert"):
        raise ValueError(action)
    tok = loaded.tokenizer
    allowed, words = word_vocabulary(loaded)
    allowed = allowed.to(loaded.device)
    items = [_plan(text, action, strength, np.random.default_rng(seed_for(seed, first_row + r, v)),
                   tok.mask_token)
             for r, text in enumerate(texts) for v in range(n)]
    order = sorted(range(len(items)), key=lambda i: len(items[i].pieces))
    done = 0
    for start in range(0, len(order), batch_size):
        batch = [items[i] for i in order[start:start + batch_size] if items[i].slots]
        if batch:
            _fill(loaded, batch, allowed, words, top_k)
        done += len(order[start:start + batch_size])
        if progress:
            progress(done // n, len(texts))
    outputs = ["".join(item.pieces) for item in items]
    return [outputs[r * n:(r + 1) * n] for r in range(len(texts))]


@torch.no_grad()
def _fill(loaded, batch: list[_Item], allowed, words, top_k: int) -> None:
    tok = loaded.tokenizer
    enc = tok(["".join(it.pieces) for it in batch], padding=True, truncation=True,
              max_length=loaded.max_length, return_tensors="pt")
    inputs = {k: enc[k].to(loaded.device) for k in ("input_ids", "attention_mask")}
    rows, cols = (inputs["input_ids"] == tok.mask_token_id).nonzero(as_tuple=True)
    logits = mask_logits(loaded, inputs, rows, cols)
    logits = logits.masked_fill(~allowed[: logits.shape[-1]], float("-inf"))
    row_list = rows.tolist()
    for b, item in enumerate(batch):
        found = [j for j, r in enumerate(row_list) if r == b]
        # A slot's place among all masks in the text (a user may have typed a mask token too).
        ordinals = ["".join(item.pieces[:slot]).count(tok.mask_token) for slot in item.slots]
        for slot_no, slot, original in zip(ordinals, item.slots, item.originals):
            if slot_no >= len(found):  # cut off by truncation: leave the text as it was
                _restore(item, slot, original)
                continue
            scores = logits[found[slot_no]].clone()
            if original:
                for tid in tok.convert_tokens_to_ids(_spellings(original, loaded.model_type)):
                    if tid is not None and 0 <= tid < scores.shape[0] and tid != tok.unk_token_id:
                        scores[tid] = float("-inf")
            top = torch.topk(scores, min(top_k, scores.shape[0]))
            ok = torch.isfinite(top.values)
            probs = torch.softmax(top.values[ok], dim=0).cpu().numpy().astype(np.float64)
            if probs.size == 0:  # a vocabulary with no whole words to offer
                _restore(item, slot, original)
                continue
            pick = int(top.indices[ok][item.rng.choice(len(probs), p=probs / probs.sum())])
            item.pieces[slot] = _match_case(words[pick], original) if original else words[pick]


def _restore(item: _Item, slot: int, original: str) -> None:
    """Undo one mask: put the word back (substitute) or drop the mask and its space (insert)."""
    item.pieces[slot] = original
    if not original:
        item.pieces[slot - 1] = ""


def _spellings(word: str, model_type: str) -> list[str]:
    """The vocabulary entries that would spell `word` again (so substitution always changes it)."""
    marker = {"roberta": "Ġ", "albert": "▁"}.get(model_type, "")
    forms = {word, word.lower(), word.capitalize()}
    return [marker + f for f in forms]
