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
_HELPERS = re.compile(r"^from pages\.(_\w+) import", re.MULTILINE)
_SHARERS = ("shared", "shared_text")
_NAMES_A_SETTING = re.compile(r"""\bshared(?:_text)?\(\s*["']""")


@dataclass(frozen=True)
class PageInfo:
    name: str  # the script's stem: what a lesson file writes, and the page's address
    path: str  # relative to the app's root, as st.page_link takes it
    title: str
    settings: frozenset[str]
    labels: dict[str, str]  # setting -> its widget's label, as the page shows it (for "Download this page")
    defaults: dict[str, object]  # setting -> the value the page starts with, where its source says it plainly


# Each reader below parses sources once per process and keeps the result (not to be changed): on
# Python 3.11 two threads building ASTs at once can fail (`SystemError: AST constructor recursion
# depth mismatch`), so the server reads them all at start-up, under Streamlit's compile lock
# (pages/_startup.py), and never parses again while students' scripts compile.
@lru_cache(maxsize=4)
def app_pages(root: Path = ROOT) -> tuple[tuple[str, str, str], ...]:
    """(path, title, icon) of every page app.py navigates to, in course order, read without Streamlit."""
    tree = ast.parse((root / "app.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES":
            return tuple(page for page in ast.literal_eval(node.value) if (root / page[0]).is_file())
    raise RuntimeError("app.py has no PAGES list")


@lru_cache(maxsize=4)
def page_purposes(root: Path = ROOT) -> tuple[tuple[str, str, str, str], ...]:
    """(path, title, icon, what it teaches) of every page after Home, in course order: what the Home
    page lists, from the one PAGES list and each page's own first line, so no page is left out."""
    pages = []
    for path, title, icon in app_pages(root)[1:]:
        doc = ast.get_docstring(ast.parse((root / path).read_text(encoding="utf-8"))) or ""
        purpose = doc.split("\n")[0].split(": ", 1)[-1]
        pages.append((path, title, icon, purpose[:1].upper() + purpose[1:]))
    return tuple(pages)


@lru_cache(maxsize=4)
def page_catalog(root: Path = ROOT) -> dict[str, PageInfo]:
    """name -> PageInfo for every page, with the settings its address can carry."""
    catalog = {}
    for path, title, _icon in app_pages(root):
        source = (root / path).read_text(encoding="utf-8")
        for helper in _HELPERS.findall(source):  # widgets a page draws through its own helper module
            text = (root / "pages" / f"{helper}.py").read_text(encoding="utf-8")
            if _NAMES_A_SETTING.search(text):
                source += text
        name = Path(path).stem
        labels = _settings(source)
        catalog[name] = PageInfo(name, path, title, frozenset(labels) | EVERY_PAGE, labels, _defaults(source))
    return catalog


def _setting_keys(widget: ast.Call) -> list[str]:
    """The settings a widget call binds: `**shared("key")` (or `**(shared("a") if … else shared("b"))`)."""
    return [call.args[0].value for keyword in widget.keywords if keyword.arg is None
            for call in ast.walk(keyword.value)
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") in _SHARERS and call.args
            and isinstance(call.args[0], ast.Constant)]


def _settings(source: str) -> dict[str, str]:
    """The settings a page's source binds and each widget's label."""
    return {key: _label(node) or key for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            for key in _setting_keys(node)}


def _label(widget: ast.Call) -> str:
    """A widget call's label as the page shows it: its first argument or `label=`."""
    label = widget.args[0] if widget.args else next((k.value for k in widget.keywords if k.arg == "label"), None)
    if isinstance(label, ast.List):  # st.tabs([...]): its label is the open tab's name
        return "Open tab"
    return _text(label)


def _text(node) -> str:
    """Label text written in the source: a string, both sides of a conditional, an f-string's fixed parts."""
    if isinstance(node, ast.IfExp):  # "Sentence A" if pair else "Your text"
        return " / ".join(filter(None, (_text(node.body), _text(node.orelse))))
    if isinstance(node, ast.JoinedStr):  # what is computed shows as …
        return "".join(part.value if isinstance(part, ast.Constant) else "…" for part in node.values).strip()
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


_VALUE_AT = {"text_input": 1, "text_area": 1, "slider": 3, "number_input": 3, "select_slider": 2}
_CHOICES = ("radio", "selectbox", "tabs")


def _defaults(source: str) -> dict[str, object]:
    """The value each setting starts with, read from the widget call (or the page's `keep(...)`) where
    it is written as a literal or a named constant; a lesson step that leaves a setting out puts it
    back to this, so nothing of an earlier step or lesson survives on the student's screen."""
    tree = ast.parse(source)
    names = _Constants(tree)

    def value(node):
        if isinstance(node, ast.Name):
            return names[node.id]  # a KeyError where the name is no literal: that setting's start is unknown
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError):
            raise LookupError from None

    found, kept = {}, set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if getattr(node.func, "id", "") == "keep":  # its widgets take their start from here, not their call
            for keyword in node.keywords:
                kept.add(keyword.arg)
                try:
                    found[keyword.arg] = value(keyword.value)
                except LookupError:
                    pass
            continue
        keys = _setting_keys(node)
        kind, given = getattr(node.func, "attr", ""), {k.arg: k.value for k in node.keywords if k.arg}
        try:
            if len(keys) != 1 or keys[0] in found or keys[0] in kept:
                continue
            if kind in _VALUE_AT:
                at = _VALUE_AT[kind]
                node_value = node.args[at] if len(node.args) > at else given.get("value")
                if node_value is None and not kind.startswith("text"):
                    continue  # a number or slider without a value: the page sets it, unknown here
                found[keys[0]] = "" if node_value is None else value(node_value)
            elif kind in _CHOICES:
                options = value(node.args[0] if kind == "tabs" else node.args[1])
                found[keys[0]] = list(options)[value(given["index"]) if "index" in given else 0]
            elif kind == "toggle":
                found[keys[0]] = value(given["value"]) if "value" in given else False
        except LookupError:  # a value the page computes: its start is not known here
            pass
    return found


class _Constants(dict):
    """Module-level names a page gives literal values, and, looked up when first asked for, those it
    imports from `core` modules that give them literal values (read from their source: nothing is
    imported, so reading the pages costs the server no start-up)."""

    def __init__(self, tree: ast.Module):
        super().__init__(_literals(tree))
        self.imported = {alias.asname or alias.name: (node.module, alias.name) for node in tree.body
                         if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core.")
                         for alias in node.names}

    def __missing__(self, name: str):
        module, original = self.imported[name]
        return _module_literals(module)[original]


@lru_cache(maxsize=64)
def _module_literals(module: str) -> dict[str, object]:
    source = ROOT.joinpath(*module.split(".")).with_suffix(".py")
    return _literals(ast.parse(source.read_text(encoding="utf-8"))) if source.is_file() else {}


def _literals(tree: ast.Module) -> dict[str, object]:
    """`NAME = <a literal>` at a module's top level."""
    names = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError):
                pass
    return names
