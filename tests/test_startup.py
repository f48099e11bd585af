"""pages/_startup.py: every script starts with it, and it knows what the scripts import."""
from __future__ import annotations

import ast

import pytest

from pages import _startup


def first_statements(path) -> list[str]:
    """The first two statements after the docstring and `from __future__`, as source text."""
    body = ast.parse(path.read_text()).body
    body = [n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
            and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
    return [ast.unparse(n) for n in body[:2]]


@pytest.mark.parametrize("script", [p for p in _startup.app_scripts() if not p.name.startswith("_")],
                         ids=lambda p: p.name)
def test_every_script_starts_up_before_its_heavy_imports(script):
    statements = first_statements(script)
    if script.name == "app.py":  # st.set_page_config must come first in the entry point
        body = [ast.unparse(n) for n in ast.parse(script.read_text()).body]
        assert body.index("start()") < min(i for i, s in enumerate(body) if "pages._common" in s or "core" in s)
    else:
        assert statements == ["from pages._startup import start", "start()"]


def test_script_imports_lists_top_level_modules_once_in_order(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from __future__ import annotations\nimport os, json\nfrom core.models.loading import X\n"
                 "def f():\n    import lazy_inside_a_function\n")
    b.write_text("import json\nfrom . import relative\nfrom pandas import DataFrame\n")
    assert _startup.script_imports([a, b]) == ["os", "json", "core.models.loading", "core.models.loading.X", "pandas",
                                                "pandas.DataFrame"]


def test_the_app_scripts_imports_include_the_heavy_ones():
    names = _startup.script_imports(_startup.app_scripts())
    assert {"core.models.loading", "core.explain.masked", "core.figures.bertviz", "pages._common", "pandas"} <= set(names)
    assert _startup._is_module("core.figures.bertviz") and not _startup._is_module("core.errors.UserError")


def test_streamlit_still_runs_legacy_pages_through_mpa_v1():
    """The legacy-mode check looks for this function on the stack; an upgrade that renames it must fail here."""
    from streamlit.runtime.scriptrunner import script_runner

    assert callable(script_runner._mpa_v1)


def test_outside_a_server_no_run_is_legacy():
    assert _startup._legacy_run() is False


def test_the_warm_up_imports_the_libraries_pages_and_jobs_use_later():
    """Libraries first imported from several entry points at once (evaluation and PCA both enter
    sklearn) must already be loaded by the warm-up, so no two threads import them first together.
    (transformers and its model classes are loaded by the warm-up's model load.)"""
    import subprocess
    import sys

    code = ("import importlib, sys; from pages import _startup\n"
            "for n in _startup.script_imports(_startup.app_scripts()):\n"
            "    n != 'pages._startup' and _startup._is_module(n) and importlib.import_module(n)\n"
            "print(' '.join(m for m in ('torch', 'sklearn.metrics', 'sklearn.decomposition',"
            " 'accelerate', 'bertviz', 'core.models.loading', 'core.training.kit') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=_startup.ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["torch", "sklearn.metrics", "sklearn.decomposition", "accelerate",
                                   "bertviz", "core.models.loading", "core.training.kit"]


def test_the_sources_are_parsed_once_and_outside_a_server_without_streamlits_lock():
    """Python 3.11 cannot build two ASTs at once on two threads: the page readers parse once per
    process (the warm-up does it, under Streamlit's compile lock), then answer from memory."""
    from contextlib import nullcontext

    from core.lessons.pages import app_pages, page_catalog, page_purposes

    for reader in (app_pages, page_catalog, page_purposes):
        assert reader() is reader()
    assert isinstance(_startup._streamlit_compiling(), nullcontext)  # AppTest and the CLI: nothing to hold


def test_on_a_server_the_warm_up_holds_the_lock_streamlit_compiles_under(monkeypatch):
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    cache = ScriptCache()
    monkeypatch.setattr(_startup, "_real_server", lambda: True)
    monkeypatch.setattr(_startup.runtime, "get_instance", lambda: type("Runtime", (), {"_script_cache": cache})())
    with _startup._streamlit_compiling():
        assert cache._lock.locked()  # a page compiling now would wait: no AST is built beside ours
    assert not cache._lock.locked()
