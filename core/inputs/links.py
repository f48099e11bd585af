"""Links that restore a view: the page's address, without what is private and what is too long.

A page keeps its inputs in its query string (Streamlit's `bind="query-params"`); a shared link is
that query string minus the student's own id, so it restores the view but never hands over another
student's models or jobs.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

PRIVATE = ("me",)  # the session id: it owns the student's models and jobs
TEXT_CAP = 2_000   # characters one value may take in a link: a URL is no place for a document


@dataclass(frozen=True)
class ShareLink:
    url: str
    left_out: tuple[str, ...]  # parameters longer than TEXT_CAP


def share_link(base_url: str, params: dict[str, list[str]]) -> ShareLink:
    """`base_url` with `params` (repeated keys for lists), minus PRIVATE ones and over-long values."""
    left_out = tuple(sorted(k for k, values in params.items() if any(len(v) > TEXT_CAP for v in values)))
    kept = {k: v for k, v in params.items() if k not in PRIVATE and k not in left_out}
    return ShareLink(base_url + ("?" + urlencode(kept, doseq=True) if kept else ""), left_out)

