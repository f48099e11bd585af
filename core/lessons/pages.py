"""Which pages the app has and which settings each keeps in its address.

A lesson step presets a page through the same address parameters "Share this view" puts in a link,
so the settings a lesson may name are the ones the page binds to its address. They are read from
the sources (app.py's PAGES list, each page's `shared("key")` / `shared_text("key")` calls) rather
than listed again here, so a page that gains a shareable widget is at once usable in lessons.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVERY_PAGE = frozenset({"model"})  # the sidebar's model: every page carries it
_SHARED = re.compile(r"""\bshared(?:_text)?\(\s*["']([A-Za-z0-9_]+)["']\s*\)""")


@dataclass(frozen=True)
class PageInfo:
    name: str  # the script's stem: what a lesson file writes, and the page's address
    path: str  # relative to the app's root, as st.page_link takes it
    title: str
    settings: frozenset[str]


def app_pages(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """(path, title, icon) of every page app.py navigates to, in course order, read without Streamlit."""
    tree = ast.parse((root / "app.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES":
            return [page for page in ast.literal_eval(node.value) if (root / page[0]).is_file()]
    raise RuntimeError("app.py has no PAGES list")


@lru_cache(maxsize=4)
def page_catalog(root: Path = ROOT) -> dict[str, PageInfo]:
    """name -> PageInfo for every page, with the settings its address can carry."""
    catalog = {}
    for path, title, _icon in app_pages(root):
        source = (root / path).read_text(encoding="utf-8")
        name = Path(path).stem
        catalog[name] = PageInfo(name, path, title, frozenset(_SHARED.findall(source)) | EVERY_PAGE)
    return catalog
