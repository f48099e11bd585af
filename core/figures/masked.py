"""Figures for the masked-words page: prediction bars, a sentence coloured by surprise, the logit lens.

Tokens are user text or come from a vocabulary: they are escaped everywhere (plotly renders
<b>/<a> in labels, st.html renders markup, button labels render markdown).
"""
from __future__ import annotations

import math
import re
from html import escape

import plotly.graph_objects as go

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def plain_label(text: str) -> str:
    """Backslash-escape markdown so a token shows as itself on a Streamlit button."""
    return _MARKDOWN.sub(r"\\\1", text) if text.strip() else repr(text)


def predictions_bar(predictions, title: str = "", original_id: int | None = None, *, zoom: bool = False) -> go.Figure:
    """Top-k candidates for one mask, most likely on top; the original token (if any) in orange.

    The axis runs 0-100% so a 4% guess looks like one; `zoom` scales it to the bars instead.
    """
    labels = [escape(repr(p.token) if p.token != p.token.strip() or not p.token else p.token) for p in predictions]
    colours = ["#f28e2b" if p.token_id == original_id else "#4e79a7" for p in predictions]
    fig = go.Figure(go.Bar(
        x=[p.score for p in predictions], y=[f"{i + 1}. {t}" for i, t in enumerate(labels)], orientation="h",
        marker_color=colours, text=[f"{p.score:.1%}" for p in predictions], textangle=0,
        textposition="auto" if zoom else "outside", cliponaxis=False,  # a 4% bar's label beside it, full size
        hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    fig.update_layout(title=escape(title) if title else None, height=60 + 28 * len(predictions),
                      margin=dict(l=10, r=40, t=40 if title else 10, b=10),  # r: room for the "100%" tick
                      xaxis=dict(title="probability", tickformat=".2~%", rangemode="tozero",
                                 range=None if zoom else [0, 1]))
    fig.update_yaxes(autorange="reversed")
    return fig


def _surprise_colour(probability: float) -> str:
    """Red for tokens the model found surprising, green for expected ones (log scale)."""
    t = min(max((math.log10(max(probability, 1e-6)) + 4) / 4, 0.0), 1.0)  # 1e-4 -> 0, 1 -> 1
    red, green = int(230 - 120 * t), int(120 + 100 * t)
    return f"rgba({red},{green},110,0.45)"


def surprise_html(rows, highlight: set[int] = frozenset()) -> str:
    """The sentence as tokens coloured by P(original | context); hover shows the numbers."""
    spans = []
    for r in rows:
        tip = (f"{r.token}: P = {r.probability:.4f}, rank {r.rank}; "
               f"model's first guess: {r.top[0].token} ({r.top[0].score:.3f})")
        border = "border:2px solid #333;" if r.position in highlight else ""
        spans.append(f'<span title="{escape(tip, quote=True)}" style="background:{_surprise_colour(r.probability)};'
                     f'{border}padding:2px 5px;margin:2px;border-radius:4px;display:inline-block;'
                     f'font-family:monospace">{escape(r.token)}</span>')
    legend = ('<div style="font-size:12px;opacity:.8;margin-top:4px">'
              f'<span style="background:{_surprise_colour(1e-4)};padding:1px 5px">surprising (P ≤ 0.0001)</span> … '
              f'<span style="background:{_surprise_colour(1.0)};padding:1px 5px">expected (P ≈ 1)</span>'
              ' — hover a token for its probability</div>')
    return f'<div style="line-height:2">{"".join(spans)}</div>{legend}'


def filled_html(tokens: list[str], positions: list[int], guesses: list[str],
                hide: frozenset = frozenset()) -> str:
    """The masked sentence with each mask replaced by its best guess, guesses highlighted.

    `hide` holds tokens not worth showing ([CLS], [SEP], [PAD]).
    """
    by_pos = dict(zip(positions, guesses))
    out = []
    for pos, token in enumerate(tokens):
        if token in hide and pos not in by_pos:
            continue
        if pos in by_pos:
            out.append(f'<mark style="background:#ffe08a;padding:1px 4px;border-radius:3px" '
                       f'title="was {escape(token, quote=True)}">{escape(by_pos[pos])}</mark>')
        else:
            out.append(escape(token))
    return f'<div style="font-family:monospace;font-size:1.05em">{" ".join(out)}</div>'


def logit_lens_figure(steps, title: str = "") -> go.Figure:
    """Per layer: the probability of the final answer, and each layer's own first choice as a label."""
    layers = [s.layer for s in steps]
    names = ["embeddings" if s.layer == 0 else f"layer {s.layer}" for s in steps]
    final_token = escape(steps[-1].top[0].token)
    top = max(max(s.final_probability, s.top[0].score) for s in steps)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=layers, y=[s.final_probability for s in steps], mode="lines+markers",
        name=f"P('{final_token}'), the final answer", line=dict(color="#4e79a7", width=3),
        hovertemplate="%{customdata}: %{y:.4f}<extra></extra>", customdata=names, cliponaxis=False))
    fig.add_trace(go.Scatter(
        x=layers, y=[s.top[0].score for s in steps], mode="lines+markers+text",
        text=[escape(s.top[0].token) for s in steps], textposition="top center",
        name="this layer's first choice", line=dict(color="#f28e2b", dash="dot"),
        hovertemplate="%{customdata}: '%{text}' %{y:.4f}<extra></extra>", customdata=names, cliponaxis=False))
    # The axis stops at 100%; points and labels up there draw into the top margin instead.
    fig.update_layout(title=escape(title) if title else None, height=380,
                      margin=dict(l=10, r=10, t=40 if title else 30, b=10),
                      xaxis=dict(title="layer (0 = embeddings)", tickmode="array", tickvals=layers),
                      yaxis=dict(title="probability", range=[0, min(1.0, 1.25 * top + 1e-3)], tickformat=".2~%"),
                      legend=dict(orientation="h", y=-0.25))
    return fig
