"""What every page shares: the model picker in the sidebar and the cached model it selects.

Pages import from here; `core` does the work and never imports streamlit.
"""
from __future__ import annotations

import re
from pathlib import Path
from uuid import uuid4

import pandas as pd
import streamlit as st

from core.errors import UserError
from core.figures.export import FORMATS, INSTALL_HINT, browser_found, export
from core.figures.report import page_report
from core.inputs.links import PRIVATE, TEXT_CAP, share_link
from core.jobs import JOBS, Job
from core.lessons.pages import page_catalog
from core.models.hub_cache import cached_models
from core.models.loading import (EMBEDDED, HUB_PRESETS, LoadedModel, is_offline, list_local_models, load_model,
                                 session_runs_dir)
from core.models.saved import local_kind

OTHER_HUB = "Another hub model…"
LOCAL = "A local folder…"
_KEY = "model_choice"
MAX_REPORT_ITEMS = 200  # tables kept for "Download this page": a fragment rerunning must not grow it forever


@st.cache_resource(max_entries=3, show_spinner="Loading the model (once per server)…")
def cached_model(choice: str) -> LoadedModel:
    """One copy per server process; pages read it and never change it."""
    return load_model(choice)


def get_loaded(choice: str) -> LoadedModel | None:
    """The cached model, or None after telling the user why it could not be loaded."""
    try:
        return cached_model(choice)
    except UserError as err:
        st.error(str(err))
        return None


def keep(**defaults) -> None:
    """Widget values that outlive their widget: Streamlit forgets a widget's state in a run that does
    not draw it (a closed lazy tab); re-storing it each run keeps what the user typed. The widgets
    then take no default of their own. A text the session does not hold yet is taken from the page's
    address if it is there, as a bound widget would take it, so a link (a shared view, a lesson step)
    also fills the text a closed tab reads."""
    for key, default in defaults.items():
        if key not in st.session_state and key in st.query_params:
            default = _from_address(st.query_params[key], default)
        st.session_state[key] = st.session_state.get(key, default)


def _from_address(text: str, default):
    """A text (cut to TEXT_CAP) or a switch from the address, as its widget would take it. A number
    is left to its widget's own check of the range: the page's start stands."""
    if isinstance(default, str):
        return text[:TEXT_CAP]
    if isinstance(default, bool):
        return {"true": True, "false": False}.get(text.lower(), default)
    return default


@st.cache_data(ttl=60, show_spinner=False)
def can_draw_images() -> bool:
    """Is there a Chromium for kaleido? Looked up once a minute, not on every chart of every rerun."""
    return browser_found()


def _report() -> dict:
    """What this run drew, for "Download this page" (emptied when a full run starts, in `sidebar`)."""
    return st.session_state.setdefault("_report", {"figures": {}, "tables": []})


def table(data, **kwargs) -> None:
    """A table, kept for "Download this page". User text goes into tables, never into markdown;
    a list of rows becomes a DataFrame shown without its index."""
    if isinstance(data, list):
        data, kwargs = pd.DataFrame(data), {"hide_index": True, "width": "stretch", **kwargs}
    st.dataframe(data, **kwargs)
    tables = _report()["tables"]
    if len(tables) < MAX_REPORT_ITEMS:
        tables.append(data)


def figure(fig, key: str, where=st, **kwargs) -> None:
    """A plotly chart with a "Download" menu: PNG, SVG and standalone HTML, drawn only on click,
    and kept for "Download this page". Every static chart goes through here, wherever it is placed
    (`where`: a column or a tab), so none lacks the menu or is missing from the report.

    `key` names the files and keys the widgets, so it must be unique on the page.
    """
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)
    where.plotly_chart(fig, key=key, **kwargs)
    _report()["figures"][key] = fig
    menu = where.popover("⬇ Download figure", key=f"{key}_export", on_change="rerun")
    if not menu.open:  # lazy: its buttons cost every rerun's browser work, and are seldom wanted
        return
    with menu:
        can_draw = can_draw_images()
        for fmt, mime in FORMATS.items():
            st.download_button(fmt.upper(), data=lambda fmt=fmt: export(fig, fmt), file_name=f"{name}.{fmt}",
                               mime=mime, key=f"{key}_export_{fmt}", on_click="ignore",
                               disabled=fmt != "html" and not can_draw)
        if not can_draw:
            st.caption(INSTALL_HINT)


_MODEL_PARAM = "model"
LESSON_PARAMS = ("lesson", "step")  # what a lesson step's link adds to a page's address


def shared(key: str, label: str = "") -> dict:
    """Widget arguments that keep its value in the page address (Streamlit's `bind="query-params"`),
    so "Share this view" gives a link that restores it. Streamlit drops a value the widget cannot
    take (out of range, not an option) and cuts text to the widget's `max_chars`. A page's labels
    are read from its source (page_catalog); a key built at run time passes its `label` here."""
    st.session_state.setdefault("_shared_keys", set()).add(key)
    if label:
        st.session_state.setdefault("_shared_labels", {})[key] = label
    return {"key": key, "bind": "query-params"}


def take_unless_linked(first: bool, **values) -> None:
    """Set widget values the page computes (a task's recipe, all of a dataset's rows), except, on the
    page's `first` run, those an arriving link carries: a shared view keeps its own settings."""
    for key, value in values.items():
        if not (first and key in st.query_params):
            st.session_state[key] = value


def shared_text(key: str, label: str = "") -> dict:
    """`shared` for a short text box: a link can fill it with at most TEXT_CAP characters."""
    return {**shared(key, label), "max_chars": TEXT_CAP}


def _shareable(choice: str) -> bool:
    """Hub models and the embedded one travel in a link; a fine-tuned folder is its owner's alone."""
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?", choice))  # not `local:…`, not `../`


def _params() -> dict[str, list[str]]:
    return {k: st.query_params.get_all(k) for k in st.query_params if k not in PRIVATE}


def take_linked_model(model: str) -> None:
    """A model named by a link (a shared view, a lesson step): a hub or the embedded model only."""
    if _shareable(model):
        st.session_state[_KEY] = model


def _arrive() -> None:
    """A session's first run: remember the address it came with and take the model from it."""
    st.session_state["_arrived"] = _params()
    take_linked_model(st.query_params.get(_MODEL_PARAM, ""))


def note_unused_link_params(page: str) -> None:
    """After `page` ran, once per session: say what an arriving link carried that the page could not
    use (unknown, out of range, too long) and take the unknown ones out of the address. (The first
    run is often cut short by the browser's own rerun; the note waits for a run that ends.)"""
    arrived = st.session_state.pop("_arrived", None)
    if arrived:
        known = st.session_state.get("_shared_keys", set()) | {_MODEL_PARAM, *LESSON_PARAMS}
        starts = _starts(page)

        def taken(key: str, values: list[str]) -> bool:  # kept, or dropped by its widget as the page's start
            return st.query_params.get_all(key) == values or (key in starts and [_as_param(starts[key])] == values)

        unused = sorted(k for k, v in arrived.items() if k not in known or not taken(k, v))
        for k in unused:
            if k not in known and k in st.query_params:
                del st.query_params[k]
        if unused:
            st.session_state["_link_note"] = (page, ", ".join(unused[:8]))
            st.rerun()  # so the sidebar's share link, drawn before the page, no longer holds them
    noted_page, names = st.session_state.get("_link_note", (None, ""))
    if noted_page == page:  # about the page the link opened, not every page visited after it
        st.sidebar.caption(f"🔗 The link you opened had settings this page could not use, so they were left "
                           f"out or corrected: {names}.")


def _starts(page: str) -> dict:
    """The values `page`'s settings start with, as read from its source (page_catalog)."""
    return page_catalog()[page].defaults if page in page_catalog() else {}


def _labels(page: str) -> dict[str, str]:
    """Each setting of `page` named by its widget's label (read from the source, or given at run time)."""
    return {**(page_catalog()[page].labels if page in page_catalog() else {}),
            **st.session_state.get("_shared_labels", {})}


def _as_param(value) -> str:
    """A widget value as its address writes it (`true`, not `True`)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _kept_off_default(page: str) -> dict[str, list[str]]:
    """Values a bound widget leaves out of the address because they equal *its* default, though the
    page starts elsewhere (a toggle `keep` starts on): the link must carry them, or it opens with the
    page's start instead."""
    starts = _starts(page)
    extra = {}
    for key in st.session_state.get("_shared_keys", ()):
        value = st.session_state.get(key)
        if (key not in st.query_params and key in starts and value != starts[key]
                and isinstance(value, (str, bool, int, float))):
            extra[key] = [_as_param(value)]
    return extra


def _shown_inputs(page: str) -> dict[str, list[str]]:
    """This run's address-bound widgets and their values, defaults included (the address omits those),
    each named by its widget's label as the page shows it, not by its internal key."""
    labels = _labels(page)
    shown = {}
    for key in sorted(st.session_state.get("_shared_keys", ())):
        value = st.session_state.get(key)
        if value is not None:
            shown[labels.get(key, key)] = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return shown


def share_and_save(slot, page: str, title: str) -> None:
    """"Share this view" in the `slot` the sidebar kept for it: the link to this view (page, model,
    inputs, without the private `?me=`) and "Download this page" (the model, the inputs and every
    chart and table, as one HTML file, built on click).

    It is drawn after the page ran, and its contents are built only when it opens (a full rerun):
    so they hold what the page shows now, even after a fragment redrew part of it, and while it is
    closed it costs a rerun nothing.
    """
    with slot.container():
        menu = st.popover("🔗 Share this view", width="stretch", key="share_view", on_change="rerun")
    if not menu.open:
        return
    report, model, inputs = _report(), model_choice(), _shown_inputs(page)
    link = share_link(st.context.url or "", {**_params(), **_kept_off_default(page)})
    with menu:
        st.code(link.url, language=None, wrap_lines=True)
        st.caption("Copy it with the icon on the right. It opens this page with this model and these inputs "
                   "in any browser; it never carries your own models or jobs.")
        if link.left_out:
            st.caption(f"Left out, longer than {TEXT_CAP:,} characters: {', '.join(link.left_out)}.")
        st.download_button(
            "⬇ Download this page (HTML)", key="page_report", on_click="ignore", mime="text/html",
            data=lambda: page_report(title, model, inputs, list(report["figures"].values()), report["tables"],
                                     link.url),
            file_name=re.sub(r"[^A-Za-z0-9_.-]+", "-", title.lower()).strip("-") + ".html",
            help="One file with this page's inputs, model, charts (interactive, offline) and tables.")


def session_id() -> str:
    """This user's id: it owns their jobs and their folder of trained models.

    It rides in the page address (``?me=…``), so a reload or a bookmark comes back to the same
    models; a new tab without it is a new user.
    """
    if "session_id" not in st.session_state:
        given = st.query_params.get("me", "")
        st.session_state["session_id"] = given if re.fullmatch(r"[0-9a-f]{32}", given) else uuid4().hex
    if st.query_params.get("me") != st.session_state["session_id"]:
        st.query_params["me"] = st.session_state["session_id"]
    return st.session_state["session_id"]


def my_runs_dir() -> Path:
    """Where this session saves what it trains (listed in no other session)."""
    return session_runs_dir(session_id())


def name_box(label: str, key: str, default: str, **kwargs) -> str:
    """A 'Save as' box that shows `default` as its placeholder; left empty, the name is `default`."""
    typed = st.text_input(label, key=key, max_chars=60, placeholder=default, **kwargs,
                          help="A folder name (empty: the one shown). Your models are listed in your sidebar only.")
    return typed.strip() or default


def new_model_dir(name: str) -> Path:
    """This session's folder for a new model called `name`; a friendly UserError if it can't be."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}", name):
        raise UserError("Name the model with letters, digits, '-', '_' or '.' (up to 60 characters).")
    if (my_runs_dir() / name).exists():
        raise UserError(f"You already have a model called {name}: choose another name.")
    return my_runs_dir() / name


def _tab_is_open():
    """A check the job thread can call: is this browser tab still connected? (None outside a server)"""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return None
    server, tab = runtime.get_instance(), ctx.session_id
    return lambda: server.is_active_session(tab)


def submit_job(kind: str, work) -> Job:
    """Run `work(job)` in the background as this session's job; it stops if the tab stays closed."""
    return JOBS.submit(kind, session_id(), work, alive=_tab_is_open())


def latest(events: list[dict], kind: str) -> dict | None:
    """The last event of `kind` a job reported."""
    return next((e for e in reversed(events) if e.get("type") == kind), None)


def job_running(key: str) -> bool:
    job = JOBS.get(st.session_state.get(key))
    return job is not None and not job.done


def start_job(key: str, kind: str, work) -> None:
    """Submit `work` as this session's job and remember it under `key`; explain a refusal."""
    try:
        st.session_state[key] = submit_job(kind, work).id
    except UserError as err:
        st.error(str(err))


def job_panel(key: str, live=None, finished=None, prefix: str | None = None) -> None:
    """Progress, cancel and the live view of the job under `key`; `finished(job)` once it is done.

    Call it inside the page's `st.fragment(run_every=...)`; when the job ends it reruns the whole
    page once (the sidebar then lists a new model and the fragment stops polling).
    """
    job, prefix = JOBS.get(st.session_state.get(key)), prefix or key
    if job is None:
        return
    events = list(job.events)
    if not job.done:
        step = latest(events, "step")
        eta = step.get("eta_s") if step and step.get("eta_s") is not None else job.eta_seconds()
        st.progress(job.progress, text=(job.message or "Working…") + (f" · about {eta:.0f} s left" if eta else ""))
        if st.button("⏹ Cancel", key=f"{prefix}_cancel"):
            job.cancel()
            st.caption("Cancelling after the current step…")
        if live:
            live(events)
        return
    if st.session_state.get(f"{prefix}_shown") != job.id:
        st.session_state[f"{prefix}_shown"] = job.id
        st.rerun()
    if job.status == "cancelled":
        st.warning(job.message)
    elif job.status == "failed":
        st.error(job.error)
    elif finished:
        finished(job)


def jobs_caption() -> str:
    """How busy the server's training slots are (a classroom shares them)."""
    busy = len(JOBS.running())
    return f"Background jobs running on this server: {busy} of {JOBS.max_running}."


@st.cache_data(ttl=60, show_spinner=False)
def offline_hub_models() -> list[str]:
    """Hub models in this machine's cache (`python -m core download`): they load without internet."""
    return cached_models()


@st.cache_data(ttl=60, show_spinner=False)
def offline_now() -> bool:
    """No internet (or HF_HUB_OFFLINE): looked up once a minute, not on every rerun."""
    return is_offline()


def model_options() -> list[str]:
    """Every model this session can use now: embedded, hub presets (online) and cached hub models,
    shared and own local folders. Offline, a hub model that is not in the cache is left out: it
    would only fail."""
    cached = offline_hub_models()
    hub = [*HUB_PRESETS, *(m for m in cached if m not in HUB_PRESETS)]
    if offline_now():
        hub = [m for m in hub if m in cached]
    return [EMBEDDED, *hub, *list_local_models(my_runs_dir())]


def needs_internet() -> list[str]:
    """The hub presets this session cannot use now (offline and not downloaded beforehand)."""
    return [m for m in HUB_PRESETS if m not in offline_hub_models()] if offline_now() else []


def model_choice() -> str:
    return st.session_state.get(_KEY, EMBEDDED)


def current_model() -> LoadedModel:
    """The model chosen in the sidebar; falls back to the embedded one if it cannot load."""
    loaded = get_loaded(model_choice())
    if loaded is None:
        st.info("Showing the embedded model instead: it works offline.")
        loaded = cached_model(EMBEDDED)
    return loaded


def _label(option: str) -> str:
    if option == EMBEDDED:
        return "embedded · MiniLM-L6 (offline)"
    if option.startswith("local:"):
        return f"{local_kind(option.removeprefix('local:'))} · {option.rsplit('/', 1)[-1]}"
    return f"{option} · available offline" if option in offline_hub_models() else option


def _choose(value: str) -> None:
    """Make `value` the session's model; the two "type it in" options wait for the text box."""
    if value and value not in ("local:", OTHER_HUB, LOCAL):
        st.session_state[_KEY] = value


def sidebar():
    """The model picker and what is loaded, shown on every page; returns the slot under them that
    `share_and_save` fills once the page has run."""
    st.session_state["_shared_keys"] = set()  # filled again by this run's `shared` widgets
    st.session_state["_report"] = {"figures": {}, "tables": []}  # and "Download this page" by what it draws
    if "session_id" not in st.session_state:
        _arrive()
    with st.sidebar:
        st.header("Model")
        options = [*model_options(), OTHER_HUB, LOCAL]
        current = model_choice()
        picked = st.selectbox(
            "Model", options, format_func=_label, key="model_picker",
            index=options.index(current) if current in options else options.index(OTHER_HUB),
            on_change=lambda: _choose(st.session_state.model_picker),
            help="The embedded model works offline. Hub models need internet, unless they were "
                 "downloaded beforehand (`python -m core download MODEL`): those say \"available offline\".")
        if missing := needs_internet():
            st.caption(f"📴 Offline: {len(missing)} hub models wait for the internet.",
                       help="They appear here once the server is online, or once they are downloaded beforehand "
                            "(`python -m core download MODEL`).")
        if picked == OTHER_HUB:
            st.text_input("Hub id", placeholder="e.g. prajjwal1/bert-tiny", key="hub_id",
                          on_change=lambda: _choose(st.session_state.hub_id.strip()))
        elif picked == LOCAL:
            st.text_input("Folder (under runs/)", placeholder="runs/my-model", key="local_dir",
                          on_change=lambda: _choose("local:" + st.session_state.local_dir.strip()))
        elif picked in HUB_PRESETS:
            st.caption(HUB_PRESETS[picked])
        loaded = get_loaded(model_choice())
        if loaded is None:
            st.session_state[_KEY] = EMBEDDED
            loaded = cached_model(EMBEDDED)
        if _shareable(loaded.choice) and loaded.choice != EMBEDDED:
            st.query_params[_MODEL_PARAM] = loaded.choice
        elif _MODEL_PARAM in st.query_params:
            del st.query_params[_MODEL_PARAM]
        s = loaded.summary()
        st.caption(
            f"**{_label(s['model'])}** · {s['type']} · {s['layers']} layers · {s['heads']} heads · "
            f"{s['parameters'] / 1e6:.1f}M parameters · {s['size_mb']:.0f} MB · device **{s['device']}**"
        )
        heads = [name for name, ok in (("MLM", s["mlm_head"]), ("NSP", s["nsp_head"])) if ok]
        st.caption("Heads: " + (", ".join(heads) if heads else "none trained"))
        for note in loaded.notes:
            st.caption(f"ℹ️ {note}")
        return st.empty()
