"""Figures for BERT's other tasks: a text with its entities or its answer highlighted, and the
start / end probabilities from which a question-answering model picks its span.

Texts come from users: everything is HTML-escaped before it is marked up.
"""
from __future__ import annotations

from html import escape

import plotly.graph_objects as go

# One colour per entity type, the same on every run; types past these share the last one.
COLOURS = {"PER": "#f6c6c6", "LOC": "#c6e0f6", "ORG": "#cdeccd", "MISC": "#f6e3b4"}
OTHER = "#e3d4f0"
ANSWER = "#ffe58a"


def colour_of(kind: str) -> str:
    return COLOURS.get(kind, OTHER)


def highlight(text: str, spans: list[dict]) -> str:
    """`text` as HTML with each {"start", "end", "type"} span marked and labelled (spans must not overlap)."""
    parts, cursor = [], 0
    for span in sorted(spans, key=lambda s: s["start"]):
        kind = span.get("type", "answer")
        parts.append(escape(text[cursor:span["start"]]))
        parts.append(f'<mark style="background:{ANSWER if kind == "answer" else colour_of(kind)};padding:0.1em 0.25em;'
                     f'border-radius:0.3em">{escape(text[span["start"]:span["end"]])}'
                     f'<sup style="font-size:0.65em;font-weight:600;margin-left:0.25em">{escape(kind)}</sup></mark>')
        cursor = span["end"]
    parts.append(escape(text[cursor:]))
    return f'<div style="line-height:2.1;font-size:1.05rem">{"".join(parts)}</div>'


def span_probabilities(tokens: list[str], starts: list[float], ends: list[float], in_context: list[bool],
                       answer: tuple[int, int] | None = None) -> go.Figure:
    """Two bar rows over the window's tokens: P(the answer starts here) and P(it ends here).

    Tokens outside the context (the question, [CLS], [SEP]) are grey: the span is only chosen
    among context tokens. The chosen first and last tokens are outlined. The axis runs 0-100%.
    """
    x = list(range(len(tokens)))
    labels = [escape(t) for t in tokens]
    fig = go.Figure()
    for name, probs, colour, chosen in (("start", starts, "#4e79a7", answer and answer[0]),
                                        ("end", ends, "#e15759", answer and answer[1])):
        fig.add_trace(go.Bar(
            x=x, y=probs, name=f"P({name})", customdata=labels,
            marker=dict(color=[colour if c else "#c8c8c8" for c in in_context],
                        line=dict(color="black", width=[2 if answer and k == chosen else 0 for k in x])),
            hovertemplate=f"%{{customdata}}: P({name}) %{{y:.3f}}<extra></extra>"))
    fig.update_layout(barmode="group", height=320, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", y=1.12),
                      xaxis=dict(tickmode="array", tickvals=x, ticktext=labels, tickangle=-60,
                                 range=[-0.5, len(tokens) - 0.5]),
                      yaxis=dict(title="probability", tickformat=".2~%", range=[0, 1]))
    return fig
