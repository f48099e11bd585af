"""The attention page through Streamlit's AppTest: every tab, bad input, the embedded model."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from pathlib import Path

from conftest import ROOT, tiny_choice

TABS = ["One head", "All heads", "Average & rollout", "Head statistics", "Link two tokens",
        "bertviz views", "Compare models"]


def open_page(tab: str, choice: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/attention.py")
    if choice:
        at.session_state["model_choice"] = choice
    at.session_state["attn_tab"] = tab
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def charts(at) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_first_open_on_embedded_model_shows_the_previous_token_head():
    at = open_page("One head")
    assert any("16 tokens · 6 layers × 12 heads = 72 attention maps" in c.value for c in at.caption)
    (fig,) = charts(at)
    assert fig["data"][0]["x"][:3] == ["[CLS]", "the", "animal"]
    # Pretrained MiniLM's layer 0 head 2 is a previous-token head; the page opens on it.
    assert (at.selectbox(key="one_layer").value, at.selectbox(key="one_head").value) == (0, 2)


def heatmap_values(chart: dict):
    """A heatmap's z as sent to the browser (plotly ships numpy arrays base64-encoded)."""
    import base64

    import numpy as np

    z = chart["data"][0]["z"]
    if isinstance(z, list):
        return np.asarray(z, dtype=float)
    shape = [int(d) for d in str(z["shape"]).split(",")]
    return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_renders_on_a_tiny_model(tab):
    at = open_page(tab, tiny_choice("bert"))
    if tab in ("One head", "Link two tokens", "Head statistics"):
        assert len(charts(at)) == 1
    if tab in ("All heads", "Average & rollout"):
        assert len(charts(at)) == 2
    if tab == "Compare models":  # the first local model is picked: tiny ALBERT, other tokens
        assert len(charts(at)) == 4 and not at.error
        assert any("side by side only" in c.value for c in at.caption)


def test_statistics_table_has_one_row_per_head():
    at = open_page("Head statistics", tiny_choice("bert"))
    table = at.dataframe[0].value
    assert len(table) == 2 * 4 and list(table.columns[:3]) == ["layer", "head", "entropy"]
    assert ((table["cls"] >= 0) & (table["cls"] <= 1)).all()
    assert any("Previous-token head" in m.value for m in at.markdown)


def test_grid_and_link_react_to_widgets():
    at = open_page("All heads", tiny_choice("bert"))
    at.multiselect(key="grid_heads").set_value([1, 3]).run()
    assert "2 layers × 2 heads" in charts(at)[0]["layout"]["title"]["text"]
    at = open_page("Link two tokens", tiny_choice("bert"))
    at.selectbox(key="link_source").set_value(0).run()
    assert "Strongest: layer" in at.caption[-1].value


def test_bertviz_tab_embeds_offline_html_or_says_why():
    at = open_page("bertviz views", tiny_choice("bert"))
    frames = at.get("iframe")
    from core.offline import vendor_js
    if vendor_js.available():
        assert len(frames) == 1 and "cdnjs" not in frames[0].proto.srcdoc
        download = at.get("download_button")  # the same standalone page, to keep
        assert len(download) == 1 and download[0].proto.label == "⬇ Download this view (HTML)"
        assert frames[0].proto.srcdoc.startswith("<!DOCTYPE html>") and "<script src=" not in frames[0].proto.srcdoc
    else:
        assert not frames and "vendor-js" in at.info[0].value


def test_neuron_view_for_unsupported_architecture_says_so():
    at = open_page("bertviz views", tiny_choice("distilbert"), bv_view="Neuron view")
    assert any("only knows BERT and RoBERTa" in i.value for i in at.info)


def test_empty_text_is_a_friendly_warning_and_html_stays_text():
    at = open_page("One head", tiny_choice("bert"), attn_text="   ")
    assert "Type a sentence first." in at.warning[0].value and not at.get("plotly_chart")
    at = open_page("Link two tokens", tiny_choice("bert"), attn_text="<b>bold</b> <script>x</script>")
    assert not any("<b>" in m.value for m in at.markdown)


def test_long_text_is_truncated_with_a_notice():
    at = open_page("All heads", tiny_choice("bert"), attn_text="the cat sat . " * 100)
    assert "cut off" in at.warning[0].value
    assert "downsampled from 64" in charts(at)[0]["layout"]["title"]["text"]


def test_compare_finds_the_layer_fine_tuning_changed(tmp_path, monkeypatch):
    """A copy of tiny BERT with only layer 1's queries changed: layer 0 is identical, layer 1 not."""
    import os
    import shutil

    import numpy as np
    from safetensors.torch import load_file, save_file

    source = Path(tiny_choice("bert")[len("local:"):])
    tuned = tmp_path / "tiny-bert-tuned"
    shutil.copytree(source, tuned)
    weights = load_file(tuned / "model.safetensors")
    key = next(k for k in weights if "layer.1.attention.self.query.weight" in k)
    weights[key] = weights[key] * 5
    save_file(weights, tuned / "model.safetensors", metadata={"format": "pt"})
    monkeypatch.setenv("BERT_PLAYGROUND_MODEL_DIRS", os.pathsep.join([str(source.parent), str(tmp_path)]))

    at = open_page("Compare models", tiny_choice("bert"), cmp_model=f"local:{tuned}")
    z = heatmap_values(charts(at)[0])
    assert z.shape == (2, 4)
    assert np.allclose(z[0], 0) and (z[1] > 1e-4).all()
    assert any("changed most is layer 2," in c.value for c in at.caption)  # counted from 1
