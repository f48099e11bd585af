"""Figures for the fine-tuning page: live training curves, the confusion matrix, class probabilities.

Label names come from user data: they are HTML-escaped (plotly renders <b>/<a> in labels).
"""
from __future__ import annotations

from html import escape

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures import heatmap


def training_curves(events: list[dict], total_steps: int | None = None, metric: str = "accuracy") -> go.Figure:
    """Training loss per step and validation loss / `metric` (accuracy, or F1: entities, answers)
    per evaluation, against the step.

    Loss and the metric share the x axis but not the scale: the metric is on the right axis, which
    stops at 100% (points up there draw over its edge rather than the axis running to 102%).
    """
    name = {"accuracy": "accuracy", "f1": "F1"}[metric]
    steps = [e for e in events if e.get("type") == "step"]
    steps = steps[::max(1, len(steps) // 2000)]  # a browser draws 2,000 points per second easily, not 50,000
    evals = [e for e in events if e.get("type") == "eval"]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=[e["step"] for e in steps], y=[e["loss"] for e in steps], name="training loss",
                             mode="lines", line=dict(color="#4e79a7", width=1.5),
                             hovertemplate="step %{x}: loss %{y:.3f}<extra></extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(x=[e["step"] for e in evals], y=[e["eval_loss"] for e in evals],
                             name="validation loss", mode="lines+markers", line=dict(color="#f28e2b"),
                             hovertemplate="step %{x}: validation loss %{y:.3f}<extra></extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(x=[e["step"] for e in evals], y=[e[metric] for e in evals],
                             name=f"validation {name}", mode="lines+markers", line=dict(color="#59a14f", dash="dot"),
                             cliponaxis=False,
                             hovertemplate=f"step %{{x}}: {name} %{{y:.1%}}<extra></extra>"), secondary_y=True)
    best = [e for e in evals if e.get("best")]
    if best:
        last = best[-1]
        fig.add_trace(go.Scatter(x=[last["step"]], y=[last[metric]], name="best checkpoint", mode="markers",
                                 marker=dict(symbol="star", size=14, color="#e15759"), cliponaxis=False,
                                 hovertemplate=f"best: step %{{x}}, {name} %{{y:.1%}}<extra></extra>"),
                      secondary_y=True)
    fig.update_xaxes(title_text="optimizer step", range=[0, total_steps] if total_steps else None)
    fig.update_yaxes(title_text="cross-entropy loss", rangemode="tozero", secondary_y=False)
    # Its own ticks every 20% (an overlaying axis otherwise copies the loss axis' gridlines: 0%, 19%, 38% …).
    fig.update_yaxes(title_text=name, tickformat=".0%", range=[0, 1], dtick=0.2, showgrid=False, secondary_y=True)
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", y=1.12, x=0))
    return fig


def confusion_figure(confusion: list[list[int]], label_names: list[str]) -> go.Figure:
    """Rows: the true class; columns: what the model predicted; the diagonal is what it got right."""
    names = [escape(n) for n in label_names]
    fig = heatmap(confusion, x_labels=names, y_labels=names, title="Confusion matrix (validation)",
                  hover="true %{y}, predicted %{x}: %{z:.0f}", height=160 + 40 * len(names))
    fig.update_traces(texttemplate="%{z:.0f}", showscale=False)
    fig.update_xaxes(title_text="predicted")
    fig.update_yaxes(title_text="true")
    return fig


def class_probabilities(scores: dict[str, float]) -> go.Figure:
    """One bar per class, most likely on top, on a 0-100% axis."""
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    fig = go.Figure(go.Bar(x=[p for _, p in ranked], y=[escape(n) for n, _ in ranked], orientation="h",
                           text=[f"{p:.1%}" for _, p in ranked], textposition="outside", cliponaxis=False, textangle=0,
                           marker_color="#4e79a7",
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    fig.update_layout(height=60 + 32 * len(ranked), margin=dict(l=10, r=40, t=10, b=10),
                      xaxis=dict(title="probability", tickformat=".2~%", range=[0, 1]))
    fig.update_yaxes(autorange="reversed")
    return fig
