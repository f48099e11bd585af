"""Tokens & embeddings: what BERT actually reads, from the typed text to the vector layer 1 gets."""
from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

import re

import streamlit as st

from core.explain.embeddings import (compare_in_context, decompose, has_segment_table, position_similarity,
                             project_tokens, sentence_states)
from core.errors import UserError
from core.figures.tokens import (chips_html, context_figure, embedding_figure, embedding_steps, legend_html,
                                 position_similarity_figure, projection_figure)
from core.explain.tokens import compare_splits, explain_algorithm, lookup, lowercases, tokenize
from pages._common import cached_model, current_model, figure, get_loaded, model_options, shared, shared_text, table

DEFAULT_TEXT = "Unbelievably, the tokenizer splits rare words into pieces."
DEFAULT_PAIR = "Common words like bank stay whole."
DEFAULT_CONTEXT = "He sat on the river bank and watched the water.\n" \
                  "She deposited her money at the bank.\nThe bank approved my loan."
PICK = "— pick a model —"
MAX_SENTENCES = 8


def plain(message: str) -> str:
    """A message that may quote the user's text, with every markdown character backslash-escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>$~:&=])", r"\\\1", message)


@st.cache_data(max_entries=64, show_spinner=False)
def states_of(choice: str, sentence: str):
    """Every layer's vectors for one sentence; cached so moving a slider does not rerun BERT."""
    return sentence_states(cached_model(choice), sentence)


st.title("🔤 Tokens & embeddings")
st.markdown(
    "BERT never sees words. A **tokenizer** cuts the text into pieces from a fixed vocabulary, "
    "each piece becomes an **id**, and each id picks a row of a table of vectors. Add a vector "
    "for the **segment** (sentence A or B) and one for the **position**, normalise, and that is "
    "what the first layer reads."
)
model = current_model()
tok = model.tokenizer

st.header("1 · The pieces")
pair_mode = st.radio("Input", ["One sentence", "A pair of sentences (segments A and B)"],
                     horizontal=True, **shared("tok_mode")) != "One sentence"
text = st.text_area("Sentence A" if pair_mode else "Your text", DEFAULT_TEXT, **shared("tok_text"),
                    help="Emoji, accents and other scripts are welcome: see what the vocabulary makes of them.")
pair = st.text_input("Sentence B", DEFAULT_PAIR, **shared_text("tok_pair")) if pair_mode else None

tokenized = None
try:
    tokenized = tokenize(model, text, pair)
except UserError as err:
    st.info(f"✍️ {plain(str(err))} The pieces, ids and embeddings of your text will appear here.")

if tokenized is not None:
    if tokenized.notice:
        st.warning(f"✂️ {tokenized.notice}")
    st.html(chips_html(tokenized))
    st.html(legend_html(segments=pair_mode))
    n_words = sum(len(tokenized.word_pieces(s)) for s in (0, 1))
    c1, c2, c3 = st.columns(3)
    c1.metric("Tokens the model reads", len(tokenized.pieces))
    c2.metric("Words", n_words)
    c3.metric(f"Vocabulary ({tokenized.algorithm})", f"{len(tok):,}")
    if lowercases(tok):
        st.caption("This tokenizer is **uncased**: it lowercases everything first, so “Paris” and "
                   "“paris” are the same pieces.")
    st.subheader("Why words were split")
    st.markdown(explain_algorithm(tok))
    splits = tokenized.splits()
    if splits:
        table([{"word": s.word, "pieces": " ".join(s.pieces), "why": s.reason} for s in splits])
    else:
        st.caption("Every word of your text is a single entry of the vocabulary.")

    st.subheader("What the model is given")
    table([{"piece": p.token, "id": p.id, "segment id": p.segment, "position id": p.position,
            "kind": p.kind, "your text": (tokenized.texts[p.sentence] or "")[p.start:p.end]
            if p.sentence is not None else ""} for p in tokenized.pieces])
    notes = [f"Special tokens here: `{tok.cls_token}` opens the input (its final vector is used to "
             f"classify the whole text), `{tok.sep_token}` closes each segment, `{tok.pad_token}` "
             f"fills batches to one length and `{tok.unk_token}` stands for anything unknown."]
    if not has_segment_table(model):
        notes.append("DistilBERT has **no segment embeddings**: only the separator tells the two "
                     "sentences apart, so every segment id is 0.")
    elif model.model_type == "roberta":
        notes.append("RoBERTa's segment table has a single row: every token gets segment 0, and "
                     "the pair is separated by `</s></s>` only.")
    if tokenized.pieces[0].position != 0:
        notes.append(f"Position ids start at {tokenized.pieces[0].position}: RoBERTa keeps rows "
                     f"0 to {tokenized.pieces[0].position - 1} for padding (padding_idx + 1).")
    for note in notes:
        st.caption(note)

    st.header("2 · Two tokenizers, one text")
    st.markdown("Different models cut the same text differently: an uncased vocabulary, a cased "
                "one, RoBERTa's byte-level BPE that never needs an unknown token…")
    others = [c for c in model_options() if c != model.choice]
    other_choice = st.selectbox("Compare with", [PICK, *others], key="tok_compare")
    st.caption("Without internet the list holds what works: the embedded model, the models you trained and "
               "hub models downloaded beforehand.")
    if other_choice != PICK and (other := get_loaded(other_choice)) is not None:
        try:
            second = tokenize(other, text, pair)
        except UserError as err:
            st.info(plain(str(err)))
        else:
            if second.notice:
                st.warning(f"✂️ {other.choice}: {second.notice}")
            left, right = st.columns(2)
            left.markdown(f"**{plain(model.choice)}** · {len(tokenized.pieces)} tokens · {tokenized.algorithm}")
            left.html(chips_html(tokenized))
            right.markdown(f"**{plain(other.choice)}** · {len(second.pieces)} tokens · {second.algorithm}")
            right.html(chips_html(second))
            st.caption("Each word of the text, and the pieces each tokenizer made of its characters:")
            table([{"word": r["word"], model.choice: " ".join(r["a"]), other.choice: " ".join(r["b"])}
                   for r in compare_splits(tokenized, second)])

st.header("3 · The vocabulary")
st.markdown("Is a word one entry of the vocabulary? Which entries have the most similar input "
            "vectors (cosine similarity over the rows of the word-embedding table)?")
word = st.text_input("Word", "bank", **shared_text("tok_word"))
try:
    found = lookup(model, word)
except UserError as err:
    st.info(plain(str(err)))
else:
    if found.single:
        st.success(f"One token: id {found.ids[0]}.")
    else:
        st.warning(f"Not one token: {len(found.ids)} pieces.")
    table([{"piece": p, "id": i} for p, i in zip(found.pieces, found.ids)])
    if found.note:
        st.caption(found.note)
    table([{"neighbour": n.token, "id": n.id, "cosine": n.cosine} for n in found.neighbours],
          column_config={"cosine": st.column_config.ProgressColumn("cosine", min_value=0.0,
                                                                   max_value=1.0, format="%.3f")})

if tokenized is not None:
    st.header("4 · From ids to vectors")
    emb = decompose(model, tokenized.encoded)
    width = emb.token.shape[1]
    st.markdown(
        f"Each token's vector is the sum of rows from {'three' if emb.segment is not None else 'two'} "
        f"tables, each {width} numbers wide, then LayerNorm-ed (rescaled to mean 0, variance 1 "
        "with learned gain and bias)."
    )
    if emb.projected is not None:
        st.caption(f"ALBERT factorises its embeddings: the tables are only {width} wide, and a linear "
                   f"layer projects the result to the hidden size {emb.projected.shape[1]}.")
    shown = 64
    if len(emb.tokens) > shown:
        st.caption(f"The heatmaps show the first {shown} of your {len(emb.tokens)} tokens.")
    steps = embedding_steps(emb)  # lazy tabs: the open step's heatmap is built and drawn, not all five
    for tab, name in zip(st.tabs(list(steps), key="emb_step", on_change="rerun"), steps):
        if tab.open:
            figure(embedding_figure(emb, name, max_tokens=shown), f"emb_{name}", where=tab)
    st.caption(f"Check: our sum + LayerNorm differs from the model's own embedding layer by at most "
               f"{emb.max_error:.1e}.")

    st.subheader("Positions that look alike")
    most = min(128, model.max_length)
    n_positions = st.slider("Positions shown", min(8, most), most, min(64, most), key="pos_n")
    matrix, ids = position_similarity(model, n_positions)
    figure(position_similarity_figure(matrix, ids), key="pos_sim")
    st.caption("The model learned one vector per position. Nearby positions end up similar (the bright "
               "band along the diagonal), so the model can tell near from far.")

st.header("5 · The same word in different sentences")
st.markdown("Layer 0 gives a word the same vector wherever it is (bar its position). Each layer "
            "mixes in the other words, so “bank” of a river and “bank” of money drift apart.")
ctx_word = st.text_input("Word to follow", "bank", key="ctx_word")
ctx_text = st.text_area("Sentences containing it, one per line", DEFAULT_CONTEXT, key="ctx_sentences")
sentences = [s.strip() for s in ctx_text.splitlines() if s.strip()]
if len(sentences) > MAX_SENTENCES:
    st.info(f"Using the first {MAX_SENTENCES} of your {len(sentences)} sentences.")
    sentences = sentences[:MAX_SENTENCES]
states = [states_of(model.choice, s) for s in sentences]
try:
    comparison = compare_in_context(states, ctx_word)
except UserError as err:
    st.info(plain(str(err)))
else:
    figure(context_figure(comparison), key="ctx_lines")
    table([{"sentence": i + 1, "text": s} for i, s in enumerate(comparison.sentences)])

n_layers = model.summary()["layers"]
layer = st.slider("Layer for the 2-D map (0 = embedding output)", 0, n_layers, n_layers, key="ctx_layer")
with_specials = st.checkbox("Include special tokens", False, key="ctx_specials")
try:
    projection = project_tokens(states, layer, include_special=with_specials)
except UserError as err:
    st.info(plain(str(err)))
else:
    figure(projection_figure(projection, sentences, highlight=ctx_word), key="ctx_pca")
    st.caption("PCA keeps the two directions along which these tokens differ most; the share of "
               "variance each keeps is on its axis.")
