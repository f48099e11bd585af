"""Figures for the pretraining lab: training curves, student vs teacher, pruning curves, ensembles."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.explain.attention import counted
from core.figures import heatmap


def _smooth(values: list[float], window: int = 10) -> list[float]:
    """Trailing mean: single-batch losses are noisy, the trend is the lesson."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def pretrain_curves(steps: list[dict], evals: list[dict]) -> go.Figure:
    """MLM / NSP loss (left) and accuracy (right) per step, smoothed, with held-out points."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    x = [s["step"] for s in steps]
    colors = {"mlm": "#1f77b4", "nsp": "#ff7f0e"}
    for col, metric in ((1, "loss"), (2, "acc")):
        for task in ("mlm", "nsp"):
            key = f"{task}_{metric}"
            fig.add_trace(go.Scatter(x=x, y=_smooth([s[key] for s in steps]), mode="lines",
                                     name=f"{task.upper()} (training, smoothed)", line=dict(color=colors[task]),
                                     legendgroup=task, showlegend=col == 1), row=1, col=col)
            if evals:
                fig.add_trace(go.Scatter(x=[e["step"] for e in evals], y=[e[key] for e in evals],
                                         mode="markers", marker=dict(color=colors[task], size=9, symbol="diamond"),
                                         name=f"{task.upper()} (held-out)", legendgroup=task, showlegend=col == 1),
                              row=1, col=col)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(tickformat=".0%", range=[0, 1], row=1, col=2)
    fig.update_traces(cliponaxis=False, row=1, col=2)  # a held-out point at 100% draws over the axis end
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))
    return fig


def compare_bars(rows: list[dict]) -> go.Figure:
    """Accuracy, latency and size side by side for teacher / student / baseline rows."""
    names = [r["model"] for r in rows]
    fig = make_subplots(rows=1, cols=3, subplot_titles=("Test accuracy", "Latency per text (ms)", "Size (MB)"))
    for col, key, fmt in ((1, "accuracy", ".1%"), (2, "latency_ms", ".1f"), (3, "size_mb", ".1f")):
        values = [r[key] for r in rows]
        fig.add_trace(go.Bar(x=names, y=values, text=[format(v, fmt) for v in values], textposition="auto",
                             marker_color=["#7f7f7f", "#2ca02c", "#d62728", "#9467bd"][:len(rows)], showlegend=False),
                      row=1, col=col)
    fig.update_yaxes(tickformat=".0%", range=[0, 1], row=1, col=1)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def student_training(history: list[dict]) -> go.Figure:
    """Training loss (smoothed) and validation accuracy per epoch of each trained model."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss (smoothed)", "Validation accuracy"))
    for i, name in enumerate(dict.fromkeys(e["model"] for e in history)):
        color = ["#2ca02c", "#d62728", "#9467bd", "#8c564b"][i % 4]
        steps = [e for e in history if e["model"] == name and e["type"] == "step"]
        evals = [e for e in history if e["model"] == name and e["type"] == "eval"]
        fig.add_trace(go.Scatter(x=[e["step"] for e in steps], y=_smooth([e["loss"] for e in steps]), name=name,
                                 line=dict(color=color), legendgroup=name), row=1, col=1)
        fig.add_trace(go.Scatter(x=[e["epoch"] for e in evals], y=[e["accuracy"] for e in evals], name=name,
                                 mode="lines+markers", line=dict(color=color), legendgroup=name, showlegend=False),
                      row=1, col=2)
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig.update_xaxes(title_text="epoch", dtick=1, row=1, col=2)
    fig.update_yaxes(tickformat=".0%", range=[0, 1], row=1, col=2)
    fig.update_traces(cliponaxis=False, row=1, col=2)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def importance_map(importance) -> go.Figure:
    z = np.asarray(importance, dtype=float)
    return heatmap(z, [f"head {counted(h)}" for h in range(z.shape[1])], [f"layer {counted(l)}" for l in range(z.shape[0])],
                   title="Head importance (|∂loss/∂gate|, normalised per layer)", colorscale="Viridis",
                   hover="%{y}, %{x}: %{z:.3f}", height=80 + 32 * z.shape[0])


def pruning_curve(rows: list[dict], x_key: str, x_title: str, control: list[dict] | None = None) -> go.Figure:
    """Accuracy (left axis) and speed-up over the unpruned model (right axis) along the pruning axis."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = [r[x_key] for r in rows]
    fig.add_trace(go.Scatter(x=x, y=[r["accuracy"] for r in rows], name="accuracy", mode="lines+markers",
                             line=dict(color="#1f77b4", width=3), cliponaxis=False))
    if control:
        fig.add_trace(go.Scatter(x=[r[x_key] for r in control], y=[r["accuracy"] for r in control],
                                 name="accuracy, random order", mode="lines+markers",
                                 line=dict(color="#1f77b4", dash="dot"), cliponaxis=False))
    fig.add_trace(go.Scatter(x=x, y=[r["speedup"] for r in rows], name="speed-up (×)", mode="lines+markers",
                             line=dict(color="#ff7f0e")), secondary_y=True)
    fig.update_xaxes(title_text=x_title, tickformat=".0%" if x_key == "sparsity" else None)
    fig.update_yaxes(title_text="test accuracy", tickformat=".0%", range=[0, 1], secondary_y=False)
    # Round ticks of its own (an overlaying axis otherwise copies the accuracy gridlines: 0.407, 0.814 …).
    fig.update_yaxes(title_text="speed-up vs unpruned", secondary_y=True, rangemode="tozero", tickmode="auto",
                     showgrid=False)
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def ensemble_bars(report: dict) -> go.Figure:
    """Each member's accuracy, the ensembles (mean, vote, stacking when run), and the oracle ceiling."""
    methods = [m for m in ("mean", "vote", "stack") if m in report]
    names = [m["model"] for m in report["members"]] + [f"ensemble: {m}" for m in methods]
    values = [m["accuracy"] for m in report["members"]] + [report[m]["accuracy"] for m in methods]
    colors = ["#7f7f7f"] * len(report["members"]) + ["#2ca02c", "#17becf", "#e15759"][:len(methods)]
    fig = go.Figure(go.Bar(x=names, y=values, text=[f"{v:.1%}" for v in values], textposition="auto",
                           marker_color=colors))
    fig.add_hline(y=report["oracle"], line_dash="dash", annotation_text=f"oracle (any member right): {report['oracle']:.1%}")
    low = max(0.0, min(values) - 0.1)
    fig.update_yaxes(tickformat=".0%", range=[low, min(1.0, max(values + [report["oracle"]]) + 0.03)])
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10), title="Test accuracy")
    return fig


def agreement_map(report: dict) -> go.Figure:
    names = [m["model"] for m in report["members"]]
    return heatmap(report["agreement"], names, names, title="How often two members predict the same label",
                   colorscale="Greens", zmin=0, zmax=1, hover="%{y} vs %{x}: %{z:.1%}", height=120 + 40 * len(names))


def twin_curves(steps: list[dict]) -> go.Figure:
    """The decoder's and the encoder's training loss per step (smoothed), on one axis."""
    fig = go.Figure()
    x = [s["step"] for s in steps]
    for key, name, color in (("decoder_loss", "decoder: next token", "#e15759"),
                             ("encoder_loss", "encoder: masked words", "#4e79a7")):
        fig.add_trace(go.Scatter(x=x, y=_smooth([s[key] for s in steps]), mode="lines", name=name,
                                 line=dict(color=color)))
    fig.add_hline(y=float(np.log(30522)), line_dash="dot", annotation_text="ln V: a uniform guess")
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.25),
                      xaxis_title="step", yaxis_title="cross-entropy (nats)", title="Training loss")
    return fig


def visibility_figure(tokens: list[str], causal: bool) -> go.Figure:
    """Which tokens each token may attend to: all of them (encoder) or itself and those before (decoder)."""
    n = len(tokens)
    seen = np.tril(np.ones((n, n))) if causal else np.ones((n, n))
    title = "Decoder: causal mask" if causal else "Encoder: every token sees every token"
    return heatmap(seen, tokens, tokens, title=title, colorscale=[[0, "#f4f4f4"], [1, "#4e79a7"]], zmin=0, zmax=1,
                   hover="%{y} sees %{x}: %{z:.0f}", height=140 + 22 * n)
