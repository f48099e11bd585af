"""Figures for the Layers page: the animated projector, sense similarity, probe curves, neighbours, query-key map.

The projector is one plotly figure with a frame per layer: its slider and play button run in the
browser, so moving through the layers costs the server nothing. Tokens and sentences are user
text and are escaped.
"""
from __future__ import annotations

from collections import Counter
from html import escape

import numpy as np
import plotly.graph_objects as go
import plotly.express as px

from core.explain.attention import counted
from core.figures import safe_labels

PALETTE = px.colors.qualitative.T10 + px.colors.qualitative.Pastel
OTHER = "(other)"
PATH_COLOURS = ("#1b1b1b", "#8c564b", "#7b4fa0", "#17737a", "#b8860b", "#c2185b")  # dark: they run over the dots
MAX_GROUPS = 12  # colours beyond this are hard to tell apart: the rest is grey
TASK_COLOURS = {"pos": "#4e79a7", "control": "#e15759", "sentiment": "#59a14f"}
TASK_TITLES = {"pos": "part of speech", "control": "control task (random tag per word)",
               "sentiment": "sentiment ([CLS])"}


def group_labels(labels: list[str]) -> list[str]:
    """The MAX_GROUPS most frequent labels kept, the rest renamed OTHER."""
    keep = {label for label, _n in Counter(labels).most_common(MAX_GROUPS)}
    return [label if label in keep else OTHER for label in labels]


def _scatter(points: np.ndarray, rows: np.ndarray, name: str, colour: str, hover: list[str], dims: int):
    common = dict(name=escape(name), mode="markers", hovertext=[hover[r] for r in rows], hoverinfo="text",
                  marker=dict(color=colour, size=6 if dims == 2 else 4, line=dict(width=0)))
    if dims == 3:
        return go.Scatter3d(x=points[rows, 0], y=points[rows, 1], z=points[rows, 2], **common)
    return go.Scatter(x=points[rows, 0], y=points[rows, 1], **common)


def projector_figure(points: np.ndarray, labels: list[str], hover: list[str], start: int,
                     follow: list[int] = (), title: str = "") -> go.Figure:
    """`points` (layers, n, dims) aligned; one colour per label; a slider and play button over the layers.

    Rows in `follow` (the followed words only) also get their path through all layers: a dotted line
    of its own colour, named in the legend by its sentence, so four *bank*s are four paths one can tell apart.
    """
    n_layers, _n, dims = points.shape
    grouped = group_labels(labels)
    groups = sorted(set(grouped), key=lambda g: (g == OTHER, g))
    members = {g: np.flatnonzero(np.array(grouped, dtype=object) == g) for g in groups}
    colours = {g: ("#c7c7c7" if g == OTHER else PALETTE[i % len(PALETTE)]) for i, g in enumerate(groups)}
    hover = safe_labels(hover)

    def layer_traces(layer: int) -> list:
        shown = [f"layer {layer} · {h}" for h in hover]
        return [_scatter(points[layer], members[g], g, colours[g], shown, dims) for g in groups]

    paths = []
    for k, row in enumerate(follow):
        coords = {axis: points[:, row, i] for i, axis in enumerate("xyz"[:dims])}
        colour = PATH_COLOURS[k % len(PATH_COLOURS)]
        path = dict(mode="lines+markers+text", text=[str(layer) for layer in range(n_layers)],
                    name=f"path: {hover[row][:48]}", legendgroup="paths", line=dict(color=colour, width=2, dash="dot"),
                    marker=dict(size=4, color=colour), hoverinfo="skip", textfont=dict(size=9, color=colour))
        paths.append(go.Scatter3d(**coords, **path) if dims == 3 else go.Scatter(**coords, **path))
    fig = go.Figure(data=layer_traces(start) + paths,
                    frames=[go.Frame(data=layer_traces(layer), name=str(layer), traces=list(range(len(groups))))
                            for layer in range(n_layers)])
    animate = {"mode": "immediate", "frame": {"duration": 400, "redraw": dims == 3}, "transition": {"duration": 300}}
    fig.update_layout(
        title=escape(title) or None, height=560, margin=dict(l=10, r=10, t=40, b=10), legend=dict(itemsizing="constant"),
        sliders=[dict(active=start, currentvalue=dict(prefix="layer "), pad=dict(t=30),
                      steps=[dict(label=str(layer), method="animate", args=[[str(layer)], animate])
                             for layer in range(n_layers)])],
        updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.05, xanchor="right", yanchor="top",
                          buttons=[dict(label="▶", method="animate",
                                        args=[None, {**animate, "fromcurrent": True}])])],
    )
    low, high = points.min(axis=(0, 1)), points.max(axis=(0, 1))
    pad = (high - low) * 0.05 + 1e-6
    ranges = [[float(lo - p), float(hi + p)] for lo, hi, p in zip(low, high, pad)]
    if dims == 3:
        fig.update_layout(scene=dict(xaxis=dict(range=ranges[0]), yaxis=dict(range=ranges[1]),
                                     zaxis=dict(range=ranges[2])))
    else:
        fig.update_xaxes(range=ranges[0], zeroline=False)
        fig.update_yaxes(range=ranges[1], zeroline=False)
    return fig


def sense_figure(similarity) -> go.Figure:
    """Across-sense cosine per word by layer (solid), and the mean within one sense (dashed)."""
    fig = go.Figure()
    layers = list(range(similarity.across.shape[1]))
    for i, word in enumerate(similarity.words):
        a, b = similarity.senses[word]
        fig.add_trace(go.Scatter(x=layers, y=similarity.across[i], mode="lines+markers", name=f"{word}: {a} vs {b}",
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    fig.add_trace(go.Scatter(x=layers, y=similarity.within.mean(axis=0), mode="lines", name="same sense (mean)",
                             line=dict(color="#555", dash="dash")))
    fig.update_layout(title="The two senses of a word, layer by layer", xaxis_title="layer (0 = embeddings)",
                      yaxis_title="cosine similarity", height=520, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.2))  # below: a narrow column has no room beside
    return fig


def probe_figure(results: dict) -> go.Figure:
    """Test accuracy by layer for each probe, with its majority baseline dotted."""
    fig = go.Figure()
    for task, result in results.items():
        colour = TASK_COLOURS.get(task, "#333")
        fig.add_trace(go.Scatter(x=result.layers, y=result.accuracy, mode="lines+markers", name=TASK_TITLES[task],
                                 line=dict(color=colour), cliponaxis=False))
        fig.add_trace(go.Scatter(x=result.layers, y=[result.majority] * len(result.layers), mode="lines",
                                 name=f"majority baseline ({task})", line=dict(color=colour, dash="dot", width=1)))
    fig.update_layout(title="Probe accuracy by layer (held-out sentences)", xaxis_title="layer (0 = embeddings)",
                      yaxis=dict(title="test accuracy", range=[0, 1], tickformat=".0%"), height=420,
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


def neighbours_html(result) -> str:
    """Each neighbour in its sentence, the matched token highlighted, with its similarity."""
    rows = []
    for n in result.neighbours:
        start, end = n.span
        text = n.sentence
        left, right = text[max(0, start - 80):start], text[end:end + 80]
        rows.append(f"<tr><td style='padding:2px 8px;color:#666'>{n.similarity:.3f}</td>"
                    f"<td style='padding:2px 8px;color:#666'>{escape(n.pos or '')}</td><td style='padding:2px 8px'>"
                    f"{'…' if start > 80 else ''}{escape(left)}<mark style='background:#ffd54f'><b>"
                    f"{escape(text[start:end])}</b></mark>{escape(right)}{'…' if end + 80 < len(text) else ''}</td></tr>")
    return ("<table style='border-collapse:collapse;font-size:0.9rem'><tr><th>cosine</th><th>POS</th>"
            f"<th style='text-align:left'>sentence</th></tr>{''.join(rows)}</table>")


def counts_figure(counts: Counter, title: str) -> go.Figure:
    items = counts.most_common(12)[::-1]
    fig = go.Figure(go.Bar(x=[c for _l, c in items], y=safe_labels(l for l, _c in items), orientation="h",
                           marker_color="#4e79a7"))
    fig.update_layout(title=title, height=60 + 22 * max(len(items), 3), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def query_key_figure(qk, colour_by: str = "kind") -> go.Figure:
    """Queries (circles) and keys (diamonds) of one head; colour by kind or by position in the sentence."""
    hover = safe_labels(f"{t} · position {p} · sentence {s + 1}" for t, p, s in zip(qk.tokens, qk.position, qk.sentence))
    fig = go.Figure()
    for name, points, symbol, colour in (("queries", qk.queries, "circle", "#4e79a7"),
                                         ("keys", qk.keys, "diamond", "#f28e2b")):
        marker = dict(symbol=symbol, size=7, color=colour)
        if colour_by == "position":
            marker |= dict(color=qk.position, colorscale="Viridis", showscale=name == "keys",
                           colorbar=dict(title="position"))
        fig.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", name=name, marker=marker,
                                 hovertext=[f"{name[:-1]}: {h}" for h in hover], hoverinfo="text"))
    fig.update_layout(title=f"Layer {counted(qk.layer)}, head {counted(qk.head)}: queries and keys", height=520,
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig
