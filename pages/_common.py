"""What every page shares: the model picker in the sidebar and the cached model it selects.

Pages import from here; `core` does the work and never imports streamlit.
"""
from __future__ import annotations

import streamlit as st

from core.errors import UserError
from core.models import EMBEDDED, HUB_PRESETS, LoadedModel, list_local_models, load_model

OTHER_HUB = "Another hub model…"
LOCAL = "A local folder…"
_KEY = "model_choice"


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
        return f"fine-tuned · {option.rsplit('/', 1)[-1]}"
    return option


def _choose(value: str) -> None:
    """Make `value` the session's model; the two "type it in" options wait for the text box."""
    if value and value not in ("local:", OTHER_HUB, LOCAL):
        st.session_state[_KEY] = value


def sidebar() -> None:
    """The model picker and what is loaded, shown on every page."""
    with st.sidebar:
        st.header("Model")
        options = [EMBEDDED, *HUB_PRESETS, *list_local_models(), OTHER_HUB, LOCAL]
        current = model_choice()
        picked = st.selectbox(
            "Model", options, format_func=_label, key="model_picker",
            index=options.index(current) if current in options else options.index(OTHER_HUB),
            on_change=lambda: _choose(st.session_state.model_picker),
            help="The embedded model works offline. Hub models need internet.")
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
        s = loaded.summary()
        st.caption(
            f"**{_label(s['model'])}** · {s['type']} · {s['layers']} layers · {s['heads']} heads · "
            f"{s['parameters'] / 1e6:.1f}M parameters · {s['size_mb']:.0f} MB · device **{s['device']}**"
        )
        heads = [name for name, ok in (("MLM", s["mlm_head"]), ("NSP", s["nsp_head"])) if ok]
        st.caption("Heads: " + (", ".join(heads) if heads else "none trained"))
        for note in loaded.notes:
            st.caption(f"ℹ️ {note}")
