"""Masked-word prediction, BERT's first pretraining game, made inspectable.

Everything here runs the encoder once and applies the MLM head only at the positions asked for:
the head is a hidden -> vocabulary projection, by far the largest matrix product in a small BERT,
so computing it for masks only (not every token, as `BertForMaskedLM` does) is what makes the
batched fill-mask faster than `transformers.pipeline("fill-mask")` with identical probabilities.

Beyond the pipeline: several masks decoded *jointly* (beam search, most-confident mask first,
chain-rule probabilities; transformers #3609, #10158), per-token surprisal (mask each token in
turn), whole-word masking, and the logit lens (the head applied to every layer's hidden state).
"""
from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field, replace
from weakref import WeakKeyDictionary

import torch

from core.errors import UserError
from core.explain.batching import Batcher
from core.inputs.examples import FILL_MASK, with_mask
from core.inputs.text import Encoded, encode

MAX_MASKS = 20  # independent top-k; beyond this the sentence is mostly holes
MAX_JOINT_MASKS = 10  # joint decoding runs one forward pass per mask and beam
MAX_SURPRISAL_TOKENS = 128  # one forward pass per token: keep a pasted essay from taking minutes
_MASK_SPELLINGS = re.compile(r"\[mask\]|<mask>", re.IGNORECASE)


@dataclass
class Prediction:
    """One candidate for a mask: the vocabulary entry and the probability the model gives it."""

    token: str  # as transformers' fill-mask pipeline shows it: tokenizer.decode([token_id])
    score: float
    token_id: int

    def to_json(self) -> dict:
        return {"token": self.token, "score": self.score}


@dataclass
class Masked:
    """A sentence ready for the model, with where its masks are and what the user should know."""

    encoded: Encoded
    positions: list[int]  # token positions of the masks, in order
    notes: list[str] = field(default_factory=list)

    @property
    def input_ids(self) -> torch.Tensor:
        return self.encoded.inputs["input_ids"]


@dataclass
class FillResult:
    """Top-k predictions for every mask of one sentence."""

    model: str
    masked: Masked
    predictions: list[list[Prediction]]
    filled: str  # the sentence with every mask replaced by its best guess

    def to_json(self) -> dict:
        return {"model": self.model, "masks": [[p.to_json() for p in preds] for preds in self.predictions]}


@dataclass
class Completion:
    """One way to fill all masks at once, with its chain-rule joint probability."""

    tokens: list[Prediction]  # one per mask, in sentence order; score = its conditional probability
    joint: float
    order: list[int]  # mask indices in the order they were filled
    text: str


@dataclass
class TokenSurprise:
    """How expected one token is: the probability the model gives the original when it is masked."""

    position: int
    token: str
    token_id: int
    probability: float
    rank: int  # 1 = the model's first guess was the original token
    top: list[Prediction]


@dataclass
class LensStep:
    """The MLM head's reading of one layer's hidden state at a mask."""

    layer: int  # 0 = embeddings, i = after layer i
    top: list[Prediction]
    final_probability: float  # probability of the last layer's first choice, at this layer


def require_mlm(loaded) -> None:
    """Refuse honestly: an untrained head would print confident garbage."""
    if not loaded.has_mlm:
        raise UserError(
            f"'{loaded.choice}' has no trained masked-word (MLM) head, so it cannot guess hidden "
            "words; pick a model that has one (bert-base-uncased, distilbert-base-uncased, roberta-base…)."
        )


def normalize_masks(loaded, text: str) -> tuple[str, list[str]]:
    """Accept `[MASK]`, `<mask>` or the model's own token; rewrite to the model's and say so."""
    own = loaded.tokenizer.mask_token
    foreign = sorted({m for m in _MASK_SPELLINGS.findall(text) if m != own})
    text = _MASK_SPELLINGS.sub(lambda m: own, text)
    if not foreign:
        return text, []
    typed = ", ".join(f"`{m}`" for m in foreign)
    return text, [f"This model writes its mask as `{own}`; your {typed} was read as `{own}`."]


def prepare(loaded, text: str) -> Masked:
    """Encode a sentence with masks, refusing inputs that cannot give a meaningful answer."""
    require_mlm(loaded)
    if not (text or "").strip():
        raise UserError("Type a sentence with [MASK] where a word should be guessed.")
    text, notes = normalize_masks(loaded, text)
    own = loaded.tokenizer.mask_token
    typed = text.count(own)
    if typed == 0:
        raise UserError(f"Your sentence has no mask: write [MASK] where a word should be guessed "
                        f"(e.g. '{with_mask(FILL_MASK, own)}').")
    encoded = encode(loaded, text)
    positions = _mask_positions(loaded, encoded.inputs["input_ids"][0])
    if len(positions) < typed:
        raise UserError(f"{typed - len(positions)} of your {typed} masks lie beyond token "
                        f"{encoded.max_length}, the most this model reads; shorten the text before them.")
    if len(positions) > MAX_MASKS:
        raise UserError(f"Your sentence has {len(positions)} masks; at most {MAX_MASKS} at once, "
                        "so that the model still sees enough words to go on.")
    if all(i in _structural_ids(loaded) for i in encoded.inputs["input_ids"][0].tolist()):
        raise UserError("The sentence is only masks: add some words around them so the model "
                        "has context to guess from.")
    if encoded.notice:
        notes.append(encoded.notice)
    return Masked(encoded, positions, notes)


def with_masks(loaded, text: str, positions: list[int]) -> Masked:
    """The sentence with the tokens at `positions` replaced by the mask (click to mask)."""
    require_mlm(loaded)
    encoded = encode(loaded, text)
    ids = encoded.inputs["input_ids"].clone()
    structural = _structural_ids(loaded)
    for pos in positions:
        if not 0 <= pos < ids.shape[1] or ids[0, pos].item() in structural:
            raise UserError(f"Token {pos} is not a word of the sentence, so it cannot be masked.")
    ids[0, positions] = loaded.tokenizer.mask_token_id
    masked_inputs = {**encoded.inputs, "input_ids": ids}
    tokens = loaded.tokenizer.convert_ids_to_tokens(ids[0].tolist())
    masked = replace(encoded, inputs=masked_inputs, tokens=tokens)
    return Masked(masked, sorted(positions), [encoded.notice] if encoded.notice else [])


def word_spans(loaded, text: str) -> list[list[int]]:
    """Token positions grouped by word, so a word WordPiece splits can be masked whole."""
    text = (text or "").strip()
    if not text:
        raise UserError("Type a sentence first.")
    enc = loaded.tokenizer(text, truncation=True, max_length=loaded.max_length)  # as core.inputs.text.encode
    spans: dict[int, list[int]] = {}
    for pos, word in enumerate(enc.word_ids()):
        if word is not None:
            spans.setdefault(word, []).append(pos)
    return list(spans.values())


def mlm_head(loaded):
    """The callable hidden states -> vocabulary logits of each architecture's MLM head."""
    model = loaded.model
    if hasattr(model, "cls"):  # BertForPreTraining / BertForMaskedLM
        return model.cls.predictions
    if hasattr(model, "predictions"):  # ALBERT
        return model.predictions
    if hasattr(model, "lm_head"):  # RoBERTa
        return model.lm_head
    if hasattr(model, "vocab_projector"):  # DistilBERT keeps its head as loose layers
        return lambda h: model.vocab_projector(model.vocab_layer_norm(model.activation(model.vocab_transform(h))))
    raise UserError(f"'{loaded.choice}' has an MLM head this app does not know how to read.")


@torch.inference_mode()
def mask_logits(loaded, inputs: dict, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Vocabulary logits at (rows[i], cols[i]) of a batch: the encoder once, the head only there."""
    hidden = loaded.encoder(**inputs).last_hidden_state
    return mlm_head(loaded)(hidden[rows, cols]).float()


def _structural_ids(loaded) -> set[int]:
    """Special tokens that are not words ([CLS], [SEP], [PAD], [MASK]; [UNK] stands for a word)."""
    tok = loaded.tokenizer
    return set(tok.all_special_ids) - {tok.unk_token_id}


def _mask_positions(loaded, ids: torch.Tensor) -> list[int]:
    return (ids == loaded.tokenizer.mask_token_id).nonzero().flatten().tolist()


def _top(loaded, probs: torch.Tensor, k: int) -> list[Prediction]:
    values, ids = probs.topk(min(k, probs.shape[-1]))
    decode = loaded.tokenizer.decode
    return [Prediction(decode([i]), v, i) for v, i in zip(values.tolist(), ids.tolist())]


def _fill_text(loaded, ids: torch.Tensor, positions: list[int], token_ids: list[int]) -> str:
    ids = ids.clone()
    ids[positions] = torch.tensor(token_ids, dtype=ids.dtype, device=ids.device)
    return loaded.tokenizer.decode(ids.tolist(), skip_special_tokens=True)


def pad_batch(loaded, encodeds: list[Encoded]) -> dict[str, torch.Tensor]:
    """Stack single-sentence encodings into one padded batch on the model's device."""
    features = [{k: v[0].tolist() for k, v in e.inputs.items()} for e in encodeds]
    batch = loaded.tokenizer.pad(features, return_tensors="pt")
    return {k: v.to(loaded.device) for k, v in batch.items()}


def fill_masks(loaded, masked: list[Masked], top_k: int = 5, batch_size: int = 32) -> list[FillResult]:
    """Top-k per mask for many prepared sentences, batched by similar length."""
    if top_k < 1:
        raise UserError("top-k must be at least 1.")
    results: list[FillResult | None] = [None] * len(masked)
    order = sorted(range(len(masked)), key=lambda i: masked[i].input_ids.shape[1])
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        inputs = pad_batch(loaded, [masked[i].encoded for i in chunk])
        rows = torch.tensor([r for r, i in enumerate(chunk) for _ in masked[i].positions])
        cols = torch.tensor([p for i in chunk for p in masked[i].positions])
        probs = mask_logits(loaded, inputs, rows, cols).softmax(-1)
        offset = 0
        for i in chunk:
            m = masked[i]
            preds = [_top(loaded, probs[offset + j], top_k) for j in range(len(m.positions))]
            offset += len(m.positions)
            filled = _fill_text(loaded, m.input_ids[0], m.positions, [p[0].token_id for p in preds])
            results[i] = FillResult(loaded.choice, m, preds, filled)
    return results


def fill_mask(loaded, text: str, top_k: int = 5) -> FillResult:
    """Top-k predictions for each mask in `text`, each mask predicted independently."""
    return fill_masks(loaded, [prepare(loaded, text)], top_k)[0]


_BATCHERS: WeakKeyDictionary = WeakKeyDictionary()  # model -> its Batcher of fill-mask requests
_BATCHERS_LOCK = threading.Lock()


def _fill_batch(items: list[tuple]) -> list[FillResult]:
    """Everyone's (model, sentence, top-k) in one batched call at the largest top-k asked, trimmed
    per caller. (The model rides in the items: a batcher holding it would keep it alive forever.)"""
    loaded = items[0][0]
    found = fill_masks(loaded, [masked for _l, masked, _k in items], top_k=max(k for *_x, k in items))
    return [replace(result, predictions=[preds[:k] for preds in result.predictions])
            for result, (*_x, k) in zip(found, items)]


def fill_mask_shared(loaded, text: str, top_k: int = 5) -> FillResult:
    """`fill_mask`, merged with the calls other sessions make on the same model at the same
    moment into one forward pass (core.explain.batching); the same numbers as alone."""
    if top_k < 1:
        raise UserError("top-k must be at least 1.")
    masked = prepare(loaded, text)  # a bad sentence fails here, for its own caller only
    with _BATCHERS_LOCK:
        batcher = _BATCHERS.setdefault(loaded.model, Batcher(_fill_batch))
    return batcher((loaded, masked, top_k))


def joint_fill(loaded, masked: Masked, beam: int = 8, n_best: int = 5) -> list[Completion]:
    """Complete all masks together, ranked by the chain-rule joint probability.

    Beam search: each step fills, in every beam, the still-open mask the model is surest about,
    conditioning on the masks filled so far; P(all) = P(first) x P(second | first) x ...
    BERT is not a left-to-right model, so this is one sensible order, not the only answer.
    """
    n = len(masked.positions)
    if n > MAX_JOINT_MASKS:
        raise UserError(f"Joint completions handle at most {MAX_JOINT_MASKS} masks (you have {n}); "
                        "the per-mask predictions above still work.")
    base = masked.encoded.inputs
    # (ids, log-probability, {mask index: Prediction}, fill order)
    beams = [(base["input_ids"][0], 0.0, {}, [])]
    for _ in range(n):
        inputs = {k: v.expand(len(beams), -1) for k, v in base.items()}
        inputs["input_ids"] = torch.stack([b[0] for b in beams])
        rows = torch.arange(len(beams)).repeat_interleave(n)
        cols = torch.tensor(masked.positions).repeat(len(beams))
        logp = mask_logits(loaded, inputs, rows, cols).log_softmax(-1).view(len(beams), n, -1)
        candidates = []
        for b, (ids, score, chosen, order) in enumerate(beams):
            open_masks = [j for j in range(n) if j not in chosen]
            j = max(open_masks, key=lambda j: logp[b, j].max().item())
            values, tokens = logp[b, j].topk(min(beam, logp.shape[-1]))
            for v, t in zip(values.tolist(), tokens.tolist()):
                candidates.append((score + v, b, j, t, v))
        candidates.sort(key=lambda c: -c[0])
        new = []
        for score, b, j, t, v in candidates[:beam]:
            ids, _, chosen, order = beams[b]
            ids = ids.clone()
            ids[masked.positions[j]] = t
            pred = Prediction(loaded.tokenizer.decode([t]), math.exp(v), t)
            new.append((ids, score, {**chosen, j: pred}, order + [j]))
        beams = new
    completions = []
    for ids, score, chosen, order in beams[:n_best]:
        text = loaded.tokenizer.decode(ids.tolist(), skip_special_tokens=True)
        completions.append(Completion([chosen[j] for j in range(n)], math.exp(score), order, text))
    return completions


def surprisal(loaded, text: str, top_k: int = 5, batch_size: int = 32,
              limit: int = MAX_SURPRISAL_TOKENS) -> list[TokenSurprise]:
    """Mask every word token in turn (the first `limit`): how likely did the model find the original?"""
    require_mlm(loaded)
    encoded = encode(loaded, text)
    ids = encoded.inputs["input_ids"][0]
    structural = _structural_ids(loaded)
    positions = [p for p, i in enumerate(ids.tolist()) if i not in structural][:limit]
    out = []
    for start in range(0, len(positions), batch_size):
        chunk = positions[start:start + batch_size]
        inputs = {k: v.expand(len(chunk), -1) for k, v in encoded.inputs.items()}
        inputs["input_ids"] = ids.repeat(len(chunk), 1)
        rows = torch.arange(len(chunk))
        inputs["input_ids"][rows, torch.tensor(chunk)] = loaded.tokenizer.mask_token_id
        probs = mask_logits(loaded, inputs, rows, torch.tensor(chunk)).softmax(-1)
        for r, pos in enumerate(chunk):
            original = ids[pos].item()
            p = probs[r, original].item()
            rank = int((probs[r] > p).sum().item()) + 1
            out.append(TokenSurprise(pos, encoded.tokens[pos], original, p, rank, _top(loaded, probs[r], top_k)))
    return out


@torch.inference_mode()
def logit_lens(loaded, masked: Masked, mask_index: int = 0, top_k: int = 5) -> list[LensStep]:
    """The MLM head applied to every layer's hidden state at one mask.

    The head was trained on the last layer only, so early layers are read through a lens they
    were never fitted to: watch *when* the final answer rises, not the exact early numbers.
    """
    pos = masked.positions[mask_index]
    hidden = loaded.encoder(**masked.encoded.inputs, output_hidden_states=True).hidden_states
    states = torch.stack([h[0, pos] for h in hidden])
    probs = mlm_head(loaded)(states).float().softmax(-1)
    final = probs[-1].argmax().item()
    return [LensStep(layer, _top(loaded, probs[layer], top_k), probs[layer, final].item())
            for layer in range(len(hidden))]
