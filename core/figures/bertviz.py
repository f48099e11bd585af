"""bertviz's head, model and neuron views as self-contained HTML for an iframe.

bertviz draws with d3 in the browser and ships every attention number as JSON, so its views are
capped in length here (its users report slow/crashing views on long inputs, bertviz #82/#121);
the native plotly views handle the full 512 tokens. Numbers are rounded to 3 decimals before
they reach bertviz, which shrinks the HTML about threefold without a visible difference.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import torch
from bertviz import head_view, model_view

from core.offline import vendor_js
from core.errors import UserError

MAX_TOKENS = 128  # head and model view
MAX_NEURON_TOKENS = 64  # the neuron view also ships every query and key vector
NEURON_TYPES = ("bert", "roberta")  # the architectures bertviz's neuron-view classes implement
OFFLINE_NOTE = ("The bertviz views need require.js, d3 and jQuery, which are not installed and "
                "cannot be fetched offline (run `python -m core vendor-js` once while online). "
                "The native views on this page show the same attention.")


def _rounded(tensor: torch.Tensor) -> torch.Tensor:
    return torch.round(tensor.double(), decimals=3)


def finish(html: str) -> str | None:
    """Self-contained HTML when vendor_js/ exists; bertviz's CDN version when online; else None."""
    if vendor_js.available():
        return vendor_js.inline(html)
    from core.models.loading import is_offline

    return None if is_offline() else vendor_js.harden(html)


def _check_length(n: int, limit: int, view: str) -> None:
    if n > limit:
        raise UserError(f"bertviz's {view} gets too slow beyond {limit} tokens and this input has {n}; "
                        "use the native views, or a shorter text.")


def _layer_tensors(result, layers: list[int] | None) -> tuple[list[torch.Tensor], list[int]]:
    """bertviz wants one (1, heads, n, n) tensor per layer, plus which layers to include."""
    tensors = [_rounded(torch.from_numpy(a)).unsqueeze(0) for a in result.attn]
    return tensors, list(layers) if layers else list(range(len(tensors)))


def head_view_html(result, layers: list[int] | None = None) -> str:
    """bertviz head view of an AttentionResult (core.explain.attention); raw HTML (pass it to finish)."""
    _check_length(result.n, MAX_TOKENS, "head view")
    tensors, include = _layer_tensors(result, layers)
    return head_view(tensors, result.tokens, sentence_b_start=result.sentence_b_start,
                     include_layers=include, html_action="return").data


def model_view_html(result, layers: list[int] | None = None, heads: list[int] | None = None) -> str:
    """bertviz model view (every chosen layer x head as a thumbnail); raw HTML."""
    _check_length(result.n, MAX_TOKENS, "model view")
    tensors, include = _layer_tensors(result, layers)
    return model_view(tensors, result.tokens, sentence_b_start=result.sentence_b_start,
                      include_layers=include, include_heads=list(heads) if heads else None,
                      display_mode="light", html_action="return").data + FIT_TO_WIDTH


# bertviz draws the model view's thumbnails at a fixed size: 12 heads are wider than a projector's
# 1024-pixel screen, and the last heads were cut off. Shrink the drawing until it fits its frame
# (after bertviz has drawn, and again when the frame is resized).
FIT_TO_WIDTH = """<script>
(function () {
  function fit() {
    var body = document.body, zoom = parseFloat(body.style.zoom) || 1;
    var natural = document.documentElement.scrollWidth / zoom;
    body.style.zoom = Math.min(1, window.innerWidth / natural);
  }
  var tries = 0, timer = setInterval(function () { fit(); if (++tries > 20) clearInterval(timer); }, 250);
  window.addEventListener("resize", fit);
})();
</script>"""


def head_view_height(n_tokens: int) -> int:
    return int(140 + 22.5 * n_tokens)


def model_view_height(n_tokens: int, n_layers: int, n_heads: int) -> int:
    thumbnail = n_tokens * 7 * 12 / n_heads + 10
    return int(max(n_layers * thumbnail + 38, n_tokens * 18 + 70) + 60)


def neuron_view_height(n_tokens: int) -> int:
    return int(200 + 26 * n_tokens)


class _RoundedOutputs(torch.nn.Module):
    """Wraps bertviz's neuron-view model so the queries, keys and weights it returns are rounded."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, *args, **kwargs):
        out = self.inner(*args, **kwargs)
        rounded = [{k: _rounded(v) for k, v in layer.items()} for layer in out[-1]]
        return (*out[:-1], rounded)


_neuron_models: OrderedDict[int, tuple[torch.nn.Module, torch.nn.Module]] = OrderedDict()
_neuron_lock = threading.Lock()


def neuron_model(loaded) -> torch.nn.Module:
    """bertviz's own BertModel/RobertaModel carrying the weights of `loaded`'s encoder.

    Built in memory from a state_dict copy (bertviz's from_pretrained would want a
    pytorch_model.bin on disk); the shared model is only read. Kept for the last two models.
    """
    if loaded.model_type not in NEURON_TYPES:
        raise UserError(f"bertviz's neuron view only knows BERT and RoBERTa; this is a {loaded.model_type} "
                        "model. The head and model views work for it.")
    if loaded.model_type == "roberta" and loaded.config.pad_token_id != 1:
        raise UserError("bertviz's neuron view assumes RoBERTa's padding id 1 (positions start at 2); "
                        f"this model uses {loaded.config.pad_token_id}, so its attention would be wrong there.")
    key = id(loaded.model)
    with _neuron_lock:
        if key in _neuron_models and _neuron_models[key][0] is loaded.model:
            _neuron_models.move_to_end(key)
            return _neuron_models[key][1]
    if loaded.model_type == "bert":
        from bertviz.transformers_neuron_view import BertConfig as Config, BertModel as Model
    else:
        from bertviz.transformers_neuron_view import RobertaConfig as Config, RobertaModel as Model
    config = Config.from_dict(loaded.config.to_dict())
    model = Model(config)
    state = {k: v.detach().to("cpu", copy=True) for k, v in loaded.encoder.state_dict().items()}
    missing, _ = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("pooler.")]  # unused by attention; MLM models lack it
    if missing:
        raise UserError(f"bertviz's neuron view could not take this model's weights ({missing[0]} is missing).")
    wrapped = _RoundedOutputs(model.eval())
    with _neuron_lock:
        _neuron_models[key] = (loaded.model, wrapped)
        while len(_neuron_models) > 2:
            _neuron_models.popitem(last=False)
    return wrapped


def neuron_view_html(loaded, text: str, pair: str | None = None, layer: int = 0, head: int = 0) -> str:
    """bertviz neuron view (queries x keys -> attention for one head); raw HTML."""
    from bertviz.neuron_view import show

    text, pair = (text or "").strip(), (pair or "").strip() or None
    if not text:
        raise UserError("Type a sentence first.")
    n = len(loaded.tokenizer(text, pair)["input_ids"])
    _check_length(n, MAX_NEURON_TOKENS, "neuron view")
    with torch.inference_mode():
        return show(neuron_model(loaded), loaded.model_type, loaded.tokenizer, text, pair,
                    display_mode="light", layer=layer, head=head, html_action="return").data
