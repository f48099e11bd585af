"""Figures for the explain page: one coloured row per explainer, deletion curves, a faithfulness bar.

Every row shares one colour scale: each method's scores divided by its largest |score|, red for
words that raised the explained probability, blue for words that lowered it. Raw scores are in
the hover text. Words are user text and are escaped.
"""
from __future__ import annotations

from html import escape

import numpy as np
import plotly.graph_objects as go

from core.explain.attributions import TITLES
from core.explain.faithfulness import RANDOM

_COLOURS = {"ig": "#e15759", "grad-input": "#f28e2b", "occlusion": "#59a14f", "attention": "#4e79a7",
            "rollout": "#76b7b2", RANDOM: "#9c9c9c"}


def _colour(value: float) -> str:
    """-1 (blue) .. 0 (white) .. +1 (red)."""
    v = float(np.clip(value, -1, 1))
    if v >= 0:
        return f"rgba(214, 39, 40, {0.08 + 0.8 * v:.2f})"
    return f"rgba(31, 119, 180, {0.08 + 0.8 * -v:.2f})"


def _unit(scores: np.ndarray) -> np.ndarray:
    top = float(np.abs(scores).max()) if len(scores) else 0.0
    return scores / top if top > 0 else scores


def attribution_html(explanation, tokens: bool = False) -> str:
    """A table: one row per method, the sentence's words (or tokens) coloured by that method."""
    if tokens:
        units = explanation.tokens
        keep = [i for i, w in enumerate(explanation.token_word) if w is not None]
        rows = {m: s[keep] for m, s in explanation.token_scores.items()}
        units = [units[i] for i in keep]
    else:
        units, rows = explanation.words.words, explanation.scores
    lines = []
    for method, scores in rows.items():
        cells = "".join(
            f"<span title='{escape(TITLES[method])}: {raw:+.4f}' style='background:{_colour(v)};padding:2px 4px;"
            f"margin:1px;border-radius:4px;display:inline-block'>{escape(u)}</span>"
            for u, raw, v in zip(units, scores, _unit(np.asarray(scores, dtype=float))))
        lines.append(f"<tr><td style='padding:4px 10px 4px 0;white-space:nowrap;vertical-align:top'>"
                     f"<b>{escape(TITLES[method])}</b></td><td style='line-height:2'>{cells}</td></tr>")
    legend = ("<div style='font-size:0.85em;margin-top:6px'>"
              f"<span style='background:{_colour(1)};padding:2px 6px;border-radius:4px'>raised it</span> "
              f"<span style='background:{_colour(-1)};padding:2px 6px;border-radius:4px'>lowered it</span> "
              "· each row scaled to its own largest score · attention rows are shares of attention, never "
              "negative · hover a word for the raw number</div>")
    return f"<table style='border-collapse:collapse'>{''.join(lines)}</table>{legend}"


def deletion_figure(curves: dict[str, list[float]], label: str) -> go.Figure:
    """Probability of `label` as the top-ranked words are deleted, one line per method."""
    fig = go.Figure()
    for method, ys in curves.items():
        fig.add_trace(go.Scatter(
            x=list(range(len(ys))), y=ys, mode="lines+markers", name=TITLES.get(method, "Random order"),
            line=dict(color=_COLOURS[method], dash="dot" if method == RANDOM else "solid"), cliponaxis=False))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25),
                      title=f"Deleting the top words: probability of “{escape(label)}”",
                      xaxis=dict(title="words deleted (most important first)", dtick=1),
                      yaxis=dict(title="probability", range=[0, 1], tickformat=".0%"))
    return fig


def faithfulness_figure(rows: list[dict]) -> go.Figure:
    """Comprehensiveness per method with its standard error, random order as the floor."""
    names = [r["method"] for r in rows]
    fig = go.Figure(go.Bar(
        x=[r["comprehensiveness"] for r in rows], y=[TITLES.get(n, "Random order") for n in names],
        orientation="h", marker_color=[_COLOURS[n] for n in names],
        error_x=dict(type="data", array=[r["± (s.e.)"] for r in rows])))
    fig.update_layout(height=80 + 40 * len(rows), margin=dict(l=10, r=10, t=40, b=10),
                      title="Comprehensiveness (higher = more faithful)", xaxis=dict(title="mean probability drop"))
    fig.update_yaxes(autorange="reversed")
    return fig
