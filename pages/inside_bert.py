"""Inside BERT: your sentence through a from-scratch BERT, one equation at a time."""
from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

import inspect

import pandas as pd
import streamlit as st

from core.bert import from_transformers
from core.bert.model import Embeddings, EncoderLayer, MaskedLMHead, SelfAttention
from core.bert.walkthrough import SLICE_WIDTH, dim_window, proof, relative_change, top_predictions, walk
from core.errors import UserError
from core.figures.inside import layer_change, predictions, token_grid, token_matrix
from core.inputs.examples import INSIDE_BERT, with_mask
from pages._common import cached_model, current_model, figure, shared, shared_text, table

TABLE_DIMS = 6  # columns in the small tables of real numbers

st.title("🔬 Inside BERT")
st.markdown(
    "Your sentence goes through **BERT written from scratch** in one short file of plain PyTorch "
    "(`core/bert/model.py`), loaded with the weights of the model in the sidebar. Every step "
    "below shows the formula, the shapes, the real numbers and the code that computed them."
)

loaded = current_model()
if loaded.model_type != "bert":
    st.info(f"This page follows the original BERT architecture; the selected model is a "
            f"**{loaded.model_type}** model. Pick the embedded model or another BERT in the sidebar.")
    st.stop()


@st.cache_resource(max_entries=3, show_spinner="Building the from-scratch copy…")
def scratch_model(choice: str):
    """One from-scratch copy per model, sharing the cached model's weights read-only."""
    return from_transformers(cached_model(choice).model)


try:
    scratch = scratch_model(loaded.choice)
except UserError as err:
    st.info(str(err))
    st.stop()
cfg = scratch.config

# --- Inputs -----------------------------------------------------------------------------------
mask = loaded.tokenizer.mask_token
text = st.text_input("Your sentence", with_mask(INSIDE_BERT, mask), **shared_text("inside_text"),
                     help=f"Put {mask} where BERT should guess a word.")
pair = st.text_input("Optional second sentence (segment B)", "", **shared_text("inside_pair"))
c1, c2, c3 = st.columns(3)
layer = c1.slider("Layer", 1, cfg.num_layers, 1, **shared("inside_layer")) - 1
head = c2.slider("Head", 1, cfg.num_heads, 1, **shared("inside_head")) - 1
mode = c3.radio("Attention mask", ["Bidirectional (BERT)", "Causal (GPT-style)"], **shared("inside_mode"),
                help="Causal: every token sees only itself and the tokens before it, as in a GPT decoder.")
causal = mode.startswith("Causal")

try:
    w = walk(loaded, scratch, text, pair or None, layer, causal)
except UserError as err:
    st.warning(str(err))
    st.stop()
if w.notice:
    st.warning(w.notice)

tokens, t, s = w.tokens, w.trace, w.trace.steps
T, H, d_k = len(tokens), cfg.hidden_size, cfg.head_dim
focus = st.selectbox("Token to follow in the tables (and to predict at the end)", range(T),
                     index=w.default_focus(), format_func=lambda i: f"{i}: {tokens[i]}", key="inside_focus")
dims = slice(0, H)
if H > SLICE_WIDTH:
    start = st.slider("Hidden dimensions shown (window start)", 0, H - SLICE_WIDTH, 0, step=8, key="inside_dims")
    dims = dim_window(H, start)
shown = f"dimensions {dims.start}–{dims.stop - 1} of {H}" if dims.stop - dims.start < H else f"all {H} dimensions"


def values(rows: dict, start: int = dims.start) -> pd.DataFrame:
    """A few real numbers of the followed token: one row per named vector, columns d{start}, …"""
    frame = pd.DataFrame({name: v[start:start + TABLE_DIMS].tolist() for name, v in rows.items()}).T
    frame.columns = [f"d{d}" for d in range(start, start + frame.shape[1])]
    return frame.round(4)


def step(title: str, formula: str, shape: str, intuition: str) -> None:
    st.subheader(title)
    st.latex(formula)
    st.caption(f"Shape: {shape}")
    st.markdown(intuition)


def code(label: str, function) -> None:
    """The from-scratch source that computed the steps above, verbatim."""
    with st.expander(f"The code: {label}"):
        st.code(inspect.getsource(function), language="python")


# --- Live proof -------------------------------------------------------------------------------
check = proof(loaded, scratch, w)
worst = max(check["max_abs_diff_hidden"], check["max_abs_diff_attention"])
mlm_note = ("" if check["max_abs_diff_mlm_logits"] is None
            else f", masked-word logits {check['max_abs_diff_mlm_logits']:.1e}")
details = (f"Largest difference over all {T} tokens and {cfg.num_layers} layers, with BERT's bidirectional mask: "
           f"hidden states {check['max_abs_diff_hidden_step_by_step']:.1e} step by step and "
           f"{check['max_abs_diff_hidden_sdpa']:.1e} with the fused SDPA kernel (it rounds floats in another "
           f"order), attention probabilities {check['max_abs_diff_attention']:.1e}{mlm_note}.")
if worst < 1e-4:
    st.success(f"✅ **Live proof:** this implementation matches transformers to {worst:.0e} "
               f"on this sentence. {details}")
else:
    st.error(f"This implementation differs from transformers by {worst:.1e} on this sentence. {details}")

# --- 1. Embeddings ----------------------------------------------------------------------------
e = t.embeddings
step("1 · Embeddings", r"E_i = \mathrm{LayerNorm}\big(W_{tok}[x_i] + W_{seg}[s_i] + W_{pos}[i]\big)",
     f"{T} tokens × {H} (showing {shown})",
     "Each token starts as a row of the word table, plus a row saying which segment it is in and "
     "a row saying where it sits, normalised to mean 0 and variance 1.")
figure(token_matrix(e["out"], tokens, "E = embeddings", dims), key="fig_embed")
table(values({"word": e["word"][focus], "segment": e["segment"][focus], "position": e["position"][focus],
              "sum": e["sum"][focus], "LayerNorm": e["out"][focus]}))
code("Embeddings.forward", Embeddings.forward)

# --- 2. Q, K, V -------------------------------------------------------------------------------
L = f"layer {layer + 1}, head {head + 1}"
head_cols = slice(head * d_k, (head + 1) * d_k)
step(f"2 · Queries, keys, values ({L})",
     r"Q = X W_Q + b_Q,\quad K = X W_K + b_K,\quad V = X W_V + b_V,\qquad Q_h = Q_{[:,\,h d_k:(h+1) d_k]}",
     f"X: {T} × {H}; W_Q, W_K, W_V: {H} × {H} each (the code multiplies once by [W_Q | W_K | W_V], "
     f"{H} × {3 * H}); each head gets {T} × d_k = {T} × {d_k} "
     f"(head {head + 1} is columns {head_cols.start}–{head_cols.stop - 1})",
     "A query asks 'what am I looking for?', a key says 'what do I contain?', a value is what a "
     "token hands over when it is looked at.")
cols = st.columns(3)
for col, name in zip(cols, "qkv"):
    figure(token_matrix(s[name][head], tokens, f"{name.upper()} (head {head + 1})"), f"fig_{name}", where=col)
table(values({"q": s["q"][head][focus], "k": s["k"][head][focus], "v": s["v"][head][focus]}, start=0))

# --- 3. Scores --------------------------------------------------------------------------------
step("3 · Scores",
     r"S = \frac{Q_h K_h^{\top}}{\sqrt{d_k}}" + rf",\quad \sqrt{{d_k}} = \sqrt{{{d_k}}} = {d_k ** 0.5:.3f}",
     f"{T} × {d_k} times {d_k} × {T} = {T} × {T}: one score for every (query, key) pair",
     "A high score means the query token's question matches the key token's content. Dividing by "
     "√d_k keeps the scores in a range where softmax still spreads its bets.")
figure(token_grid(s["scores"][head], tokens, "S = QKᵀ/√d_k (rows: queries, columns: keys)"),
                key="fig_scores")

# --- 4. Mask ----------------------------------------------------------------------------------
hidden_cells = ~t.visible
step("4 · Mask",
     r"S'_{ij} = \begin{cases} S_{ij} & \text{if token } i \text{ may see token } j\\ "
     r"-\infty & \text{otherwise}\end{cases}",
     f"{T} × {T}; {int(hidden_cells.sum())} of {T * T} cells hidden",
     ("Causal mask: token i sees only tokens 0…i, like a GPT decoder writing left to right. "
      if causal else "BERT's mask hides only padding, so every token sees the whole sentence, left and right"
      " (this sentence has no padding: nothing is hidden). ")
     + "In code −∞ is the most negative float, so a row with nothing visible cannot produce NaN.")
figure(token_grid(s["masked_scores"][head], tokens, "S′ (blank = masked)", hidden=hidden_cells),
                key="fig_masked")

# --- 5. Softmax -------------------------------------------------------------------------------
step("5 · Softmax", r"P_{ij} = \frac{e^{S'_{ij}}}{\sum_k e^{S'_{ik}}}",
     f"{T} × {T}, every row sums to 1",
     "Each row becomes a probability distribution: how much the query token takes from each token.")
probs = s["probs"][head]
figure(token_grid(probs, tokens, f"P: attention of {L}", probabilities=True), key="fig_probs")
row = probs[focus]
visible_row = t.visible[focus]
table(pd.DataFrame({
    "key token": [f"{i}: {k}" for i, k in enumerate(tokens)],
    "S (score)": s["scores"][head][focus].tolist(),
    "S′ (masked)": [v if ok else float("-inf")
                    for v, ok in zip(s["scores"][head][focus].tolist(), visible_row.tolist())],
    "P (softmax)": row.tolist(),
}).round(4), hide_index=True, height=min(38 + 35 * T, 320))
st.caption(f"Row {focus} (query token {focus}) sums to {float(row.sum()):.6f}.")

# --- 6. Weighted sum --------------------------------------------------------------------------
step("6 · Weighted sum of values", r"Z_h = P\,V_h,\qquad z_i = \sum_j P_{ij}\, v_j",
     f"{T} × {T} times {T} × {d_k} = {T} × {d_k}",
     "Each token's new vector is a blend of the value vectors it attends to.")
figure(token_matrix(s["context"][head], tokens, f"Z (head {head + 1})"), key="fig_context")
table(values({"z": s["context"][head][focus]}, start=0))

# --- 7. Concatenate heads -----------------------------------------------------------------------
step("7 · Heads side by side", r"\mathrm{Concat}(Z_1, \dots, Z_h)",
     f"{cfg.num_heads} heads × {T} × {d_k} → {T} × {H} (showing {shown})",
     f"All {cfg.num_heads} heads ran in parallel, each on its own {d_k} dimensions; their answers are "
     "laid side by side.")
figure(token_matrix(s["concat"], tokens, "Concat", dims), key="fig_concat")

# --- 8. Output projection ---------------------------------------------------------------------
step("8 · Output projection", r"O = \mathrm{Concat}(Z_1, \dots, Z_h)\, W_O + b_O",
     f"{T} × {H} times {H} × {H} = {T} × {H}",
     "W_O mixes the heads' answers back into one vector per token.")
figure(token_matrix(s["attn_out"], tokens, "O = multi-head attention output", dims), key="fig_out")
code("SelfAttention.forward (steps 2–8)", SelfAttention.forward)

# --- 9. Residual + LayerNorm ------------------------------------------------------------------
step("9 · Residual + LayerNorm",
     r"A = \mathrm{LayerNorm}(X + O),\quad "
     r"\mathrm{LayerNorm}(u) = \gamma \odot \frac{u - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta",
     f"{T} × {H}",
     "Attention adds to the token's vector instead of replacing it; LayerNorm keeps the numbers in range.")
figure(token_matrix(s["norm1"], tokens, "A", dims), key="fig_norm1")
table(values({"X (input)": s["x"][focus], "O": s["attn_out"][focus], "X + O": s["residual1"][focus],
              "A = LayerNorm": s["norm1"][focus]}))

# --- 10. Feed-forward -------------------------------------------------------------------------
I = cfg.intermediate_size
gelu = (r"\mathrm{GELU}(z) = z\,\Phi(z)" if cfg.gelu_approximate == "none"
        else r"\mathrm{GELU}(z) \approx \tfrac{z}{2}\big(1 + \tanh(\sqrt{2/\pi}(z + 0.044715 z^3))\big)")
step("10 · Feed-forward with GELU", r"F = \mathrm{GELU}(A W_1 + b_1)\, W_2 + b_2,\qquad " + gelu,
     f"{T} × {H} → {T} × {I} → {T} × {H} (showing dimensions 0–{min(I, SLICE_WIDTH) - 1} of {I})",
     "Every token, on its own, goes through a wider layer: GELU lets positive values through and "
     "squashes negative ones towards 0.")
figure(token_matrix(s["ffn_act"], tokens, "GELU(A W₁ + b₁)", dim_window(I)), key="fig_ffn")
table(values({"A W₁ + b₁": s["ffn_pre"][focus], "GELU(…)": s["ffn_act"][focus]}, start=0))

# --- 11. Residual + LayerNorm -----------------------------------------------------------------
step("11 · Residual + LayerNorm", r"Y = \mathrm{LayerNorm}(A + F)", f"{T} × {H}",
     f"This is the output of layer {layer + 1}.")
figure(token_matrix(s["out"], tokens, f"Y = output of layer {layer + 1}", dims), key="fig_y")
table(values({"A": s["norm1"][focus], "F": s["ffn_out"][focus], "A + F": s["residual2"][focus],
              "Y = LayerNorm": s["out"][focus]}))
code("EncoderLayer.forward (steps 9–11)", EncoderLayer.forward)

# --- 12. Next layer ---------------------------------------------------------------------------
step("12 · Next layer", r"X^{(l+1)} = Y^{(l)},\qquad l = 1, \dots, " + str(cfg.num_layers),
     f"{T} × {H} in, {T} × {H} out, {cfg.num_layers} times",
     "Every layer repeats steps 2–11 with its own weights. The chart shows how much each layer "
     "changes each token's vector.")
figure(layer_change(relative_change(t.hidden_states), tokens), key="fig_layers")

# --- 13. MLM head -----------------------------------------------------------------------------
step("13 · Masked-word head",
     r"\mathrm{logits}_i = \mathrm{LayerNorm}\big(\mathrm{GELU}(h_i W_t + b_t)\big)\, W_{tok}^{\top} + b,"
     r"\qquad p_i = \mathrm{softmax}(\mathrm{logits}_i)",
     f"{T} × {H} → {T} × {cfg.vocab_size} (one score per vocabulary word); W_tok is the embedding table again",
     "The final vector of a token is compared with every word's embedding: the closest words win.")
if not loaded.has_mlm or scratch.mlm is None:
    st.warning("This model has no trained masked-word (MLM) head, so it cannot guess words honestly. "
               "Its encoder above is real; pick a model with an MLM head to see predictions.")
else:
    preds = top_predictions(loaded, scratch, t.hidden_states[-1], focus)
    figure(predictions(preds, f"Top guesses at position {focus} ({mode.split(' ')[0].lower()})"),
                    key="fig_preds")
code("MaskedLMHead.forward", MaskedLMHead.forward)
if pair:
    if loaded.has_nsp and scratch.nsp is not None:
        is_next = float(scratch.nsp_logits(t.hidden_states[-1][None]).softmax(-1)[0, 0])
        st.metric("Next-sentence head: P(segment B follows segment A)", f"{is_next:.1%}",
                  help="softmax(tanh(h_[CLS] W_p + b_p) W_nsp + b_nsp), read from the [CLS] token.")
    else:
        st.caption("This model has no trained next-sentence (NSP) head, so it cannot judge whether B follows A.")

# --- Bidirectional vs causal ------------------------------------------------------------------
st.header("Bidirectional vs causal")
st.markdown("The same weights, the same attention code, one argument changed: `causal=True` adds "
            "the look-ahead mask. BERT was trained to look both ways, so hiding the right side "
            "changes what it attends to and what it guesses.")
other = walk(loaded, scratch, text, pair or None, layer, not causal)
both = {causal: w, not causal: other}
left, right = st.columns(2)
for col, is_causal in ((left, False), (right, True)):
    name = "Causal (GPT-style)" if is_causal else "Bidirectional (BERT)"
    run = both[is_causal]
    figure(token_grid(run.trace.steps["probs"][head], tokens, f"{name}: {L}", probabilities=True),
           f"fig_compare_{is_causal}", where=col)
    if loaded.has_mlm and scratch.mlm is not None:
        guesses = top_predictions(loaded, scratch, run.trace.hidden_states[-1], focus, k=5)
        with col:
            table(pd.DataFrame(guesses, columns=["token", "probability"]).round(4), hide_index=True)
