"""Figures for the 'Inside BERT' page: matrices with token rows, attention grids, predictions."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.figures import heatmap


def _height(rows: int) -> int:
    return 140 + 22 * rows


def token_matrix(matrix, tokens, title: str, dims: slice | None = None) -> go.Figure:
    """(T, D) activations, one row per token; only the columns in `dims` when given."""
    z = np.asarray(matrix, dtype=float)
    dims = dims or slice(0, z.shape[1])
    z = z[:, dims]
    bound = float(np.abs(z).max()) or 1.0
    columns = [f"d{d}" for d in range(dims.start, dims.start + z.shape[1])]
    return heatmap(z, columns, tokens, title, colorscale="RdBu", zmin=-bound, zmax=bound,
                   hover="%{y}, %{x}: %{z:.4f}", height=_height(len(tokens)))


def token_grid(matrix, tokens, title: str, hidden=None, probabilities: bool = False) -> go.Figure:
    """(T, T) scores or probabilities, query rows × key columns; `hidden` (T, T) bool cells are blank."""
    z = np.asarray(matrix, dtype=float).copy()
    if hidden is not None:
        z[np.asarray(hidden, dtype=bool)] = np.nan
    if probabilities:
        return heatmap(z, tokens, tokens, title, zmin=0, zmax=1, hover="%{y} → %{x}: %{z:.3f}",
                       height=_height(len(tokens)))
    bound = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    return heatmap(z, tokens, tokens, title, colorscale="RdBu", zmin=-bound, zmax=bound,
                   hover="%{y} → %{x}: %{z:.3f}", height=_height(len(tokens)))


def layer_change(change, tokens) -> go.Figure:
    """(L, T) relative change of each token's vector, layer by layer."""
    z = np.asarray(change, dtype=float)
    layers = [f"layer {i + 1}" for i in range(z.shape[0])]
    return heatmap(z, tokens, layers, "How much each layer rewrites each token", colorscale="Viridis",
                   zmin=0, hover="%{y}, %{x}: ‖ΔX‖/‖X‖ = %{z:.3f}", height=_height(len(layers)))


def predictions(pairs: list[tuple[str, float]], title: str) -> go.Figure:
    """Horizontal bars of (token, probability), best on top, on a 0-100% axis."""
    words = [w for w, _ in pairs][::-1]
    probs = [p for _, p in pairs][::-1]
    fig = go.Figure(go.Bar(x=probs, y=words, orientation="h", text=[f"{p:.1%}" for p in probs],
                           textposition="outside", cliponaxis=False, textangle=0,
                           hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_layout(title=title, xaxis=dict(range=[0, 1], tickformat=".2~%"),
                      height=80 + 28 * len(pairs),
                      margin=dict(l=10, r=40, t=40, b=10))
    fig.update_yaxes(type="category")
    return fig
