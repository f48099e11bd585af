""""Download this page": one HTML file with what a page showed — the model, the inputs, every chart
(still interactive: plotly.js is inside, so it opens offline) and every table — for a lab report,
a handout or a question to the teacher. Everything the user typed is escaped."""
from __future__ import annotations

from datetime import datetime, timezone
from html import escape

import pandas as pd
from plotly.offline import get_plotlyjs

from core.figures.export import for_export

MAX_ROWS = 500  # per table: a report, not a dataset export

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.meta{color:#666}"""


def _table_html(data) -> str:
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    cut = f"<p class=meta>First {MAX_ROWS} of {len(frame):,} rows.</p>" if len(frame) > MAX_ROWS else ""
    return frame.head(MAX_ROWS).to_html(escape=True, border=0, na_rep="") + cut


def page_report(page: str, model: str, inputs: dict[str, list[str]], figures: list, tables: list,
                link: str = "") -> str:
    """The page as one standalone HTML document."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"<h1>BERT Playground · {escape(page)}</h1>",
             f"<p class=meta>Model: <b>{escape(model)}</b> · saved {when}"
             + (f' · <a href="{escape(link)}">open this view</a>' if link else "") + "</p>"]
    if inputs:
        rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(' | '.join(v))}</td></tr>" for k, v in inputs.items())
        parts.append(f"<h2>Inputs</h2><table>{rows}</table>")
    if figures:
        parts.append("<h2>Charts</h2>")
        parts += [for_export(fig).to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
                  for fig in figures]
    if tables:
        parts.append("<h2>Tables</h2>")
        parts += [_table_html(t) for t in tables]
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>BERT Playground · {escape(page)}</title><style>{_STYLE}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>\n" + "\n".join(parts) + "\n</body></html>")
