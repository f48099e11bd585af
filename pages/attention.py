"""Attention: every head of every layer, what the heads do, and which heads link two words."""
from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

import streamlit as st

from core.figures import bertviz as bertviz_views
from core.explain.attention import (STATS, compute_attention, counted, counted_label, describe_patterns, head_average, head_change,
                                    head_name, rank_heads, result_stats, rollout, stats_records, top_head)
from core.errors import UserError
from core.figures import attention as figs
from core.offline import vendor_js
from pages._common import cached_model, current_model, figure, get_loaded, model_options, shared, shared_text, table

DEFAULT_TEXT = "The animal didn't cross the street because it was too tired."
STAT_NAMES = {"entropy": "Entropy (spread)", "cls": "Attention to [CLS]", "sep": "Attention to [SEP]",
              "self": "Attention to itself", "prev": "Attention to the previous token",
              "next": "Attention to the next token", "distance": "Mean attention distance"}


# Cached per (model, text, pair) and shared, not copied: a 512-token input is a 75 MB array.
@st.cache_resource(max_entries=8, show_spinner="Running the model…")
def analyse(choice: str, text: str, pair: str):
    result = compute_attention(cached_model(choice), text, pair)
    return result, result_stats(result)


@st.cache_resource(max_entries=8, show_spinner=False)
def rollout_of(choice: str, text: str, pair: str):
    return rollout(analyse(choice, text, pair)[0].attn)


@st.cache_data(max_entries=16, show_spinner="Drawing with bertviz…")
def bertviz_html(choice: str, text: str, pair: str, view: str, layers: tuple, layer: int, head: int):
    if view == "Neuron view":
        raw = bertviz_views.neuron_view_html(cached_model(choice), text, pair, layer, head)
    else:
        result = analyse(choice, text, pair)[0]
        build = bertviz_views.head_view_html if view == "Head view" else bertviz_views.model_view_html
        raw = build(result, list(layers))
    return bertviz_views.finish(raw)


def layer_head_pickers(result, key: str, default=(0, 0)):
    left, right = st.columns(2)
    layer = left.selectbox("Layer", range(result.layers), index=min(default[0], result.layers - 1), key=f"{key}_layer",
                           format_func=counted_label)
    head = right.selectbox("Head", range(result.heads), index=min(default[1], result.heads - 1), key=f"{key}_head",
                           format_func=counted_label)
    return layer, head


@st.fragment
def attention_view(model) -> None:
    """The sentence and the tabs as a fragment: a new sentence or tab reruns only this, not the
    sidebar around it, so the server and every student's browser redraw one view (issue 22)."""
    text = st.text_area("Sentence", DEFAULT_TEXT, **shared("attn_text"), height=80, max_chars=20_000)
    pair = st.text_input("Second sentence (optional, to see how BERT reads a pair)", **shared_text("attn_pair"))

    try:
        result, stats = analyse(model.choice, text, pair)
    except UserError as err:
        st.warning(str(err))
        return
    if result.notice:
        st.warning(result.notice)
    st.caption(f"{result.n} tokens · {result.layers} layers × {result.heads} heads = "
               f"{result.layers * result.heads} attention maps of {result.n} × {result.n}")

    tabs = st.tabs(["One head", "All heads", "Average & rollout", "Head statistics", "Link two tokens",
                    "bertviz views", "Compare models"], **shared("attn_tab"), on_change="rerun")
    one, grid, flow, statistics, link, bertviz, compare = tabs
    best_prev = top_head(stats, "prev")[:2]

    with one:
        if one.open:
            layer, head = layer_head_pickers(result, "one", default=best_prev)
            figure(figs.head_figure(result, layer, head), "attention_head", width="stretch")
            st.caption("Hover a cell to read the weight. The head picked first is the model's strongest "
                       "previous-token head: a diagonal just below the main one.")

    with grid:
        if grid.open:
            long_input = result.n > figs.GRID_TILE
            c1, c2 = st.columns(2)
            layers = c1.multiselect("Layers", range(result.layers), default=list(range(result.layers)), format_func=counted_label,
                                    key="grid_layers")
            heads = c2.multiselect("Heads", range(result.heads), default=list(range(result.heads)), key="grid_heads",
                                   format_func=counted_label)
            if not layers or not heads:
                st.info("Pick at least one layer and one head.")
            else:
                if long_input:
                    st.caption(f"Each small map is shrunk to {figs.GRID_TILE} × {figs.GRID_TILE} blocks of tokens "
                               "(rows averaged, columns summed, so rows still sum to 1); enlarge one below for "
                               "every token.")
                figure(figs.grid_figure(result, sorted(layers), sorted(heads)), "attention_grid", width="stretch")
                st.markdown("**Enlarge one head**")
                layer, head = layer_head_pickers(result, "enlarge", default=(sorted(layers)[0], sorted(heads)[0]))
                figure(figs.head_figure(result, layer, head), "attention_enlarged", width="stretch")

    with flow:
        if flow.open:
            layer = st.slider("Up to layer", 1, result.layers, result.layers, key="flow_layer") - 1
            left, right = st.columns(2)
            figure(figs.matrix_figure(head_average(result.attn)[layer], result.tokens,
                                      f"Layer {counted(layer)}, average of the heads"), "attention_average", where=left)
            figure(figs.matrix_figure(rollout_of(model.choice, text, pair)[layer], result.tokens,
                                      f"Rollout through layers 1–{counted(layer)}"), "attention_rollout", where=right)
            st.caption("**Rollout** (Abnar & Zuidema, 2020) follows information through the layers: each "
                       "layer's average attention is mixed half-and-half with the identity (the residual "
                       "connection keeps each token's own vector), and the layers are multiplied. Row *i* "
                       "then says how much each input token contributed to token *i* at that depth.")

    with statistics:
        if statistics.open:
            st.markdown("\n".join(f"- {line}" for line in describe_patterns(stats)))
            name = st.selectbox("Statistic", list(STATS), format_func=STAT_NAMES.get, **shared("stat_name"))
            st.info(STATS[name])
            figure(figs.stat_figure(stats, name, STAT_NAMES[name]), "attention_statistic", width="stretch")
            st.caption("Averaged over every token of this input (padding excluded). Click a column "
                       "header to sort the table.")
            table([{**r, "layer": counted(r["layer"]), "head": counted(r["head"])} for r in stats_records(stats)],
                  column_config={
                k: st.column_config.NumberColumn(STAT_NAMES[k], help=STATS[k], format="%.3f") for k in STATS})

    with link:
        if link.open:
            st.markdown("Pick two tokens: which heads make the first one look at the second?")

            def label(i: int) -> str:
                return f"{i} · {result.tokens[i]}"

            c1, c2 = st.columns(2)
            source = c1.selectbox("Token looking (query)", range(result.n), index=min(1, result.n - 1),
                                  format_func=label, key="link_source")
            target = c2.selectbox("Token looked at (key)", range(result.n), index=min(2, result.n - 1),
                                  format_func=label, key="link_target")
            rows = rank_heads(result.attn, source, target)
            zoom = st.toggle("Zoom the bars to the heads", key="link_zoom",
                             help="The axis runs from 0 to 1 (all of a token's attention); zoom to compare small weights.")
            figure(figs.ranking_figure(rows, result.tokens[source], result.tokens[target], zoom=zoom),
                   "attention_link", width="stretch")
            best = rows[0]
            st.caption(f"Strongest: {head_name(best['layer'], best['head'])} with weight {best['attention']:.3f} "
                       f"(a uniform head would give {1 / result.n:.3f}).")

    with bertviz:
        if bertviz.open:
            st.markdown("The classic [bertviz](https://github.com/jessevig/bertviz) views (Vig, 2019), "
                        "running here without internet. Hover a token, click a head's colour or a thumbnail.")
            view = st.segmented_control("View", ["Head view", "Model view", "Neuron view"], default="Head view",
                                        **shared("bv_view")) or "Head view"
            layers, layer, head = tuple(range(result.layers)), 0, 0
            st.caption("bertviz's own menus count layers and heads from 0: its *Layer 0* is layer 1 on every other "
                       "view of this app.")
            if view == "Neuron view":
                st.caption("Shows how one head's query and key vectors multiply into its attention weights. It "
                           "opens on the strongest previous-token head; pick another in the view's own menus.")
                layer, head = best_prev
            else:
                default_layers = list(range(result.layers)) if result.n <= 64 else [result.layers - 1]
                layers = tuple(sorted(st.multiselect("Layers to include", range(result.layers), format_func=counted_label,
                                                     default=default_layers, key="bv_layers",
                                                     help="Fewer layers keep bertviz responsive on long inputs.")))
            if not layers:
                st.info("Pick at least one layer.")
            else:
                try:
                    html = bertviz_html(model.choice, text, pair, view, layers, layer, head)
                except UserError as err:
                    st.info(str(err))
                else:
                    if html is None:
                        st.info(bertviz_views.OFFLINE_NOTE)
                    else:
                        if view == "Head view":
                            height = bertviz_views.head_view_height(result.n)
                        elif view == "Model view":
                            height = bertviz_views.model_view_height(result.n, len(layers), result.heads)
                        else:
                            height = bertviz_views.neuron_view_height(result.n)
                        st.iframe(html, height=min(height, 1600))
                        st.download_button(
                            "⬇ Download this view (HTML)", lambda: html,
                            f"bertviz-{view.split()[0].lower()}-view.html", "text/html",
                            key="bv_download", on_click="ignore",
                            help="One file with the view and its scripts inside: it opens in any browser, "
                                 "offline too." if vendor_js.available()
                            else "It loads bertviz's scripts from the internet when opened.")

    with compare:
        if compare.open:
            local = [c for c in model_options() if c.startswith("local:")]
            options = [c for c in dict.fromkeys([*local, *model_options()]) if c != model.choice]
            other_choice = st.selectbox("Compare with", options,
                                        index=0 if local and local[0] != model.choice else None,
                                        placeholder="Pick a model…", key="cmp_model",
                                        help="A fine-tuned copy (from the Fine-tuning page) shows what training "
                                             "changed. Hub models need internet.")
            other = get_loaded(other_choice) if other_choice else None
            if other_choice is None:
                st.info("Pick a second model: the same text runs through both, side by side.")
            elif other is not None:
                try:
                    other_result, other_stats = analyse(other.choice, text, pair)
                except UserError as err:
                    st.warning(str(err))
                else:
                    if other_result.tokens == result.tokens and other_result.attn.shape == result.attn.shape:
                        change = {"change": head_change(result.attn, other_result.attn)}
                        figure(figs.stat_figure(change, "change", "How differently each head attends "
                                                    "(0 = the same, 1 = completely different)"),
                               "attention_change", width="stretch")
                        layer, head, value = top_head(change, "change")
                        st.caption(f"Same tokens, same shape: the head that changed most is {head_name(layer, head)} "
                                   f"({value:.2f}, the share of each row's attention that moved).")
                        default = (layer, head)
                    else:
                        st.caption("The two models split the text differently or differ in size, so they are shown "
                                   "side by side only.")
                        default = best_prev
                    layer, head = layer_head_pickers(result, "cmp", default=default)
                    name = st.selectbox("Statistic", list(STATS), format_func=STAT_NAMES.get, key="cmp_stat")
                    left, right = st.columns(2)
                    for side, col, choice, res, sts in (("left", left, model.choice, result, stats),
                                                        ("right", right, other.choice, other_result, other_stats)):
                        with col:
                            st.text(f"{choice.rsplit('/', 1)[-1]} · {res.layers} layers × {res.heads} heads")
                            if layer < res.layers and head < res.heads:
                                figure(figs.head_figure(res, layer, head), f"attention_compare_{side}",
                                       width="stretch")
                            else:
                                st.info(f"This model has no {head_name(layer, head)}.")
                            figure(figs.stat_figure(sts, name, STAT_NAMES[name]),
                                   f"attention_compare_{side}_statistic", width="stretch")


st.title("👀 Attention")
st.markdown(
    """
In every layer, each **head** lets every token look at every other token and decide how much of
each to mix into its new vector. One head is a grid of weights: **row = the token looking
(query), column = the token looked at (key)**, and every row sums to 1. Different heads learn
different habits — look one word back, park on a special token (`[SEP]` in bert-base, `[CLS]` in the
embedded model) when there is nothing to do, link a pronoun to its noun.
"""
)

attention_view(current_model())
