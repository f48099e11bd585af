"""What an explanation explains: one probability, as a function of the text or of its embeddings.

Either a classifier's probability of one label, or the MLM head's probability of one word at the
sentence's `[MASK]`. Every explainer asks the same two questions of a target: "what is it for
these texts?" (occlusion, faithfulness, counterfactuals) and "what is it for these input
embeddings?" (gradients), so both live here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.errors import UserError
from core.explain.masked import fill_mask, mlm_head, require_mlm
from core.inputs.text import model_inputs

BATCH = 32


@dataclass(frozen=True)
class Target:
    """A classifier's label (kind "label", index = label id) or a word at the mask
    (kind "mask", index = vocabulary id)."""

    kind: str
    index: int
    name: str


def is_classifier(loaded) -> bool:
    return type(loaded.model).__name__.endswith("ForSequenceClassification")


def require_classifier(loaded) -> None:
    if not is_classifier(loaded):
        raise UserError(f"'{loaded.choice}' has no trained classification head, so it has no label to explain: "
                        "fine-tune one on the Fine-tuning page (or use a quick fine-tune), or explain a masked word.")


def label_names(loaded) -> list[str]:
    return [loaded.config.id2label[i] for i in range(loaded.config.num_labels)]


def label_target(loaded, label: str | None, predicted: str) -> Target:
    """The label to explain: `label` if given, else the predicted one."""
    names = label_names(loaded)
    label = predicted if label in (None, "") else label
    if label not in names:
        raise UserError(f"'{label}' is not one of this classifier's labels ({', '.join(names)}).")
    return Target("label", names.index(label), label)


def mask_target(loaded, word: str | None, top: list) -> Target:
    """The word at the mask to explain: `word` if given (one token of the vocabulary, or one of the
    model's guesses spelled as shown, like `##s`), else the top guess (`top`: masked.Prediction list)."""
    word = (word or "").strip()
    guesses: dict[str, int] = {}
    for p in top:
        guesses.setdefault(p.token.strip(), p.token_id)  # the likelier spelling wins (" good" before "good")
    if not word:
        return Target("mask", top[0].token_id, top[0].token.strip())
    if word in guesses:
        return Target("mask", guesses[word], word)
    # Byte-level BPE (RoBERTa) spells a word after a space as its own token: " nurse", not "nurse".
    spelling = f" {word}" if loaded.model_type == "roberta" else word
    ids = loaded.tokenizer(spelling, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise UserError(f"'{word}' is {len(ids)} tokens for this model, not one word of its vocabulary; "
                        f"try one of its own guesses: {', '.join(list(guesses)[:5])}.")
    return Target("mask", ids[0], word)


def choose_target(loaded, text: str, label: str | None = None, mask_word: str | None = None,
                  masked: bool = False) -> Target:
    """The target the user asked for, or else the model's own answer (predicted label, top guess),
    read on the text as it will be explained (cut to MAX_TOKENS)."""
    from core.explain.words import prepare_text

    cut = prepare_text(loaded, text).text
    if masked and loaded.tokenizer.mask_token not in cut and len(cut) < len(text.strip()):
        raise UserError("The [MASK] lies beyond the part of the text that is explained; shorten the text before it.")
    text = cut
    if masked:
        return mask_target(loaded, mask_word, fill_mask(loaded, text, top_k=10).predictions[0])
    require_classifier(loaded)
    probs = class_probabilities(loaded, [text])[0]
    return label_target(loaded, label, label_names(loaded)[int(probs.argmax())])


def _batches(loaded, texts: list[str], max_length: int):
    for start in range(0, len(texts), BATCH):
        batch = loaded.tokenizer(texts[start:start + BATCH], padding=True, truncation=True,
                                 max_length=max_length, return_tensors="pt")
        yield model_inputs(loaded, batch)


@torch.inference_mode()
def class_probabilities(loaded, texts: list[str], max_length: int | None = None) -> np.ndarray:
    """(len(texts), labels) softmax of a classifier, batched."""
    out = [loaded.model(**b).logits.float().softmax(-1).cpu().numpy()
           for b in _batches(loaded, texts, max_length or loaded.max_length)]
    return np.concatenate(out) if out else np.zeros((0, loaded.config.num_labels))


@torch.inference_mode()
def probabilities(loaded, target: Target, texts: list[str], max_length: int | None = None) -> np.ndarray:
    """The target's probability for each text (a text without its mask scores 0 for a mask target)."""
    if target.kind == "label":
        return class_probabilities(loaded, texts, max_length)[:, target.index]
    out = []
    for batch in _batches(loaded, texts, max_length or loaded.max_length):
        hidden = loaded.encoder(**batch).last_hidden_state
        rows, cols = (batch["input_ids"] == loaded.tokenizer.mask_token_id).nonzero(as_tuple=True)
        probs = torch.zeros(len(hidden), device=hidden.device)
        first = torch.ones_like(rows, dtype=torch.bool)
        first[1:] = rows[1:] != rows[:-1]  # the first mask of each row (a target text has one)
        probs[rows[first]] = mlm_head(loaded)(hidden[rows[first], cols[first]]).float().softmax(-1)[:, target.index]
        out.append(probs.cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def embedding_forward(loaded, target: Target, input_ids: torch.Tensor):
    """f(embeddings) -> the target's probability, batched over rows, for gradient explainers.

    The explained sentence is one unpadded segment, so no attention mask or segment ids are
    needed: a batch of interpolated embeddings is just that sentence seen many times.
    """
    if target.kind == "label":
        def forward(embeds):
            return loaded.model(inputs_embeds=embeds).logits.float().softmax(-1)[:, target.index]
        return forward
    require_mlm(loaded)
    position = int((input_ids[0] == loaded.tokenizer.mask_token_id).nonzero()[0, 0])

    def forward(embeds):
        hidden = loaded.encoder(inputs_embeds=embeds).last_hidden_state[:, position]
        return mlm_head(loaded)(hidden).float().softmax(-1)[:, target.index]
    return forward
