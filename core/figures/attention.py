"""Plotly figures for the attention page: always available, offline, fast on 512 tokens."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from core.explain.attention import block_labels, counted, downsample
from core.figures import heatmap, safe_labels, unique_labels

GRID_TILE = 40  # the most rows/columns one small multiple shows before it is downsampled


def head_figure(result, layer: int, head: int, max_size: int = 512) -> go.Figure:
    """One head: queries (rows) attend to keys (columns), tokens on both axes."""
    matrix, edges = downsample(result.attn[layer, head], max_size)
    labels = block_labels(result.tokens, edges)
    return heatmap(matrix, labels, labels, f"Layer {counted(layer)}, head {counted(head)}", zmin=0,
                   hover="%{y} → %{x}: %{z:.3f}", height=_square_height(len(labels)))


def matrix_figure(matrix: np.ndarray, tokens: list[str], title: str, max_size: int = 512) -> go.Figure:
    """Any token x token matrix (head average, rollout) on the same axes as a head."""
    small, edges = downsample(matrix, max_size)
    labels = block_labels(tokens, edges)
    return heatmap(small, labels, labels, title, zmin=0, height=_square_height(len(labels)))


def grid_figure(result, layers: list[int], heads: list[int], tile: int = GRID_TILE) -> go.Figure:
    """Small multiples of the chosen layers x heads as ONE heatmap trace of tiles.

    One trace instead of dozens of subplots keeps the browser fast; inputs longer than `tile`
    tokens are downsampled (query blocks averaged, key blocks summed) and the title says so.
    """
    small, edges = downsample(result.attn[np.ix_(layers, heads)], tile)
    size = small.shape[-1]
    gap = max(1, size // 8)
    step = size + gap
    canvas = np.full((len(layers) * step - gap, len(heads) * step - gap), np.nan, dtype=np.float32)
    for i in range(len(layers)):
        for j in range(len(heads)):
            canvas[i * step:i * step + size, j * step:j * step + size] = small[i, j]
    labels = safe_labels(block_labels(result.tokens, edges))
    # Hover: which layer/head and which tokens, without a customdata array per cell.
    row_text = [""] * canvas.shape[0]
    col_text = [""] * canvas.shape[1]
    for i, layer in enumerate(layers):
        for q in range(size):
            row_text[i * step + q] = f"L{counted(layer)} · {labels[q]}"
    for j, head in enumerate(heads):
        for k in range(size):
            col_text[j * step + k] = f"H{counted(head)} · {labels[k]}"
    xs, ys = unique_labels(col_text), unique_labels(row_text)
    fig = go.Figure(go.Heatmap(z=canvas, x=xs, y=ys,
                               colorscale="Blues", zmin=0, showscale=False, hoverongaps=False,
                               hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>"))
    centre = size // 2
    fig.update_xaxes(tickmode="array", tickvals=[xs[j * step + centre] for j in range(len(heads))],
                     ticktext=[f"head {counted(h)}" for h in heads], side="top")
    fig.update_yaxes(tickmode="array", tickvals=[ys[i * step + centre] for i in range(len(layers))],
                     ticktext=[f"layer {counted(lay)}" for lay in layers], autorange="reversed")
    note = f" — downsampled from {result.n} to {size} blocks per axis" if size < result.n else ""
    fig.update_layout(title=f"{len(layers)} layers × {len(heads)} heads{note}",
                      height=max(260, 90 * len(layers) + 80), margin=dict(l=10, r=10, t=70, b=10),
                      plot_bgcolor="white")
    return fig


def stat_figure(stats: dict[str, np.ndarray], name: str, title: str | None = None) -> go.Figure:
    """Layer x head heatmap of one statistic, the value printed in each cell."""
    values = stats[name]
    layers, heads = values.shape
    fig = heatmap(values, [f"H{counted(j)}" for j in range(heads)], [f"L{counted(i)}" for i in range(layers)],
                  title or f"{name} per head", colorscale="Viridis",
                  hover="%{y} %{x}: %{z:.3f}", height=max(240, 36 * layers + 110))
    fig.update_traces(texttemplate="%{z:.2f}", textfont_size=10)  # values are float32: 0.1 prints as 0.0999999…
    return fig


def ranking_figure(rows: list[dict], source: str, target: str, top: int = 15, *, zoom: bool = False) -> go.Figure:
    """Bar chart of the heads that link two tokens most, strongest on top.

    Weights are shares of a row's attention, so the axis runs 0-1 and a weak link looks weak;
    `zoom` scales it to the bars instead.
    """
    best = rows[:top][::-1]
    names = [f"L{counted(r['layer'])} H{counted(r['head'])}" for r in best]
    fig = go.Figure(go.Bar(x=[r["attention"] for r in best], y=names, orientation="h",
                           name=html.escape(f"{source} → {target}", quote=False),
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.add_bar(x=[r["reverse"] for r in best], y=names, orientation="h",
                name=html.escape(f"{target} → {source}", quote=False),
                hovertemplate="%{y}: %{x:.3f}<extra></extra>")
    fig.update_layout(barmode="group", height=60 + 34 * len(best),
                      xaxis=dict(title="attention weight", range=None if zoom else [0, 1]),
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.08))
    return fig


def _square_height(n_labels: int) -> int:
    return int(min(900, max(320, 14 * n_labels + 120)))
