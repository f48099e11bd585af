"""The proof that the from-scratch BERT is BERT: the same numbers as transformers, same inputs."""
from __future__ import annotations

import torch

from core.bert.model import Bert

# A padded batch: two lengths, and one sentence pair so that both segments are used.
PARITY_TEXTS = [
    ("The cat sat on the [MASK].", None),
    ("She went to the bank to get some money.", "The river bank was muddy after the rain."),
    ("Paris is the capital of France.", None),
]


def _max_diff(ours, theirs) -> float:
    return max(float((a - b).abs().max()) for a, b in zip(ours, theirs, strict=True))


def compare(loaded, inputs: dict, scratch: Bert, detail: bool = False) -> dict:
    """Max |from-scratch − transformers| on `inputs` (a tokenizer batch) for `loaded` (a LoadedModel).

    Hidden states are checked on both paths (fused SDPA and step by step; `detail` reports each);
    attentions and MLM logits on the step-by-step path (SDPA's ~4e-6 on hidden states grows
    through the vocabulary projection); MLM logits only with a trained MLM head (else None).
    """
    keys = ("input_ids", "attention_mask", "token_type_ids")
    args = {k: inputs[k] for k in keys if k in inputs}
    with torch.inference_mode():
        fast, _ = scratch(**args)
        slow, attentions = scratch(**args, output_attentions=True)
        ref = loaded.encoder(**args, output_attentions=True)
        result = {
            "max_abs_diff_hidden": _max_diff([fast, slow], [ref.last_hidden_state] * 2),
            "max_abs_diff_attention": _max_diff(attentions, ref.attentions),
            "max_abs_diff_mlm_logits": None,
        }
        if detail:
            result["max_abs_diff_hidden_step_by_step"] = _max_diff([slow], [ref.last_hidden_state])
            result["max_abs_diff_hidden_sdpa"] = _max_diff([fast], [ref.last_hidden_state])
        if loaded.has_mlm and scratch.mlm is not None:
            out = loaded.model(**args)
            ref_logits = out.prediction_logits if hasattr(out, "prediction_logits") else out.logits
            result["max_abs_diff_mlm_logits"] = _max_diff([scratch.mlm_logits(slow)], [ref_logits])
    return result


def parity_batch(loaded) -> dict:
    """PARITY_TEXTS as one padded batch of model inputs on the model's device."""
    mask = loaded.tokenizer.mask_token or "[MASK]"
    rows = [loaded.tokenizer(a.replace("[MASK]", mask), b) for a, b in PARITY_TEXTS]
    batch = loaded.tokenizer.pad(rows, return_tensors="pt")
    return {k: v.to(loaded.device) for k, v in batch.items()}
