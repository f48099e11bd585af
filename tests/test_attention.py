"""Attention weights, head statistics, rollout, the CLI, bertviz views and the offline inliner."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from core.explain import attention as A
from core.figures import bertviz as V
from core.offline import vendor_js
from core.cli import main
from core.errors import UserError
from core.figures import attention as F
from core.models.loading import get_model

TOKENS = ["[CLS]", "a", "b", "[SEP]"]
CLS = np.array([True, False, False, False])
SEP = np.array([False, False, False, True])


def hand_made() -> np.ndarray:
    """One layer, three heads over [CLS] a b [SEP] with statistics known by hand."""
    prev = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], float)
    uniform = np.full((4, 4), 0.25)
    to_sep = np.zeros((4, 4))
    to_sep[:, 3] = 1
    return np.stack([prev, uniform, to_sep])[None]


def test_statistics_of_hand_made_heads():
    s = A.head_stats(hand_made(), CLS, SEP)
    expected = {  # previous-token head, uniform head, everything-on-[SEP] head
        "entropy": [0, 2, 0],
        "cls": [0.5, 0.25, 0],
        "sep": [0, 0.25, 1],
        "self": [0.25, 0.25, 0.25],
        "prev": [1, 0.25, 0],
        "next": [0, 0.25, 1 / 3],
        "distance": [0.75, 1.25, 1.5],
    }
    assert set(s) == set(A.STATS)
    for name, values in expected.items():
        np.testing.assert_allclose(s[name][0], values, atol=1e-9, err_msg=name)
    assert A.top_head(s, "prev") == (0, 0, 1.0)
    assert A.top_head(s, "entropy", lowest=True)[2] == pytest.approx(0)
    records = A.stats_records(s)
    assert [(r["layer"], r["head"]) for r in records] == [(0, 0), (0, 1), (0, 2)]
    assert records[2]["sep"] == 1.0


def test_patterns_name_the_right_heads():
    lines = A.describe_patterns(A.head_stats(hand_made(), CLS, SEP))
    assert any("Previous-token head" in line and "layer 1, head 1" in line and "100%" in line for line in lines)
    assert any("[SEP] head" in line and "layer 1, head 3" in line and "no-op" in line for line in lines)
    assert any("Next-token head" in line and "none here" in line and "33%" in line for line in lines)
    assert any("broadest" in line and "layer 1, head 2" in line and "2.00 bits" in line for line in lines)


def test_rollout_by_hand():
    attn = hand_made()[:, :1].repeat(2, axis=0)  # two layers of the previous-token head
    out = A.rollout(attn)
    step = 0.5 * attn[0, 0] + 0.5 * np.eye(4)  # rows already sum to 1
    np.testing.assert_allclose(out[0], step, atol=1e-6)
    np.testing.assert_allclose(out[1], step @ step, atol=1e-6)
    np.testing.assert_allclose(out.sum(-1), 1, atol=1e-6)
    assert out[1][3, 1] == pytest.approx(0.25)  # 'b' -> 'a' -> ... two hops back


def test_head_change_is_total_variation():
    attn = hand_made()
    change = A.head_change(attn, attn[:, [1, 1, 1]])  # every head vs the uniform head
    np.testing.assert_allclose(change[0], [0.75, 0, 0.75])
    assert A.head_change(attn, attn).max() == 0


def test_downsample_keeps_rows_distributions():
    rng = np.random.default_rng(0)
    attn = rng.random((2, 3, 100, 100)).astype(np.float32)
    attn /= attn.sum(-1, keepdims=True)
    small, edges = A.downsample(attn, 40)
    assert small.shape == (2, 3, 40, 40) and edges[0] == 0 and len(edges) == 40
    np.testing.assert_allclose(small.sum(-1), 1, atol=1e-5)
    b = edges[1]  # first block: tokens 0..b-1 on both axes
    np.testing.assert_allclose(small[0, 0, 0, 0], attn[0, 0, :b, :b].sum(-1).mean(), rtol=1e-5)
    same, _ = A.downsample(attn, 100)
    assert same is attn
    labels = A.block_labels([f"t{i}" for i in range(100)], edges)
    assert labels[0] == f"t0…t{b - 1} (0-{b - 1})" and labels[-1].endswith("-99)")


def test_rank_heads_orders_by_weight():
    rows = A.rank_heads(hand_made(), 2, 1)  # 'b' looks at 'a'
    assert [r["head"] for r in rows] == [0, 1, 2]
    assert rows[0]["attention"] == 1.0 and rows[1]["attention"] == 0.25 and rows[0]["reverse"] == 0.0


def test_real_models_rows_sum_to_one(tiny_any):
    loaded = get_model(tiny_any)
    result = A.compute_attention(loaded, "the cat sat on the mat .", "the dog ran .")
    n = len(result.tokens)
    assert result.attn.shape == (2, 4, n, n)
    np.testing.assert_allclose(result.attn.sum(-1), 1, atol=1e-5)
    assert result.special["cls"][0] and result.special["sep"][-1]
    assert result.special["sep"].sum() >= 2  # one [SEP] per segment
    b = result.sentence_b_start
    assert result.tokens[b - 1] == loaded.tokenizer.sep_token and b < n
    stats = A.result_stats(result)
    assert all(v.shape == (2, 4) for v in stats.values())
    assert np.all(stats["entropy"] <= np.log2(n) + 1e-6) and np.all(stats["cls"] <= 1 + 1e-6)


def test_second_segment_starts_after_the_separators(tiny_bert):
    tok = get_model(tiny_bert).tokenizer
    cls, sep = tok.cls_token_id, tok.sep_token_id
    assert A._second_segment_start(tok, [cls, 7, sep, 8, 9, sep], "b") == 3
    assert A._second_segment_start(tok, [cls, 7, sep, sep, 8, sep], "b") == 4  # RoBERTa's </s></s>
    assert A._second_segment_start(tok, [cls, 7, sep], None) is None
    result = A.compute_attention(get_model("embedded"), "the cat sat", "the dog ran")
    assert result.tokens[result.sentence_b_start:] == ["the", "dog", "ran", "[SEP]"]


def test_long_input_is_truncated_with_notice(tiny_bert):
    result = A.compute_attention(get_model(tiny_bert), "the cat sat . " * 100)
    assert result.n == 64 and "cut off" in result.notice


def test_empty_text_is_a_user_error(tiny_bert):
    with pytest.raises(UserError):
        A.compute_attention(get_model(tiny_bert), "   ")


def test_cli_json_contract(tiny_bert, capsys):
    assert main(["attention", "the cat sat", "--pair", "the dog ran", "--model", tiny_bert, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tokens"][0] == "[CLS]" and out["tokens"].count("[SEP]") == 2
    assert (out["layers"], out["heads"]) == (2, 4) and len(out["stats"]) == 8
    assert set(out["stats"][0]) == {"layer", "head", "entropy", "cls", "sep", "self", "prev", "next", "distance"}
    assert main(["attention", "", "--model", tiny_bert, "--json"]) == 2
    assert "Type a sentence" in capsys.readouterr().err


def test_figures_escape_tokens_and_shrink_long_grids(tiny_bert):
    result = A.compute_attention(get_model(tiny_bert), "the cat sat . " * 12)
    assert result.n > F.GRID_TILE
    result.tokens[1] = "<b>cat</b>"
    fig = F.head_figure(result, 0, 1)
    assert fig.data[0].z.dtype == np.float32  # half the bytes of float64 on a 512 x 512 map
    assert "<b>" not in "".join(fig.data[0].x) and "&lt;" in "".join(fig.data[0].x)
    grid = F.grid_figure(result, [0, 1], [0, 2, 3])
    assert "downsampled" in grid.layout.title.text
    assert list(grid.layout.xaxis.ticktext) == ["head 1", "head 3", "head 4"]  # counted from 1
    z = np.asarray(grid.data[0].z, dtype=float)
    assert np.isclose(np.nansum(z), 2 * 3 * F.GRID_TILE, rtol=1e-4)  # every shrunk row still sums to 1


def test_head_and_model_views_and_length_cap(tiny_bert):
    result = A.compute_attention(get_model(tiny_bert), "the cat sat on the mat .")
    html = V.head_view_html(result)
    assert "head_view" not in html and '"left_text"' in html and "0.0" in html
    assert '"include_layers": [1]' in V.model_view_html(result, [1])
    long = A.compute_attention(get_model(tiny_bert), "the cat sat . " * 100)
    long.attn = np.repeat(long.attn, 3, axis=-1)[..., : V.MAX_TOKENS + 1]  # fake a 129-token input
    long.attn = np.repeat(long.attn, 3, axis=-2)[..., : V.MAX_TOKENS + 1, :]
    long.tokens = ["x"] * (V.MAX_TOKENS + 1)
    with pytest.raises(UserError, match="too slow"):
        V.head_view_html(long)


def _roberta_with_standard_padding():
    """A tiny random RoBERTa with pad id 1 like real ones (the fixture's uses 0), on a real vocabulary
    in which id 1 never occurs (RoBERTa gives pad-id tokens the padding position)."""
    import dataclasses

    import torch
    from transformers import RobertaConfig, RobertaModel

    base = get_model("embedded")
    torch.manual_seed(0)
    model = RobertaModel(RobertaConfig(vocab_size=len(base.tokenizer), pad_token_id=1, hidden_size=32,
                                       num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                       max_position_embeddings=66, attn_implementation="eager")).eval()
    return dataclasses.replace(base, choice="test-roberta", model=model)


@pytest.mark.parametrize("arch", ["bert", "roberta"])
def test_neuron_view_uses_the_models_weights(arch, tiny_bert):
    loaded = get_model(tiny_bert) if arch == "bert" else _roberta_with_standard_padding()
    text, pair = "the cat sat on the mat", "the dog ran"
    html = V.neuron_view_html(loaded, text, pair, layer=1, head=2)
    params = json.loads(re.search(r"window\.bertviz_params = (\{.*?\})\n", html, re.S).group(1))
    assert params["layer"] == 1 and params["head"] == 2
    import torch

    ids = loaded.tokenizer.convert_tokens_to_ids(
        [loaded.tokenizer.cls_token, *loaded.tokenizer.tokenize(text), loaded.tokenizer.sep_token,
         *([loaded.tokenizer.sep_token] if arch == "roberta" else []),
         *loaded.tokenizer.tokenize(pair), loaded.tokenizer.sep_token])
    n_a = len(loaded.tokenizer.tokenize(text)) + 2
    kwargs = {"token_type_ids": torch.tensor([[0] * n_a + [1] * (len(ids) - n_a)])} if arch == "bert" else {}
    with torch.inference_mode():
        ours = loaded.encoder(input_ids=torch.tensor([ids]), output_attentions=True, **kwargs).attentions
    theirs = np.asarray(params["attention"]["all"]["attn"])  # (layers, heads, n, n), rounded
    np.testing.assert_allclose(theirs, torch.stack(ours)[:, 0].numpy(), atol=2e-3)  # same weights


def test_neuron_view_refuses_roberta_with_other_padding():
    import copy

    from conftest import tiny_choice

    loaded = copy.copy(get_model(tiny_choice("roberta")))
    loaded.model = copy.deepcopy(loaded.model)
    loaded.model.config.pad_token_id = 0
    with pytest.raises(UserError, match="padding id 1"):
        V.neuron_view_html(loaded, "the cat sat")


def test_neuron_view_refuses_other_architectures():
    from conftest import tiny_choice

    with pytest.raises(UserError, match="only knows BERT and RoBERTa"):
        V.neuron_view_html(get_model(tiny_choice("albert")), "the cat sat")


def test_offline_without_scripts_hides_views(tmp_path, monkeypatch):
    monkeypatch.setattr(vendor_js, "VENDOR_DIR", tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not vendor_js.available()
    assert V.finish('<script src="https://cdnjs.cloudflare.com/x.js"></script>') is None


def test_online_without_scripts_falls_back_to_bertviz_cdn(tmp_path, monkeypatch, tiny_bert):
    import core.models.loading

    monkeypatch.setattr(vendor_js, "VENDOR_DIR", tmp_path)
    monkeypatch.setattr(core.models.loading, "is_offline", lambda: False)
    result = A.compute_attention(get_model(tiny_bert), "the cat sat", "the dog ran")
    result.tokens[1] = "</script><img src=x>"
    html = V.finish(V.head_view_html(result))
    assert "cdnjs.cloudflare.com" in html and "Sentence A -> Sentence B" in html  # pair views offered
    assert "<\\/script><img" in html and "</script><img" not in html  # the token stays data


@pytest.mark.skipif(not vendor_js.available(),
                    reason="vendor_js/ is empty: run `python -m core vendor-js` (needs the npm registry)")
def test_inliner_makes_self_contained_html(tiny_bert):
    result = A.compute_attention(get_model(tiny_bert), "the cat sat .")
    result.tokens[1] = "</script><img src=x onerror=alert(1)>"
    for raw in (V.head_view_html(result), V.model_view_html(result),
                V.neuron_view_html(get_model(tiny_bert), "the cat sat")):
        html = vendor_js.inline(raw)
        assert not re.search(r"<script[^>]+src=[\"']?https?:", html, re.I)
        assert "cdnjs" not in html and not re.search(r"require\.config\(\{\s*paths", html)
        tags = _tags(html)
        assert "img" not in tags and tags.count("script") == html.count("</script>")  # no script ends early
        assert "define('d3'" in html and "requirejs(['jquery', 'd3']" in html


def _tags(html: str) -> list[str]:
    """Start tags as a browser's HTML parser sees them (script bodies are not parsed)."""
    from html.parser import HTMLParser

    found = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: found.append(tag)
    parser.feed(html)
    return found


def test_fetch_unpacks_npm_tarballs(tmp_path):
    """`vendor-js` with a stand-in npm that packs fake tarballs: the right file of each lands."""
    fake = tmp_path / "npm"
    script = (
        "#!/usr/bin/env python3\n"
        "import io, json, sys, tarfile\n"
        "spec, dest = sys.argv[2], sys.argv[4]\n"
        "name = spec.split('@')[0]\n"
        "files = {'package/package.json': json.dumps({'version': '9.9.9'}),\n"
        "         'package/require.js': 'REQ', 'package/dist/d3.min.js': 'D3', 'package/dist/jquery.min.js': 'JQ'}\n"
        "with tarfile.open(f'{dest}/{name}-9.9.9.tgz', 'w:gz') as tar:\n"
        "    for path, text in files.items():\n"
        "        data = text.encode(); info = tarfile.TarInfo(path); info.size = len(data)\n"
        "        tar.addfile(info, io.BytesIO(data))\n"
    )
    fake.write_text(script)
    fake.chmod(0o755)
    manifest = vendor_js.fetch(tmp_path / "out", npm=str(fake))
    assert {k: v["version"] for k, v in manifest.items()} == {"jquery": "9.9.9", "d3": "9.9.9", "requirejs": "9.9.9"}
    assert (tmp_path / "out" / "d3.js").read_text() == "D3"
    assert (tmp_path / "out" / "requirejs.js").read_text() == "REQ"
    assert vendor_js.available(tmp_path / "out")
    assert "define('jquery'" in vendor_js.inline("<div></div>", tmp_path / "out")


def test_fetch_without_npm_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="npm is not installed"):
        vendor_js.fetch(tmp_path, npm="no-such-npm-binary")
