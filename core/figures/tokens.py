"""Figures for the tokens & embeddings page: token chips (escaped HTML) and plotly charts."""
from __future__ import annotations

from html import escape

import numpy as np
import plotly.graph_objects as go

from core.figures import heatmap, safe_labels, unique_labels

# Colour *and* border style, so the kinds stay apart for colour-blind readers and in print.
CHIP_STYLES = {
    "special": "background:#e5e7eb;color:#374151;border:2px solid #6b7280",
    "word": "background:#dbeafe;color:#1e3a8a;border:2px solid #3b82f6",
    "continuation": "background:#fef3c7;color:#78350f;border:2px dashed #d97706",
    "unknown": "background:#fee2e2;color:#7f1d1d;border:2px dotted #dc2626",
}
KIND_LABELS = {
    "special": "special token",
    "word": "start of a word",
    "continuation": "continues the word before",
    "unknown": "unknown (not in the vocabulary)",
}
_CHIP = ("display:inline-block;margin:3px 2px;padding:2px 7px;border-radius:8px;"
         "font-family:monospace;font-size:15px;line-height:1.6;white-space:pre;{style}")


def chips_html(tokenization) -> str:
    """Token chips as HTML; every piece of user text is escaped, so it can never become markup.

    The small number under each chip is its id; hovering shows segment, position and the
    characters of the user's text the piece stands for.
    """
    chips = []
    for p in tokenization.pieces:
        span = (tokenization.texts[p.sentence] or "")[p.start:p.end] if p.sentence is not None else ""
        tip = f"{KIND_LABELS[p.kind]} · id {p.id} · segment {p.segment} · position {p.position}"
        if span:
            tip += f" · text “{span}”"
        style = CHIP_STYLES[p.kind] + (";box-shadow:inset 0 -4px 0 #8b5cf6" if p.segment == 1 else "")
        chips.append(
            f'<span title="{escape(tip, quote=True)}" style="{_CHIP.format(style=style)}">'
            f'{escape(p.token)}<sub style="font-size:10px;opacity:.7;margin-left:3px">{p.id}</sub></span>'
        )
    return f'<div style="line-height:2.2">{"".join(chips)}</div>'


def legend_html(segments: bool) -> str:
    """The chip legend, drawn with the same styles as the chips."""
    items = [f'<span style="{_CHIP.format(style=CHIP_STYLES[k])}">{escape(label)}</span>'
             for k, label in KIND_LABELS.items()]
    if segments:
        items.append(f'<span style="{_CHIP.format(style="border:2px solid #ccc;box-shadow:inset 0 -4px 0 #8b5cf6")}">'
                     "segment B (violet underline)</span>")
    return f'<div style="font-size:12px">{"".join(items)}</div>'


def _diverging(matrix: np.ndarray, tokens, title: str) -> go.Figure:
    limit = float(np.abs(matrix).max()) or 1.0
    fig = heatmap(matrix, None, tokens, title, colorscale="RdBu", zmin=-limit, zmax=limit,
                  hover="%{y} · dimension %{x}: %{z:.3f}", height=max(220, 22 * len(tokens) + 80))
    fig.update_xaxes(title="dimension")
    return fig


def embedding_steps(emb) -> dict[str, tuple[np.ndarray, str]]:
    """The steps of the embedding layer (core.explain.embeddings.InputEmbeddings): name -> (matrix, title)."""
    steps = {"token": (emb.token, "Token embedding (row of the vocabulary table)")}
    if emb.segment is not None:
        steps["segment"] = (emb.segment, "Segment embedding")
    steps["position"] = (emb.position, "Position embedding")
    steps["sum"] = (emb.summed, "Sum: token + segment + position" if emb.segment is not None
                    else "Sum: token + position")
    steps["LayerNorm"] = (emb.normed, "After LayerNorm (what layer 1 reads)")
    if emb.projected is not None:
        steps["projected"] = (emb.projected, "ALBERT: projected to the hidden size")
    return steps


def embedding_figure(emb, step: str, max_tokens: int = 64) -> go.Figure:
    """One step's heatmap. Only the first `max_tokens` rows are drawn: 512 rows x 768 columns would
    make the page crawl and show nothing a reader can see."""
    matrix, title = embedding_steps(emb)[step]
    return _diverging(matrix[:max_tokens], emb.tokens[:max_tokens], title)


def position_similarity_figure(matrix: np.ndarray, ids: list[int]) -> go.Figure:
    return heatmap(matrix, [str(i) for i in ids], [str(i) for i in ids],
                   "Cosine similarity of learned position embeddings", colorscale="RdBu",
                   zmin=-1, zmax=1, hover="position %{y} vs %{x}: %{z:.3f}", height=520)


def context_figure(comparison) -> go.Figure:
    """One line per sentence pair: how alike the word's vectors are, layer by layer."""
    fig = go.Figure()
    layers = list(range(comparison.similarity.shape[1]))
    for (i, j), sims in zip(comparison.pairs, comparison.similarity):
        name = f"{i + 1} vs {j + 1}"
        fig.add_trace(go.Scatter(x=layers, y=sims, mode="lines+markers", name=name,
                                 hovertemplate=f"sentences {name}, layer %{{x}}: %{{y:.3f}}<extra></extra>"))
    fig.update_layout(title=f"Cosine similarity of “{escape(comparison.word)}” between sentences",
                      xaxis_title="layer (0 = embedding output)", yaxis_title="cosine similarity",
                      margin=dict(l=10, r=10, t=40, b=10), height=380)
    fig.update_xaxes(dtick=1)
    return fig


def projection_figure(projection, sentences: list[str], highlight: str = "") -> go.Figure:
    """Tokens as labelled points, one colour per sentence; pieces of `highlight` drawn bigger."""
    fig = go.Figure()
    index = np.array(projection.sentence_index)
    labels = np.array(unique_labels(safe_labels(projection.tokens)), dtype=object)
    for s, sentence in enumerate(sentences):
        rows = np.flatnonzero(index == s)
        if rows.size:
            short = sentence if len(sentence) <= 40 else sentence[:39] + "…"
            big = [projection.tokens[r].casefold() == highlight.strip().casefold() for r in rows]
            fig.add_trace(go.Scatter(
                x=projection.points[rows, 0], y=projection.points[rows, 1], mode="markers+text",
                marker=dict(size=[16 if b else 8 for b in big], line=dict(width=1, color="#111")),
                text=safe_labels(projection.tokens[r] for r in rows), textposition="top center",
                customdata=labels[rows], name=f"{s + 1}: {escape(short)}",
                hovertemplate="%{customdata}<extra>" + f"sentence {s + 1}" + "</extra>"))
    pc1, pc2 = (100 * v for v in projection.explained)
    fig.update_layout(title=f"Token vectors at layer {projection.layer}, PCA to 2-D",
                      xaxis_title=f"PC 1 ({pc1:.0f}% of variance)", yaxis_title=f"PC 2 ({pc2:.0f}%)",
                      margin=dict(l=10, r=10, t=40, b=10), height=480,
                      legend=dict(orientation="h", y=-0.2))
    return fig
