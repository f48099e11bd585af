"""The embedding projector: every layer's token cloud in 2-D or 3-D, aligned so a layer slider moves points.

Each layer is reduced on its own (PCA, or UMAP started from the layer before), which leaves every
layer with arbitrary axes: the next layer's cloud would come out rotated or mirrored. Orthogonal
Procrustes finds the rotation/reflection R minimising ||P_l R - P_(l-1)||_F (R = U V^T from the
SVD of P_l^T P_(l-1)); applying it changes no distance within a layer, so what moves between
frames is the token, not the axes.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.linalg import orthogonal_procrustes
from sklearn.decomposition import PCA

from core.errors import UserError
from core.layers.states import TokenTable

METHODS = ("pca", "umap")
MAX_SENTENCES = 60
MAX_POINTS = 1500  # UMAP's neighbour graph and the browser both slow down beyond this


def reduce(matrix: np.ndarray, method: str, dims: int, start: np.ndarray | None = None,
           seed: int = 0) -> tuple[np.ndarray, list[float] | None]:
    """(n, hidden) -> (n, dims) by PCA or UMAP (UMAP begins at `start`, e.g. the previous layer);
    and, for PCA, the share of the variance on each axis."""
    if method == "pca":
        pca = PCA(n_components=dims, random_state=seed)
        return pca.fit_transform(matrix), pca.explained_variance_ratio_.round(4).tolist()
    import umap  # imported on first use: numba compiles for several seconds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state", spectral init notes
        found = umap.UMAP(n_components=dims, n_neighbors=min(15, len(matrix) - 1), metric="cosine",
                          init=start if start is not None else "spectral", random_state=seed)
        return found.fit_transform(matrix), None


def align(layers: list[np.ndarray]) -> list[np.ndarray]:
    """Rotate (or mirror) each layer's points onto the previous layer's, keeping its own distances."""
    out = [layers[0] - layers[0].mean(axis=0)]
    for points in layers[1:]:
        centred = points - points.mean(axis=0)
        rotation, _scale = orthogonal_procrustes(centred, out[-1])
        out.append(centred @ rotation)
    return out


@dataclass
class Projection:
    """Token positions at every layer, aligned; rows follow the token table's (possibly capped) rows."""

    method: str
    dims: int
    points: np.ndarray  # (layers + 1, n, dims)
    rows: np.ndarray  # which rows of the table are shown
    explained: list[list[float]] | None  # PCA: share of variance on each axis, per layer
    notes: list[str]


def project(table: TokenTable, method: str = "pca", dims: int = 2, seed: int = 0) -> Projection:
    """Reduce every layer of `table` to `dims` dimensions and align the layers."""
    if method not in METHODS:
        raise UserError(f"Projection method must be one of {', '.join(METHODS)}, not '{method}'.")
    if dims not in (2, 3):
        raise UserError("The projector draws 2 or 3 dimensions.")
    n = len(table.tokens)
    if n < max(dims + 2, 5):
        raise UserError(f"A projection needs at least {max(dims + 2, 5)} tokens; these sentences have {n}. "
                        "Add words or sentences.")
    rows = np.arange(min(n, MAX_POINTS))
    notes = [f"Showing the first {MAX_POINTS} of {n} tokens."] if n > MAX_POINTS else []
    reduced, explained = [], []
    for layer in range(table.n_layers):
        points, shares = reduce(table.states[layer, rows], method, dims, reduced[-1] if reduced else None, seed)
        reduced.append(points)
        explained.append(shares)
    return Projection(method, dims, np.stack(align(reduced)), rows, explained if method == "pca" else None, notes)
