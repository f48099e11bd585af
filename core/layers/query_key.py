"""One head's queries and keys in one map (AttentionViz, Yeh et al. 2023).

A head scores query i against key j as q_i·k_j / sqrt(d) and softmaxes each query's row. Two
changes leave every weight as it is, and make the map readable:

- **norm scaling**: q -> c·q, k -> k/c keeps every product; c = sqrt(spread(k) / spread(q)) gives
  both clouds the same spread (mean distance to their centroid).
- **translation**: k_j -> k_j + t adds q_i·t to the whole row i, which softmax ignores; t moves
  the keys' centroid onto the queries'.

Queries and keys are then projected together (PCA), so a query lies near the keys it attends to:
a positional head draws a band by position, a "same word" head pairs tokens with themselves.
Layers here are numbered as on the Attention page: attention layer l reads the projector's layer l.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA

from core.errors import UserError
from core.inputs.text import encode
from core.models.arch import attention_projections


def head_count(loaded) -> int:
    return getattr(loaded.config, "num_attention_heads", getattr(loaded.config, "n_heads", 0))


def softmax_rows(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """softmax(q k^T / sqrt(d)) row by row, in float64."""
    scores = q.astype(np.float64) @ k.astype(np.float64).T / np.sqrt(q.shape[1])
    scores -= scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=1, keepdims=True)


def spread(x: np.ndarray) -> float:
    """Mean distance of the rows of `x` to their centroid."""
    return float(np.linalg.norm(x - x.mean(axis=0), axis=1).mean())


def attentionviz_transform(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale queries up and keys down to the same spread, then move the keys' centroid onto the queries'."""
    c = np.sqrt(spread(k) / max(spread(q), 1e-12))
    q, k = q * c, k / c
    return q, k + (q.mean(axis=0) - k.mean(axis=0))


@dataclass
class QueryKeyMap:
    """Queries and keys of one head for every token of some sentences, after the transform, in 2-D."""

    layer: int
    head: int
    tokens: list[str]
    sentence: np.ndarray  # (n,) which sentence each token comes from
    position: np.ndarray  # (n,) its position in that sentence
    queries: np.ndarray  # (n, 2)
    keys: np.ndarray  # (n, 2)
    attention_error: float  # max |softmax(q k^T/sqrt d) - the model's own attention| over all sentences
    transform_error: float  # max change of any attention weight made by the transform


@torch.inference_mode()
def query_key_map(loaded, sentences: list[str], layer: int, head: int) -> QueryKeyMap:
    """Queries and keys of head `head` in attention layer `layer` (0-based) for every token of `sentences`."""
    layers, heads = loaded.config.num_hidden_layers, head_count(loaded)
    if not 0 <= layer < layers:
        raise UserError(f"Attention layer {layer} does not exist: this model has layers 0 to {layers - 1}.")
    if not 0 <= head < heads:
        raise UserError(f"Head {head} does not exist: this model has heads 0 to {heads - 1}.")
    if not sentences:
        raise UserError("Type at least one sentence (one per line).")
    w_q, w_k = attention_projections(loaded, layer)
    d = w_q.out_features // heads
    cut = slice(head * d, (head + 1) * d)
    queries, keys, tokens, sentence, position = [], [], [], [], []
    attention_error = transform_error = 0.0
    for s, text in enumerate(sentences):
        enc = encode(loaded, text)
        out = loaded.encoder(**enc.inputs, output_hidden_states=True, output_attentions=True)
        states = out.hidden_states[layer][0]  # what attention layer `layer` reads: (n, hidden)
        q = w_q(states)[:, cut].float().cpu().numpy()
        k = w_k(states)[:, cut].float().cpu().numpy()
        own = out.attentions[layer][0, head].float().cpu().numpy()
        attention_error = max(attention_error, float(np.abs(softmax_rows(q, k) - own).max()))
        queries.append(q)
        keys.append(k)
        tokens += enc.tokens
        sentence += [s] * len(enc.tokens)
        position += list(range(len(enc.tokens)))
    if len(tokens) < 2:
        raise UserError("The map needs at least two tokens.")
    q, k = attentionviz_transform(np.concatenate(queries), np.concatenate(keys))
    start = 0
    for raw_q, raw_k in zip(queries, keys):  # the transform is global: check it sentence by sentence
        end = start + len(raw_q)
        transform_error = max(transform_error, float(np.abs(softmax_rows(q[start:end], k[start:end])
                                                            - softmax_rows(raw_q, raw_k)).max()))
        start = end
    points = PCA(n_components=2).fit_transform(np.concatenate([q, k]))
    return QueryKeyMap(layer, head, tokens, np.asarray(sentence), np.asarray(position),
                       points[:len(q)], points[len(q):], attention_error, transform_error)
