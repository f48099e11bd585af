"""What the 'Inside BERT' page shows for one sentence: a trace, predictions, the live proof."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from core.bert.model import Bert, Trace
from core.bert.parity import compare
from core.inputs.text import encode

SLICE_WIDTH = 24  # hidden dimensions shown at once; BERT-base has 768


@dataclass
class Walkthrough:
    tokens: list[str]
    trace: Trace
    inputs: dict
    notice: str | None  # truncation notice for the user
    mask_token: str = "[MASK]"

    @property
    def mask_positions(self) -> list[int]:
        return [i for i, t in enumerate(self.tokens) if t == self.mask_token]

    def default_focus(self) -> int:
        """The first [MASK], else the first word after [CLS]."""
        return (self.mask_positions or [min(1, len(self.tokens) - 1)])[0]


def walk(loaded, scratch: Bert, text: str, pair: str | None = None, layer: int = 0,
         causal: bool = False) -> Walkthrough:
    """Encode the user's text and trace it through `scratch`, keeping every step of `layer`."""
    enc = encode(loaded, text, pair)
    args = {k: enc.inputs[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc.inputs}
    with torch.inference_mode():
        trace = scratch.trace(**args, layer=layer, causal=causal)
    return Walkthrough(enc.tokens, trace, args, enc.notice, loaded.tokenizer.mask_token or "[MASK]")


def proof(loaded, scratch: Bert, walkthrough: Walkthrough) -> dict:
    """The parity numbers on the user's own sentence (BERT's bidirectional mask)."""
    return compare(loaded, walkthrough.inputs, scratch, detail=True)


def top_predictions(loaded, scratch: Bert, hidden: torch.Tensor, position: int, k: int = 8) -> list[tuple[str, float]]:
    """[(token, probability)] of the MLM head at `position` of `hidden` (T, H), best first."""
    with torch.inference_mode():
        probs = scratch.mlm_logits(hidden[None, position : position + 1])[0, 0].softmax(-1)
        top = probs.topk(min(k, probs.numel()))
    words = loaded.tokenizer.convert_ids_to_tokens(top.indices.tolist())
    return list(zip(words, top.values.tolist()))


def relative_change(hidden_states: list[torch.Tensor]) -> torch.Tensor:
    """‖X_l − X_{l−1}‖ / ‖X_{l−1}‖ per layer and token  (L, T): how much each layer rewrites a token."""
    stacked = torch.stack(hidden_states)  # (L + 1, T, H)
    return (stacked[1:] - stacked[:-1]).norm(dim=-1) / stacked[:-1].norm(dim=-1)


def dim_window(total: int, start: int = 0, width: int = SLICE_WIDTH) -> slice:
    """Which hidden dimensions to show: `width` of them from `start`, kept inside [0, total)."""
    width = min(width, total)
    start = max(0, min(start, total - width))
    return slice(start, start + width)
