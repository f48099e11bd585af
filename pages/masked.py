"""Masked words & NSP: BERT's two pretraining games, with probabilities you can poke at."""
from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

import streamlit as st

from core.errors import UserError
from core.figures.masked import filled_html, logit_lens_figure, plain_label, predictions_bar, surprise_html
from core.explain.masked import (MAX_SURPRISAL_TOKENS, fill_mask_shared, fill_masks, joint_fill, logit_lens, prepare,
                         require_mlm, surprisal, with_masks, word_spans)
from core.explain.nsp import EXAMPLES, next_sentence_probability, require_nsp
from core.inputs.examples import CLICK_TO_MASK, FILL_MASK
from core.models.embedded import quality_note
from pages._common import cached_model, current_model, figure, get_loaded, keep, model_options, shared, shared_text, table

PICK = "— pick a model —"


def framing(loaded) -> frozenset:
    """[CLS]/[SEP]/[PAD]-like tokens, left out when showing a sentence (the mask stays)."""
    tok = loaded.tokenizer
    return frozenset(tok.all_special_tokens) - {tok.mask_token, tok.unk_token}


def pick(group: list[int]) -> None:
    """Button callback: runs before the rerun, so the page draws the new pick everywhere."""
    st.session_state["click_pick"] = group


@st.cache_resource(max_entries=256, show_spinner=False)
def cached_fill(choice: str, text: str, top_k: int):
    """Shared by every session (read-only): thirty students on the default sentence cost one pass,
    and different sentences asked at the same moment share one batched pass (fill_mask_shared)."""
    return fill_mask_shared(cached_model(choice), text, top_k=top_k)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_next_sentence(choice: str, a: str, b: str):
    return next_sentence_probability(cached_model(choice), a, b)


@st.cache_data(max_entries=64, show_spinner="Masking every token in turn…")
def cached_surprisal(choice: str, text: str, top_k: int) -> list:
    """One forward pass per token: cached, so clicking a token does not recompute the colours."""
    return surprisal(cached_model(choice), text, top_k=top_k)


@st.cache_data(max_entries=64, show_spinner="Decoding the masks jointly…")
def cached_joint(choice: str, text: str, picked: tuple | None, beam: int) -> list:
    """Joint completions of the typed masks (picked=None) or of the clicked tokens."""
    loaded = cached_model(choice)
    masked = prepare(loaded, text) if picked is None else with_masks(loaded, text, list(picked))
    return joint_fill(loaded, masked, beam=beam, n_best=min(beam, 8))


def show_joint(loaded, text: str, picked: tuple | None, key: str) -> None:
    """Joint completions of all masks, with the one-sentence explanation."""
    st.markdown(
        "**Joint completions.** The decoder fills the mask the model is surest about first, puts "
        "that word in, asks again for the rest, and keeps the best few partial sentences (a beam); "
        "each completion's probability is the product of those step-by-step probabilities "
        "(the chain rule). The per-mask lists above ignore each other — these do not.")
    beam = st.slider("Beam width", 1, 20, 8, key=f"{key}_beam",
                     help="How many partial completions to keep at each step; wider is slower but finds likelier sentences.")
    try:
        completions = cached_joint(loaded.choice, text, picked, beam)
    except UserError as err:
        st.warning(str(err))
        return
    table([{"rank": i + 1, "completion": c.text, "joint probability": f"{c.joint:.3g}",
            "words (per-step probability)": " · ".join(f"{t.token} ({t.score:.2f})" for t in c.tokens),
            "fill order": " → ".join(f"mask {j + 1}" for j in c.order)}
           for i, c in enumerate(completions)])


st.title("🎭 Masked words & next-sentence prediction")
st.markdown(
    "BERT learned language by playing two games on billions of words. **Guess the hidden word**: "
    "15% of the tokens were hidden behind `[MASK]` and the model had to name them from the words "
    "on *both* sides. **Does B follow A?**: given two sentences, was the second the real next "
    "sentence or a random one? Below you play both against the model and see how sure it is."
)
model = current_model()
if model.source == "embedded":
    st.caption(f"ℹ️ {quality_note()}")
try:
    require_mlm(model)
    has_mlm = True
except UserError as err:
    has_mlm = False
    st.info(f"🙈 {err} The masked-word tabs below wait for such a model; the next-sentence tab "
            "says whether this one can play that game.")

# What the user typed survives while its tab is closed (the fill tab's sentence also feeds two others).
keep(mlm_text=FILL_MASK, mlm_topk=5, click_text=CLICK_TO_MASK, click_whole=False,
     nsp_a=next(iter(EXAMPLES.values()))[0], nsp_b=next(iter(EXAMPLES.values()))[1])


def fill_result(warn: bool):
    """The fill tab's predictions (cached), or None: no MLM head, or a sentence to fix (said if `warn`)."""
    if not has_mlm:
        return None
    try:
        return cached_fill(model.choice, st.session_state["mlm_text"], st.session_state["mlm_topk"])
    except UserError as err:
        if warn:
            st.warning(f"✍️ {err}")
        return None


@st.fragment
def fill_view():
    """The fill tab as a fragment: a new sentence reruns only this, not the sidebar and the page
    around it, so the server and every student's browser redraw one tab (issue 22)."""
    st.markdown(f"Type a sentence and hide words with `[MASK]` (or `<mask>`; this model's own "
                f"mask token is `{model.tokenizer.mask_token}`). Several masks are fine.")
    text = st.text_input("Sentence with masks", **shared_text("mlm_text"))
    st.slider("Predictions per mask (top-k)", 1, 20, **shared("mlm_topk"))
    result = fill_result(warn=True)
    if result is not None:
        for note in result.masked.notes:
            st.info(note)
        st.markdown("**Best guess for every mask:**")
        st.html(filled_html(result.masked.encoded.tokens, result.masked.positions,
                            [p[0].token for p in result.predictions], hide=framing(model)))
        zoom = st.toggle("Zoom the bars to the guesses", key="mlm_zoom",
                         help="The axis runs from 0 to 100% so a 4% guess looks like one; zoom to compare small ones.")
        columns = st.columns(min(len(result.predictions), 3))
        for i, preds in enumerate(result.predictions):
            with columns[i % len(columns)]:
                figure(predictions_bar(preds, f"Mask {i + 1}", zoom=zoom), key=f"mlm_bar_{i}")
        if len(result.predictions) > 1:
            show_joint(model, text, None, "mlm")
        st.caption("Probabilities are the softmax of the MLM head over the whole vocabulary at each "
                   "mask, exactly what `transformers.pipeline('fill-mask')` reports.")


# Lazy tabs: only the open one computes, so a rerun costs one tab's work, not five.
fill_tab, click_tab, lens_tab, compare_tab, nsp_tab = st.tabs(
    ["Fill the mask", "Click to mask", "Layer by layer", "Compare models", "Next sentence"], **shared("mlm_tab"),
    on_change="rerun")

with fill_tab:
    if fill_tab.open:
        fill_view()

with click_tab:
    if click_tab.open:
        st.markdown("Click a word to hide it and see what the model would put there. Each token is "
                    "coloured by the probability the model gives the **original** word when only that "
                    "word is hidden: red words surprised it, green ones it saw coming.")
        click_text = st.text_input("Sentence", **shared_text("click_text"))
        whole = st.toggle("Whole words (mask every piece of a word WordPiece split)", **shared("click_whole"),
                          help="BERT's later checkpoints were trained this way: hiding only '##ing' "
                               "of 'walking' makes the game too easy.")
        if has_mlm:
            try:
                rows = cached_surprisal(model.choice, click_text, st.session_state["mlm_topk"])
                spans = word_spans(model, click_text)
            except UserError as err:
                rows, spans = [], []
                st.warning(f"✍️ {err}")
            if st.session_state.get("click_for") != (click_text, whole):  # a new sentence resets the pick
                st.session_state["click_for"] = (click_text, whole)
                st.session_state["click_pick"] = None
            picked = st.session_state.get("click_pick")
            st.html(surprise_html(rows, highlight=set(picked or [])))
            if len(rows) == MAX_SURPRISAL_TOKENS:
                st.caption(f"Only the first {MAX_SURPRISAL_TOKENS} tokens are scored: each costs a forward pass.")
            tokens = {r.position: r.token for r in rows}
            groups = [g for g in spans if all(p in tokens for p in g)] if whole else [[p] for p in tokens]
            with st.container(horizontal=True, gap="small"):
                for group in groups:
                    label = model.tokenizer.convert_tokens_to_string([tokens[p] for p in group]).strip() or tokens[group[0]]
                    st.button(plain_label(label), key=f"click_{group[0]}_{len(group)}", on_click=pick, args=(group,))
            if rows and picked:
                masked = with_masks(model, click_text, picked)
                by_pos = {r.position: r for r in rows}
                original = model.tokenizer.convert_tokens_to_string([by_pos[p].token for p in picked]).strip()
                st.html(filled_html(masked.encoded.tokens, [], [], hide=framing(model)))
                if len(picked) == 1:
                    r = by_pos[picked[0]]
                    st.metric(f"P(original '{plain_label(original)}')", f"{r.probability:.2%}")
                    st.caption(f"The original was the model's guess number {r.rank} of {len(model.tokenizer):,}.")
                    figure(predictions_bar(r.top, "What the model puts there (orange: the original)",
                                                    original_id=r.token_id), key="click_bar")
                else:
                    st.caption(f"'{plain_label(original)}' is {len(picked)} pieces: each piece's own guess, "
                               "then whole-word completions.")
                    preds = fill_masks(model, [masked], top_k=st.session_state["mlm_topk"])[0].predictions
                    columns = st.columns(min(len(preds), 3))
                    for i, p in enumerate(preds):
                        figure(predictions_bar(p, f"Piece {i + 1}"), f"click_piece_{i}", where=columns[i % len(columns)])
                    show_joint(model, click_text, tuple(picked), "click")
            elif rows:
                st.caption("👆 Click a token above.")

with lens_tab:
    if lens_tab.open:
        result = fill_result(warn=False)
        st.markdown(
            "How does the guess form? Apply the MLM head to the hidden state after **every** layer "
            "(the *logit lens*) at a mask of the **Fill the mask** sentence. The head was trained on "
            "the last layer only, so read *when* the final answer takes over, not the exact early numbers.")
        st.text(f"Sentence: {st.session_state['mlm_text']}")  # plain text: it is the user's
        if result is not None:
            which = st.selectbox("Mask", range(len(result.masked.positions)), format_func=lambda i: f"Mask {i + 1}",
                                 key="lens_mask") if len(result.masked.positions) > 1 else 0
            steps = logit_lens(model, result.masked, which, top_k=3)
            figure(logit_lens_figure(steps), key="lens_fig")
            table([{"layer": "embeddings" if s.layer == 0 else str(s.layer),
                    **{f"guess {k + 1}": f"{p.token} ({p.score:.3f})" for k, p in enumerate(s.top)},
                    f"P(final answer '{steps[-1].top[0].token}')": float(f"{s.final_probability:.3g}")} for s in steps])
        else:
            st.caption("Fill a mask in the first tab to see its guess form layer by layer.")

with compare_tab:
    if compare_tab.open:
        st.markdown("The same sentence, the same masks, two models. Cased vs uncased, distilled vs "
                    "full, your fine-tune vs the original: see where they agree.")
        options = [PICK] + [c for c in model_options() if c != model.choice]
        other_choice = st.selectbox("Compare with", options, key="compare_choice",
                                    help="Hub models need internet the first time.")
        if other_choice != PICK:
            other = get_loaded(other_choice)
            columns = st.columns(2)
            for column, loaded in zip(columns, (model, other)):
                with column:
                    st.subheader(loaded.choice if loaded is not None else other_choice)
                    if loaded is None:
                        continue
                    try:
                        res = cached_fill(loaded.choice, st.session_state["mlm_text"], st.session_state["mlm_topk"])
                    except UserError as err:
                        st.warning(str(err))
                        continue
                    for note in res.masked.notes:
                        st.caption(f"ℹ️ {note}")
                    st.html(filled_html(res.masked.encoded.tokens, res.masked.positions,
                                        [p[0].token for p in res.predictions], hide=framing(loaded)))
                    for i, preds in enumerate(res.predictions):
                        figure(predictions_bar(preds, f"Mask {i + 1}"), key=f"cmp_{loaded.choice}_{i}")

with nsp_tab:
    if nsp_tab.open:
        st.markdown(
            "BERT read pairs `[CLS] A [SEP] B [SEP]`. Half the time B really came next in the book, "
            "half the time it was a random sentence; a small head on the `[CLS]` vector learned to "
            "tell which. Later models dropped this game (RoBERTa found it did not help).")

        def load_example():
            a, b = EXAMPLES[st.session_state["nsp_example"]]
            st.session_state["nsp_a"], st.session_state["nsp_b"] = a, b

        st.selectbox("Ready examples", list(EXAMPLES), key="nsp_example", on_change=load_example)
        a = st.text_area("Sentence A", **shared_text("nsp_a"), height=70)
        b = st.text_area("Sentence B", **shared_text("nsp_b"), height=70)
        try:
            require_nsp(model)
            p, notice = cached_next_sentence(model.choice, a, b)
        except UserError as err:
            st.info(f"🙅 {err}")
        else:
            if notice:
                st.warning(f"✂️ {notice}")
            st.metric("P(B follows A)", f"{p:.1%}")
            st.progress(p)
            st.caption("Above 50%, the model votes “B is the next sentence”; below, “B is random”.")
