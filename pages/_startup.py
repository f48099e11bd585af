"""The first line of every script run (app.py and each page): start the server safely.

Two races hit a fresh server's first visitors, and both are closed here, before any heavy import:
- Script threads importing torch, transformers and core in different orders deadlock on Python's
  per-module import locks; Python breaks the cycle by handing one thread a half-initialised module
  (`ImportError: cannot import name ...`). So the first run imports everything the scripts import,
  and loads the default model, under one process-wide lock, while every other session waits with a
  "starting up" note; afterwards each import is a dictionary lookup. The libraries that code
  reached from several places needs (sklearn, accelerate, bertviz) are imported at the top of
  the core modules that use them, so they are part of it too.
- Streamlit 1.67 treats a `pages/` folder beside app.py as a legacy multipage app until app.py's
  `st.navigation` runs (`PagesManager.uses_pages_directory`, no supported switch): a deep link opened
  before that runs the page alone, without app.py. Such a run leaves that mode and starts again
  through app.py.
Only the standard library and streamlit are imported at the top of this module.
"""
from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import sys
import threading
from pathlib import Path

import streamlit as st
from streamlit import runtime
from streamlit.runtime import Runtime
from streamlit.runtime.pages_manager import PagesManager

ROOT = Path(__file__).resolve().parent.parent
_warm = threading.Event()
_lock = threading.Lock()


def script_imports(scripts: list[Path]) -> list[str]:
    """What `scripts` import at their top level, in order, each once: every module, and every
    name imported from one (`from core.figures import bertviz` imports a submodule)."""
    names: dict[str, None] = {}
    for script in scripts:
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names.update({alias.name: None for alias in node.names})
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
                names[node.module] = None
                names.update({f"{node.module}.{alias.name}": None for alias in node.names})
    return list(names)


def app_scripts() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]


def _is_module(name: str) -> bool:
    """Is `name` a module (or package), rather than a class or function imported from one?"""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, AttributeError, ValueError):  # a parent that is a plain module
        return False


def _streamlit_compiling():
    """Streamlit's lock around compiling a script (its ScriptCache's; there is no public one), or a
    no-op outside a real server. Python 3.11 builds ASTs with interpreter-wide state, so parsing while
    another thread compiles a page (a first visitor's deep link does) can fail with `SystemError:
    AST constructor recursion depth mismatch`; holding this lock, nobody compiles meanwhile."""
    cache = getattr(runtime.get_instance(), "_script_cache", None) if _real_server() else None
    return getattr(cache, "_lock", None) or contextlib.nullcontext()


def warm_up() -> None:
    """Import every module the app's scripts import and load the default model: once, one thread."""
    with _lock:
        if _warm.is_set():
            return
        from core.memory import tune_allocator

        tune_allocator()  # before the big allocations: a job's freed memory goes back to the system
        from core.lessons.pages import page_catalog, page_purposes

        with _streamlit_compiling():  # every source this process reads as an AST, read once, now
            names = script_imports(app_scripts())
            page_catalog()
            page_purposes()
        for name in names:
            if name != __name__ and _is_module(name):
                importlib.import_module(name)
        from core.errors import UserError
        from core.models.loading import EMBEDDED
        from pages._common import cached_model

        try:
            cached_model(EMBEDDED)  # its lazy imports (model classes, safetensors) happen here too
        except UserError:
            pass  # the sidebar tells the user why, as on any page
        _warm.set()


def _real_server() -> bool:
    """Under `streamlit run` (AppTest installs a stand-in Runtime)?"""
    return runtime.exists() and type(runtime.get_instance()) is Runtime


def _legacy_run() -> bool:
    """Is this run Streamlit's legacy `pages/` mode (its `_mpa_v1` on the stack) on a real server?
    (AppTest runs a switched-to page alone on purpose.)"""
    if not _real_server():
        return False
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "_mpa_v1":
            return True
        frame = frame.f_back
    return False


def one_thread_per_session() -> None:
    """On a server, model calls use one CPU thread each: a class's sessions are the parallelism.

    With torch's default (a thread per core) every forward pass is an OpenMP team whose threads
    spin while they wait for each other and for a core, so sessions asking at once pay in waiting
    and spinning. Measured with 14 sessions asking together (bench/RESULTS.md): 0.173 s of server
    CPU per answer and a p95 server wait of 0.85 s with the default, 0.047 s and 0.09 s with one.
    torch applies it to each thread at its first parallel operation, so fragments and background
    jobs follow (under load one thread is what training wants too: core/training/kit.py). Alone
    on a free machine it costs little: 12 tokens 15.4 -> 16.6 ms, 502 tokens 168 -> 217 ms.
    Tests (AppTest) keep their own setting."""
    if _real_server():
        import torch

        torch.set_num_threads(1)


def start() -> None:
    """Call first in app.py and in every page, before the other imports."""
    if _legacy_run():
        PagesManager.uses_pages_directory = False
        st.rerun()
    if not _warm.is_set():
        note = st.empty()
        note.info("🧸 Starting up: loading PyTorch, transformers and the embedded model, once per server "
                  "(about ten seconds)…")
        warm_up()
        note.empty()
    one_thread_per_session()
