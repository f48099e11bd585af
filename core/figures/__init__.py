"""What the pages draw: plotly figures (one module per page topic, shared building blocks here),
bertviz's views made to work offline, and the model diagram."""
from __future__ import annotations

from html import escape

import numpy as np
import plotly.graph_objects as go


def heatmap(matrix, x_labels=None, y_labels=None, title: str = "", colorscale: str = "Blues",
            zmin=None, zmax=None, hover: str = "%{y} → %{x}: %{z:.3f}", height: int | None = None) -> go.Figure:
    """A labelled heatmap (rows top to bottom) with the matrix shape in the title.

    Labels are escaped (they are user text) and duplicates made unique so plotly does not merge
    rows; values stay float32, half the bytes of float64 for a 512 × 512 map.
    """
    z = np.asarray(matrix, dtype=np.float32)
    xs = unique_labels(safe_labels(x_labels)) if x_labels is not None else None
    ys = unique_labels(safe_labels(y_labels)) if y_labels is not None else None
    shape = " × ".join(str(d) for d in z.shape)
    fig = go.Figure(go.Heatmap(z=z, x=xs, y=ys, colorscale=colorscale, zmin=zmin, zmax=zmax,
                               hovertemplate=hover + "<extra></extra>",
                               colorbar=dict(tickformat=".3~g")))  # a near-flat map's ticks: 5.64, not 5.64376
    fig.update_layout(title=f"{title} <sub>({shape})</sub>" if title else None,
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10), height=height)
    fig.update_yaxes(autorange="reversed")
    return fig


def safe_labels(labels) -> list[str]:
    """Tokens are user text, and plotly renders <b>, <a> etc. inside labels: escape them."""
    return [escape(str(label), quote=False) for label in labels]


def unique_labels(labels) -> list[str]:
    """['the', 'cat', 'the'] -> ['the', 'cat', 'the·2']: plotly merges equal category labels."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        label = str(label)
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label}·{seen[label]}")
    return out
