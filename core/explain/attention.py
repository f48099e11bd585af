"""Attention weights of every head and layer, and the numbers that say what each head does.

One forward pass gives an array `attn[layer, head, query, key]`: row `query` is a probability
distribution over the tokens that token looks at. Everything here works on that array with
numpy, so a 512-token input stays fast: head statistics, averages, rollout, head ranking and
downsampling for small multiples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.inputs.text import encode

# What each statistic measures, in one sentence a class can follow.
STATS = {
    "entropy": "Entropy (bits) of each row, averaged: low = the head focuses on one or two tokens, "
               "high = it spreads its attention evenly (a 'bag of words' head).",
    "cls": "Share of attention sent to [CLS]: many heads park attention on a special token when "
           "they have nothing useful to look at.",
    "sep": "Share of attention sent to [SEP]: heads that dump almost everything on [SEP] are "
           "usually doing a no-op (Clark et al. 2019, 'What does BERT look at?').",
    "self": "Share of attention a token pays to itself: a head that mostly copies each token's "
            "own information forward.",
    "prev": "Share of attention on the previous token: 'previous-token' heads read word order, "
            "like a bigram model looking left.",
    "next": "Share of attention on the next token: the mirror image, reading one step to the right.",
    "distance": "Mean distance (in tokens) between a token and what it attends to: small = local "
                "syntax heads, large = heads that link words far apart.",
}


@dataclass
class AttentionResult:
    """Attention of one input through one model, padding already removed."""

    tokens: list[str]
    attn: np.ndarray  # (layers, heads, n, n) float32, rows sum to 1
    special: dict[str, np.ndarray]  # "cls"/"sep" -> bool mask over positions
    sentence_b_start: int | None
    notice: str | None  # truncation notice, if any

    @property
    def layers(self) -> int:
        return self.attn.shape[0]

    @property
    def heads(self) -> int:
        return self.attn.shape[1]

    @property
    def n(self) -> int:
        return self.attn.shape[-1]


def special_masks(tokenizer, input_ids: list[int]) -> dict[str, np.ndarray]:
    """Where [CLS] and [SEP] (or RoBERTa's <s> and </s>) sit in the input."""
    ids = np.asarray(input_ids)
    return {"cls": ids == tokenizer.cls_token_id, "sep": ids == tokenizer.sep_token_id}


@torch.inference_mode()
def compute_attention(loaded, text: str, pair: str | None = None) -> AttentionResult:
    """Run the encoder once with attention outputs; raises UserError for empty text."""
    enc = encode(loaded, text, pair)
    out = loaded.encoder(**enc.inputs, output_attentions=True)
    attn = torch.stack(out.attentions)[:, 0].float().cpu().numpy()  # (L, H, n, n)
    keep = enc.inputs["attention_mask"][0].bool().cpu().numpy()
    if not keep.all():  # padding is never a real token: drop its rows and columns
        attn = attn[:, :, keep][:, :, :, keep]
    ids = enc.inputs["input_ids"][0].cpu().numpy()[keep].tolist()
    tokens = [t for t, k in zip(enc.tokens, keep) if k]
    return AttentionResult(tokens, attn, special_masks(loaded.tokenizer, ids),
                           _second_segment_start(loaded.tokenizer, ids, pair), enc.notice)


def _second_segment_start(tokenizer, ids: list[int], pair: str | None) -> int | None:
    """Index of sentence B's first token: just after the first [SEP] (RoBERTa: after `</s></s>`)."""
    if not (pair or "").strip():
        return None
    seps = [i for i, t in enumerate(ids) if t == tokenizer.sep_token_id]
    if len(seps) < 2:
        return None
    start = seps[0] + 1
    while start < len(ids) - 1 and ids[start] == tokenizer.sep_token_id:
        start += 1
    return start


def head_stats(attn: np.ndarray, cls_mask: np.ndarray, sep_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per-head statistics of `attn` (layers, heads, n, n): name -> (layers, heads) array.

    Each is averaged over query tokens. prev/next average over the tokens that have a
    previous/next token.
    """
    from scipy.special import entr  # -p*ln(p), 0 where p == 0

    n = attn.shape[-1]
    p = attn
    dist = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]).astype(p.dtype)
    diag = np.diagonal(p, axis1=-2, axis2=-1)
    return {
        "entropy": entr(p).sum(-1).mean(-1) / np.log(2),
        "cls": p[..., cls_mask].sum(-1).mean(-1),
        "sep": p[..., sep_mask].sum(-1).mean(-1),
        "self": diag.mean(-1),
        "prev": np.diagonal(p, offset=-1, axis1=-2, axis2=-1).mean(-1) if n > 1 else np.zeros(p.shape[:2]),
        "next": np.diagonal(p, offset=1, axis1=-2, axis2=-1).mean(-1) if n > 1 else np.zeros(p.shape[:2]),
        "distance": (p * dist).sum(-1).mean(-1),
    }


def result_stats(result: AttentionResult) -> dict[str, np.ndarray]:
    return head_stats(result.attn, result.special["cls"], result.special["sep"])


def stats_records(stats: dict[str, np.ndarray]) -> list[dict]:
    """One dict per head, layer-major: the rows of the table and of the CLI's JSON."""
    layers, heads = next(iter(stats.values())).shape
    return [{"layer": i, "head": j, **{k: round(float(v[i, j]), 4) for k, v in stats.items()}}
            for i in range(layers) for j in range(heads)]


def top_head(stats: dict[str, np.ndarray], name: str, lowest: bool = False) -> tuple[int, int, float]:
    """(layer, head, value) of the head with the highest (or lowest) `name`."""
    values = stats[name]
    flat = values.argmin() if lowest else values.argmax()
    layer, head = np.unravel_index(flat, values.shape)
    return int(layer), int(head), float(values[layer, head])


def head_average(attn: np.ndarray) -> np.ndarray:
    """(layers, n, n): each layer's heads averaged; rows still sum to 1."""
    return attn.mean(axis=1)


def rollout(attn: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020): (layers, n, n), entry l is the flow through
    layers 0..l. Each layer's head average gets the residual connection as 0.5*A + 0.5*I, rows
    renormalised, and the layers are multiplied: R_l = A_l' @ R_(l-1)."""
    avg = head_average(attn)
    n = avg.shape[-1]
    mixed = 0.5 * avg + 0.5 * np.eye(n, dtype=avg.dtype)
    mixed /= mixed.sum(-1, keepdims=True)
    out = np.empty_like(mixed)
    acc = np.eye(n, dtype=avg.dtype)
    for layer, a in enumerate(mixed):
        acc = a @ acc
        out[layer] = acc
    return out


def rank_heads(attn: np.ndarray, source: int, target: int) -> list[dict]:
    """Heads sorted by how much token `source` attends to token `target` (and the reverse)."""
    forward = attn[:, :, source, target]
    backward = attn[:, :, target, source]
    rows = [{"layer": i, "head": j, "attention": float(forward[i, j]), "reverse": float(backward[i, j])}
            for i in range(attn.shape[0]) for j in range(attn.shape[1])]
    return sorted(rows, key=lambda r: r["attention"], reverse=True)


def block_edges(n: int, max_size: int) -> np.ndarray:
    """Start indices of at most `max_size` contiguous blocks covering range(n)."""
    if n <= max_size:
        return np.arange(n)
    return np.unique(np.linspace(0, n, max_size, endpoint=False).astype(int))


def downsample(matrix: np.ndarray, max_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Shrink the last two axes (query, key) to at most `max_size` blocks.

    Query blocks are averaged and key blocks summed, so each row is still a distribution.
    Returns (matrix, block starts).
    """
    n = matrix.shape[-1]
    edges = block_edges(n, max_size)
    if len(edges) == n:
        return matrix, edges
    sizes = np.diff(np.append(edges, n))
    summed_keys = np.add.reduceat(matrix, edges, axis=-1)
    mean_queries = np.add.reduceat(summed_keys, edges, axis=-2) / sizes[:, None]
    return mean_queries, edges


def block_labels(tokens: list[str], edges: np.ndarray) -> list[str]:
    """Labels for downsampled axes: the token itself, or 'first…last (i-j)' for a block."""
    n = len(tokens)
    if len(edges) == n:
        return list(tokens)
    ends = np.append(edges[1:], n) - 1
    return [f"{tokens[s]}…{tokens[e]} ({s}-{e})" for s, e in zip(edges.tolist(), ends.tolist())]


def head_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(layers, heads): how differently two models' heads attend on the same tokens — the total
    variation distance 0.5 * sum |a - b| of each row, averaged (0 = identical, 1 = disjoint)."""
    return 0.5 * np.abs(a - b).sum(-1).mean(-1)


def counted(index: int) -> int:
    """A layer or head as every page, figure, quiz and download numbers it: from 1, as people count.
    Layer 0 is then the embeddings, and layer l's output is hidden state l (transformers' own
    indexes, which the CLI keeps, count layers and heads from 0)."""
    return index + 1


def counted_label(index: int) -> str:
    """`counted` as a picker's label (a format_func must return text)."""
    return str(counted(index))


def head_name(layer: int, head: int) -> str:
    """A head named for people: `head_name(0, 2)` is "layer 1, head 3"."""
    return f"layer {counted(layer)}, head {counted(head)}"


PATTERN_THRESHOLD = 0.5  # a head "is" a pattern when at least half its attention follows it


def describe_patterns(stats: dict[str, np.ndarray]) -> list[str]:
    """One plain sentence per pattern, naming the head that shows it most — or saying that no
    head does for this input (no user text inside)."""
    lines = []
    for name, found, label in (
        ("prev", "sends {v:.0%} of each token's attention one step left, like a bigram model.",
         "Previous-token head"),
        ("next", "sends {v:.0%} one step right.", "Next-token head"),
        ("sep", "parks {v:.0%} of its attention on [SEP]: most likely a no-op, 'nothing to do here'.",
         "[SEP] head"),
        ("cls", "parks {v:.0%} on [CLS], the same kind of resting place.", "[CLS] head"),
        ("self", "keeps {v:.0%} on the token itself.", "Self head"),
    ):
        layer, head, value = top_head(stats, name)
        where = head_name(layer, head)
        if value >= PATTERN_THRESHOLD:
            lines.append(f"**{label}** — {where} " + found.format(v=value))
        else:
            lines.append(f"**{label}** — none here: the strongest, {where}, reaches only {value:.0%}.")
    layer, head, value = top_head(stats, "distance")
    lines.append(f"**Long-range head** — {head_name(layer, head)} looks {value:.1f} tokens away on average.")
    (fl, fh, low), (bl, bh, high) = top_head(stats, "entropy", lowest=True), top_head(stats, "entropy")
    lines.append(f"**Most focused head** — {head_name(fl, fh)} ({low:.2f} bits); **broadest** — "
                 f"{head_name(bl, bh)} ({high:.2f} bits, a nearly even spread).")
    return lines
