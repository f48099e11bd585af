"""Turning user text into model inputs the same way on every page, with honest truncation."""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from core.errors import UserError


@dataclass
class Encoded:
    """Model-ready tensors (batch of 1, on the model's device) plus what the user should know."""

    inputs: dict[str, torch.Tensor]
    tokens: list[str]
    truncated: bool
    n_tokens_before: int  # tokens the full text would need, specials included
    max_length: int
    encoding: object  # the tokenizer's BatchEncoding: word_ids(), sequence_ids(), offsets
    offsets: list[tuple[int, int]]  # characters of (the possibly cut) text each token stands for
    texts: tuple[str, str | None]  # the texts as tokenized (long pairs are cut first, see _cap_pair)

    @property
    def notice(self) -> str | None:
        if not self.truncated:
            return None
        return (f"Your text needs {self.n_tokens_before} tokens; this model reads at most "
                f"{self.max_length}, so everything after token {self.max_length} was cut off.")


def encode(loaded, text: str, pair: str | None = None, max_length: int | None = None) -> Encoded:
    """Tokenize `text` (and an optional second segment) for `loaded` (a core.models.loading.LoadedModel).

    Empty text raises UserError; text longer than the model's maximum is truncated and flagged.
    """
    text = (text or "").strip()
    pair = (pair or "").strip() or None
    if not text:
        raise UserError("Type a sentence first.")
    tok = loaded.tokenizer
    limit = min(max_length or loaded.max_length, loaded.max_length)
    if pair:
        text, pair, n_full = _cap_pair(tok, text, pair, limit)
    else:
        n_full = len(tok(text, add_special_tokens=True, truncation=False)["input_ids"])
    batch = tok(text, pair, truncation="longest_first" if pair else True, max_length=limit,
                return_tensors="pt", return_offsets_mapping=True, return_token_type_ids=True)
    offsets = [tuple(o) for o in batch.pop("offset_mapping")[0].tolist()]
    check_vocabulary(loaded, batch["input_ids"])
    inputs = model_inputs(loaded, batch)
    tokens = tok.convert_ids_to_tokens(inputs["input_ids"][0].tolist())
    return Encoded(inputs, tokens, n_full > limit, n_full, limit, batch, offsets, (text, pair))


def check_vocabulary(loaded, input_ids: torch.Tensor) -> None:
    """A UserError if the tokenizer made ids the model's embedding table does not have."""
    if int(input_ids.max()) >= loaded.config.vocab_size:
        raise UserError("This model's tokenizer and weights don't match: the tokenizer produced ids "
                        "beyond the model's vocabulary. Re-save the model with its own tokenizer.")


def model_inputs(loaded, batch) -> dict[str, torch.Tensor]:
    """A tokenizer's batch as the model takes it: on its device, without segment ids for the
    models that have no segment embeddings (DistilBERT, RoBERTa)."""
    if loaded.model_type in ("distilbert", "roberta"):
        batch.pop("token_type_ids", None)
    return {k: v.to(loaded.device) for k, v in batch.items()}


def _cut(text: str, offsets: list, index: int) -> tuple[str, int]:
    """`text` cut at the first space after token `index`, and how many tokens the cut keeps.

    Cutting at a space keeps every word before the cut split exactly as in the full text.
    """
    if index >= len(offsets):
        return text, len(offsets)
    end = offsets[index][1]
    space = re.search(r"\s", text[end:end + 200])
    cut = end + space.start() if space else end
    return text[:cut], sum(1 for start, _ in offsets if start < cut)


def _cap_pair(tokenizer, a: str, b: str, limit: int) -> tuple[str, str, int]:
    """Both texts cut to what pair truncation could keep, plus the full pair's token count.

    Pair truncation in the `tokenizers` library grows quadratically in memory with the inputs'
    length (huggingface/tokenizers#2035: two 5,000-word texts exhaust 8 GB), so a long pair is
    cut first. "longest_first" keeps the same tokens as long as each cut side stays longer than
    `limit` and the longer side stays the longer one (it gets the odd token), which is kept here.
    """
    spans = [tokenizer(t, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"] for t in (a, b)]
    n_a, n_b = len(spans[0]), len(spans[1])
    (a_cut, m_a), (b_cut, m_b) = _cut(a, spans[0], limit), _cut(b, spans[1], limit)
    if n_a > n_b and m_a <= m_b:
        a_cut, m_a = _cut(a, spans[0], m_b)
    elif n_a <= n_b and m_a > m_b:
        b_cut, m_b = _cut(b, spans[1], m_a)
    return a_cut, b_cut, n_a + n_b + tokenizer.num_special_tokens_to_add(pair=True)
