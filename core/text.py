"""Turning user text into model inputs the same way on every page, with honest truncation."""
from __future__ import annotations

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

    @property
    def notice(self) -> str | None:
        if not self.truncated:
            return None
        return (f"Your text needs {self.n_tokens_before} tokens; this model reads at most "
                f"{self.max_length}, so everything after token {self.max_length} was cut off.")


def encode(loaded, text: str, pair: str | None = None, max_length: int | None = None) -> Encoded:
    """Tokenize `text` (and an optional second segment) for `loaded` (a core.models.LoadedModel).

    Empty text raises UserError; text longer than the model's maximum is truncated and flagged.
    """
    text = (text or "").strip()
    pair = (pair or "").strip() or None
    if not text:
        raise UserError("Type a sentence first.")
    tok = loaded.tokenizer
    limit = min(max_length or loaded.max_length, loaded.max_length)
    full = tok(text, pair, add_special_tokens=True, truncation=False)["input_ids"]
    batch = tok(text, pair, truncation="longest_first" if pair else True, max_length=limit,
                return_tensors="pt")
    if loaded.model_type in ("distilbert", "roberta"):  # these models have no segment embeddings
        batch.pop("token_type_ids", None)
    inputs = {k: v.to(loaded.device) for k, v in batch.items()}
    tokens = tok.convert_ids_to_tokens(inputs["input_ids"][0].tolist())
    return Encoded(inputs, tokens, len(full) > limit, len(full), limit)
