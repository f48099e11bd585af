"""Every page opens under AppTest with its default inputs: no exception, the shared sidebar shown."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from browser import PAGES, ROOT


def open_page(path: str, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    for key, value in state.items():
        at.session_state[key] = value
    if path != "pages/home.py":
        at.switch_page(path)
    return at.run()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_on_the_embedded_model(path):
    at = open_page(path)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    if path == "pages/home.py":  # AppTest's switch_page runs the page alone, without app.py's sidebar
        sidebar_text = " ".join(c.value for c in at.sidebar.caption)
        assert "22.9M parameters" in sidebar_text and "device **cpu**" in sidebar_text


def test_home_describes_the_selected_model(tiny_bert):
    at = open_page("pages/home.py", model_choice=tiny_bert)
    assert not at.exception
    assert "2 layers · hidden size 32 · 4 heads" in " ".join(c.value for c in at.caption)


def test_offline_the_picker_offers_only_models_that_work():
    """No internet: a hub model that is not in the cache would only fail, so it is not offered."""
    at = open_page("pages/home.py")
    options = at.sidebar.selectbox(key="model_picker").options
    assert not any("bert-base-uncased" in o for o in options), options
    assert options[0].startswith("embedded")
    assert any("Offline: 9 hub models wait for the internet" in c.value for c in at.sidebar.caption)


def test_offline_hub_choice_explains_and_falls_back():
    """A hub model reached anyway (a link or a lesson naming it) says why it can't load and falls back."""
    at = open_page("pages/home.py", model_choice="bert-base-uncased")
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "No internet: the hub model 'bert-base-uncased' can't be downloaded" in errors
    assert "6 layers · hidden size 384" in " ".join(c.value for c in at.caption)
