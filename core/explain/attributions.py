"""Why did the model say that? Five explainers of one probability, side by side, per word.

- **Integrated gradients** (Sundararajan et al. 2017): attribution_i = (x_i - b_i) . integral over
  a in [0, 1] of df/dx_i at b + a (x - b), on the word embeddings x (n, d), with a baseline b that
  puts `[PAD]` or `[MASK]` at every word. *Completeness*: the attributions sum to f(x) - f(b), so
  the gap between the two says whether `steps` was enough.
- **Gradient x input**: x_i . df/dx_i, the gradient at the sentence alone (one step from a zero
  baseline), so it says nothing about what happens once the probability has saturated.
- **Occlusion**: f(x) - f(x without word i), leaving one word out at a time.
- **Attention**: how much the last layer's `[CLS]` (or `[MASK]`) row attends to each word, averaged
  over heads; **rollout** (Abnar & Zuidema 2020) multiplies the layers' (A + I)/2 together.

Gradients come from Captum's `IntegratedGradients` / `InputXGradient` applied to the embeddings
passed as `inputs_embeds`. That is the same path integral as `LayerIntegratedGradients` on the
word-embedding layer (a test checks it) without its forward hook, which would change every other
session's forward pass through the model all the pages share while an explanation runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from captum.attr import InputXGradient, IntegratedGradients

from core.errors import UserError
from core.explain.attention import compute_attention, rollout
from core.explain.targets import Target, embedding_forward, probabilities
from core.explain.words import Words, prepare_text

METHODS = ("ig", "grad-input", "occlusion", "attention", "rollout")
TITLES = {"ig": "Integrated gradients", "grad-input": "Gradient × input", "occlusion": "Occlusion (leave one out)",
          "attention": "Last-layer attention", "rollout": "Attention rollout"}
BASELINES = ("pad", "mask")
MAX_STEPS = 1000
IG_ROWS = 2048  # tokens x interpolation steps per IG batch: bounds memory on long sentences


@dataclass(frozen=True)
class Completeness:
    """IG's own check: sum of attributions against f(x) - f(baseline)."""

    attribution_sum: float
    difference: float  # f(x) - f(baseline)

    @property
    def error(self) -> float:
        return abs(self.attribution_sum - self.difference)

    @property
    def gap(self) -> float:
        """The error as a fraction of |difference| (0.05 = 5%), with |difference| counted as at least
        0.01: when the baseline scores the same as the sentence, there is nothing to be complete about."""
        return self.error / max(abs(self.difference), 0.01)


@dataclass
class Explanation:
    model: str
    target: Target
    probability: float
    words: Words
    tokens: list[str]
    token_word: list[int | None]
    scores: dict[str, np.ndarray]  # method -> one score per word
    token_scores: dict[str, np.ndarray]  # method -> one score per token (occlusion: its word's, shared)
    completeness: Completeness | None = None
    fixed: frozenset = frozenset()  # words that are not evidence (the [MASK] being guessed)
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.words.text

    def to_json(self) -> dict:
        return {"model": self.model, "label": self.target.name, "probability": self.probability,
                "words": self.words.words,
                "methods": {m: [round(float(v), 6) for v in s] for m, s in self.scores.items()},
                "completeness_gap": None if self.completeness is None else round(self.completeness.gap, 6),
                "notes": self.notes}


def check_settings(steps: int, baseline: str, methods) -> None:
    if not 1 <= steps <= MAX_STEPS:
        raise UserError(f"Integrated gradients needs between 1 and {MAX_STEPS} steps (try 50).")
    if baseline not in BASELINES:
        raise UserError(f"The baseline must be one of {', '.join(BASELINES)}.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise UserError("Pick at least one explainer: " + ", ".join(f"{TITLES[m]} ({m})" for m in METHODS) + ".")


def per_word(token_scores: np.ndarray, token_word: list[int | None], n_words: int) -> np.ndarray:
    """Sum the scores of each word's tokens (a word split in three pieces gets all three)."""
    out = np.zeros(n_words)
    for score, word in zip(token_scores, token_word):
        if word is not None:
            out[word] += score
    return out


def _baseline_ids(loaded, ids: torch.Tensor, baseline: str, keep_mask: bool) -> torch.Tensor:
    """Every word token replaced by [PAD] or [MASK]; [CLS]/[SEP] (and the explained [MASK]) kept."""
    tok = loaded.tokenizer
    framing = torch.tensor([i in (tok.cls_token_id, tok.sep_token_id, tok.bos_token_id, tok.eos_token_id)
                            for i in ids[0].tolist()], device=ids.device)
    fill = tok.pad_token_id if baseline == "pad" else tok.mask_token_id
    out = ids.clone()
    out[0, ~framing] = fill
    if keep_mask:  # a masked-word target keeps its mask in the baseline
        out[ids == tok.mask_token_id] = tok.mask_token_id
    return out


def integrated_gradients(loaded, target: Target, ids: torch.Tensor, steps: int = 50,
                         baseline: str = "pad") -> tuple[np.ndarray, Completeness]:
    """Per-token IG attributions (summed over the embedding) and the completeness check."""
    forward = embedding_forward(loaded, target, ids)
    embed = loaded.model.get_input_embeddings()
    with torch.no_grad():
        x, b = embed(ids), embed(_baseline_ids(loaded, ids, baseline, target.kind == "mask"))
    per_batch = max(1, IG_ROWS // ids.shape[1])
    attributions = IntegratedGradients(forward).attribute(x, baselines=b, n_steps=steps, internal_batch_size=per_batch)
    with torch.no_grad():
        difference = float(forward(x) - forward(b))
    scores = attributions.sum(-1)[0].detach().float().cpu().numpy()
    return scores, Completeness(float(scores.sum()), difference)


def gradient_x_input(loaded, target: Target, ids: torch.Tensor) -> np.ndarray:
    forward = embedding_forward(loaded, target, ids)
    with torch.no_grad():
        x = loaded.model.get_input_embeddings()(ids)
    x.requires_grad_()
    return InputXGradient(forward).attribute(x).sum(-1)[0].detach().float().cpu().numpy()


def occlusion(loaded, target: Target, words: Words, full: float, keep: frozenset = frozenset()) -> np.ndarray:
    """f(x) - f(x without word i) for every word (words in `keep`, like the mask, score 0)."""
    candidates = [i for i in range(len(words)) if i not in keep]
    out = np.zeros(len(words))
    out[candidates] = full - probabilities(loaded, target, [words.without([i]) for i in candidates])
    return out


def attention_scores(loaded, text: str, row: int, n_tokens: int) -> dict[str, np.ndarray]:
    """Per-token attention of token `row` ([CLS] or the mask): last layer and rollout."""
    attn = compute_attention(loaded, text).attn
    if attn.shape[-1] != n_tokens:
        raise UserError("The attention view tokenised this text differently; shorten it and try again.")
    return {"attention": attn[-1].mean(0)[row], "rollout": rollout(attn)[-1, row]}


def explain(loaded, text: str, target: Target, methods=METHODS, steps: int = 50, baseline: str = "pad") -> Explanation:
    """Explain `target`'s probability on `text` with each method in `methods`."""
    check_settings(steps, baseline, methods)
    prepared = prepare_text(loaded, text)
    words, tokens, ids, token_word = prepared.words, prepared.tokens, prepared.ids, prepared.token_word
    mask_id = loaded.tokenizer.mask_token_id
    mask_words = frozenset()
    if target.kind == "mask":
        masks = int((ids == mask_id).sum())
        if masks == 0:
            raise UserError("The [MASK] lies beyond the part of the text that is explained; shorten the text before it.")
        if masks != 1:
            raise UserError("Explain one masked word at a time: write exactly one [MASK] in the sentence.")
        mask_words = frozenset(w for w, t in zip(token_word, ids[0].tolist()) if t == mask_id)
    full = float(probabilities(loaded, target, [words.text])[0])
    token_scores: dict[str, np.ndarray] = {}
    completeness = None
    if "ig" in methods:
        token_scores["ig"], completeness = integrated_gradients(loaded, target, ids, steps, baseline)
    if "grad-input" in methods:
        token_scores["grad-input"] = gradient_x_input(loaded, target, ids)
    scores = {m: per_word(s, token_word, len(words)) for m, s in token_scores.items()}
    if "occlusion" in methods:
        scores["occlusion"] = occlusion(loaded, target, words, full, mask_words)
        token_scores["occlusion"] = np.array([0.0 if w is None else scores["occlusion"][w] for w in token_word])
    if {"attention", "rollout"} & set(methods):
        row = 0 if target.kind == "label" else int((ids[0] == mask_id).nonzero()[0, 0])
        for name, s in attention_scores(loaded, words.text, row, len(tokens)).items():
            if name in methods:
                token_scores[name], scores[name] = s, per_word(s, token_word, len(words))
    for w in mask_words:  # the word being guessed is not evidence for itself
        for s in scores.values():
            s[w] = 0.0
    order = [m for m in METHODS if m in scores]
    return Explanation(loaded.choice, target, full, words, tokens, token_word, {m: scores[m] for m in order},
                       {m: token_scores[m] for m in order}, completeness, mask_words, prepared.notes)
