"""Next-sentence prediction, BERT's second pretraining game: does sentence B follow sentence A?

BERT read pairs [CLS] A [SEP] B [SEP]; half the time B was the real next sentence, half a random
one, and a small head on the [CLS] vector learned to tell them apart. DistilBERT and RoBERTa were
trained without this game; ALBERT played a different one (are A and B in the right order?).
"""
from __future__ import annotations

import torch

from core.errors import UserError
from core.explain.masked import pad_batch
from core.inputs.text import encode

# Ready pairs, each named for what a BERT should answer; tests/test_examples.py checks the embedded
# model answers each rightly. (A pair in the wrong order is no example: NSP's negatives were random
# sentences from other documents, so no BERT learned to spot order, and the embedded one does not.)
EXAMPLES = {
    "A true continuation": ("I went to the bakery this morning.", "They had just taken fresh bread out of the oven."),
    "A random sentence": ("I went to the bakery this morning.", "Penguins cannot fly, but they swim very well."),
    "A question and its answer": ("What is the capital of France?", "Paris is the capital of France."),
    "Another true continuation": ("He searched the whole house for his keys.", "He finally found them under the sofa."),
}


def require_nsp(loaded) -> None:
    if loaded.has_nsp:
        return
    why = {
        "distilbert": "DistilBERT was distilled without the next-sentence game",
        "roberta": "RoBERTa was pretrained without next-sentence prediction (its authors found it did not help)",
        "albert": "ALBERT learned sentence order (SOP: are A and B swapped?) instead of next-sentence prediction",
    }.get(loaded.model_type, "its next-sentence head was not trained")
    raise UserError(f"'{loaded.choice}' has no next-sentence (NSP) head: {why}. "
                    "Pick a BERT model such as bert-base-uncased.")


def _encode_pair(loaded, a: str, b: str):
    if not (a or "").strip() or not (b or "").strip():
        raise UserError("Type both sentence A and sentence B.")
    return encode(loaded, a, pair=b)


@torch.inference_mode()
def next_sentence_probabilities(loaded, pairs: list[tuple[str, str]], batch_size: int = 32) -> list[float]:
    """P(B follows A) for each pair, batched (index 0 of BERT's NSP logits means "is next")."""
    require_nsp(loaded)
    encodeds = [_encode_pair(loaded, a, b) for a, b in pairs]
    out: list[float] = []
    for start in range(0, len(encodeds), batch_size):
        inputs = pad_batch(loaded, encodeds[start:start + batch_size])
        logits = loaded.model(**inputs).seq_relationship_logits.float()
        out.extend(logits.softmax(-1)[:, 0].tolist())
    return out


def next_sentence_probability(loaded, a: str, b: str) -> tuple[float, str | None]:
    """P(B follows A), plus a truncation notice when the pair was too long to read whole."""
    notice = _encode_pair(loaded, a, b).notice
    return next_sentence_probabilities(loaded, [(a, b)])[0], notice
