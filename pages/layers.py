"""Layers: what BERT's layers know — the projector, probes by layer, nearest neighbours, a head's query-key map."""
from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

import pandas as pd
import streamlit as st

from core.errors import UserError
from core.explain.attention import counted_label
from core.figures.layers import (TASK_TITLES, counts_figure, neighbours_html, probe_figure, projector_figure,
                                 query_key_figure, sense_figure)
from core.layers.neighbours import MAX_K, build_index, nearest, open_index
from core.layers.pos import table_tags, tagger_missing
from core.layers.probes import DEFAULT_WORDS, TASKS, run_probes, selectivity
from core.layers.projector import MAX_SENTENCES, METHODS, project
from core.layers.query_key import head_count, query_key_map
from core.layers.senses import SENSES, sense_sentences, sense_similarity
from core.layers.states import clean_sentences, token_table
from pages._common import cached_model, current_model, figure, job_panel, job_running, keep, shared, start_job, table

DEFAULT_SENTENCES = "The cat sat on the warm mat.\nShe quickly ran to the station.\nThey will paint the old house blue."
DEFAULT_QUERY = "We sat on the bank of the river."
COLOURS = {"word": "word", "sentence": "sentence", "pos": "part of speech"}


# Token tables hold every layer's vectors (MBs): cached as shared, read-only objects, not copied per call.
@st.cache_resource(max_entries=16, show_spinner="Running the sentences through every layer…")
def cached_table(choice: str, sentences: tuple[str, ...]):
    return token_table(cached_model(choice), list(sentences))


@st.cache_resource(max_entries=16, show_spinner="Projecting every layer…")
def cached_projection(choice: str, sentences: tuple[str, ...], method: str, dims: int):
    return project(cached_table(choice, sentences), method, dims)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_tags(choice: str, sentences: tuple[str, ...]):
    return table_tags(cached_table(choice, sentences))


@st.cache_data(max_entries=8, show_spinner=False)
def cached_senses(choice: str):
    return sense_similarity(cached_table(choice, tuple(sense_sentences())))


@st.cache_data(max_entries=32, show_spinner="Reading one head's queries and keys…")
def cached_query_keys(choice: str, sentences: tuple[str, ...], layer: int, head: int):
    return query_key_map(cached_model(choice), list(sentences), layer, head)


@st.cache_resource
def shared_results() -> dict:
    """Finished probe runs and opened neighbour indexes, per model: one student's run serves the class."""
    return {"probes": {}, "index": {}}


def readable(token: str) -> str:
    """A token without the BPE/SentencePiece space marks (Ġbank, ▁bank -> bank)."""
    return token.lstrip("Ġ▁") or token


def neighbour_index(loaded):
    """The model's index if someone built it (kept open for everyone), else None."""
    store = shared_results()["index"]
    if loaded.choice not in store:
        found = open_index(loaded)
        if found is None:
            return None
        store[loaded.choice] = found
    return store[loaded.choice]


st.title("🧅 What do the layers know?")
st.markdown(
    "Each layer rewrites every token's vector using the others. BERTology asks what those vectors hold: "
    "a word's vector **moves from word identity towards its meaning in context** layer by layer (the two "
    "*banks* part ways), **part of speech** can be read off the lower-middle layers by a linear probe "
    "(Tenney et al. 2019, *BERT rediscovers the classical NLP pipeline*), and each head's queries and keys "
    "have a **geometry** of their own (AttentionViz, Yeh et al. 2023). Here you see it live, on the sidebar's model."
)
st.info(
    "**What the embedded model shows** (measured here; its encoder is all-MiniLM-L6-v2 with this project's "
    "masked-word training merged in). The two senses of *bank* have cosine 0.97 at layer 0 and "
    "0.58 at layer 6, while two uses of one sense stay at 0.77. A part-of-speech probe reads 88% at layer 0 (the "
    "word alone mostly decides), peaks at 91.5% in layer 2 and falls to 89% at the top, as Tenney et al. found for "
    "BERT's lower-middle layers; the control task falls from 78% to 55%, so **selectivity** (POS − control) "
    "peaks at layer 4: the middle layers hold part of speech that memorising words cannot explain. Sentiment "
    "from [CLS] rises from chance to 71% at layer 5 (a sentence-embedding model, never trained for sentiment)."
)

loaded = current_model()
choice = loaded.choice
keep(ly_text=DEFAULT_SENTENCES, ly_senses=True)  # the projector's sentences feed the query-key tab too
tabs = st.tabs(["Projector", "Probes", "Neighbours", "Query-key map"], **shared("ly_tab"), on_change="rerun")
projector_tab, probes_tab, neighbours_tab, qk_tab = tabs


def chosen_sentences() -> tuple[str, ...] | None:
    """The projector's sentences (shared with the query-key map), or None after saying what is wrong."""
    typed = st.session_state["ly_text"].splitlines()
    extra = sense_sentences() if st.session_state["ly_senses"] else []
    try:
        sentences, notes = clean_sentences([*typed, *extra], MAX_SENTENCES)
    except UserError as err:
        st.warning(f"✍️ {err}")
        return None
    for note in notes:
        st.caption(f"ℹ️ {note}")
    return tuple(sentences)


with projector_tab:
    if projector_tab.open:
        left, right = st.columns([3, 2])
        with left:
            st.text_area("Your sentences (one per line)", **shared("ly_text"), height=100, max_chars=10_000)
            st.toggle(f"Add the built-in words in two senses ({', '.join(SENSES)})", **shared("ly_senses"))
            c1, c2, c3 = st.columns(3)
            method = c1.radio("Reduce with", METHODS, **shared("ly_method"), horizontal=True, format_func=str.upper,
                              help="PCA: straight lines through the cloud (fast). UMAP: keeps neighbours together "
                                   "(slower, a few seconds a layer).")
            dims = c2.radio("Dimensions", (2, 3), **shared("ly_dims"), horizontal=True, format_func=lambda d: f"{d}-D")
            colour = c3.selectbox("Colour by", list(COLOURS), **shared("ly_colour"), format_func=COLOURS.get)
        sentences = chosen_sentences()
        if sentences:
            try:
                states = cached_table(choice, sentences)
                shown = cached_projection(choice, sentences, method, dims)
            except UserError as err:
                st.warning(f"✍️ {err}")
            else:
                for note in states.notes + shown.notes:
                    st.caption(f"ℹ️ {note}")
                rows = shown.rows
                words = [states.word_text(r).lower() for r in rows]
                if colour == "pos" and tagger_missing():
                    st.info(f"{tagger_missing()} Coloured by word instead.")
                    colour = "word"
                labels = {"word": lambda: words,
                          "sentence": lambda: [f"sentence {states.sentence[r] + 1}" for r in rows],
                          "pos": lambda: list(cached_tags(choice, sentences)[rows])}[colour]()
                candidates = sorted(set(words), key=lambda w: (w not in SENSES, w))
                follow = left.multiselect("Follow a word through the layers", candidates,
                                          default=[w for w in ("bank",) if w in candidates], **shared("ly_follow"),
                                          max_selections=3)
                paths = [i for i, w in enumerate(words) if w in follow]
                hover = [f"{states.tokens[r]} · {states.context(r)}" for r in rows]
                figure(projector_figure(shown.points, labels, hover, start=0, follow=paths,
                                         title=f"{len(rows)} tokens · {method.upper()}"), "ly_projector", where=left)
                left.caption("Press ▶ or drag the slider: each point is one token. Each layer's cloud is turned to line "
                             "up with the one before (a Procrustes alignment: the best rotation, nothing stretched), so "
                             "the axes stay still and what moves is the token. The lines are the paths of the followed "
                             "words only, numbered by layer (0 = the embeddings).")
                if shown.explained:
                    left.caption("Variance on the axes, by layer: " + " · ".join(
                        f"L{i} {sum(e):.0%}" for i, e in enumerate(shown.explained)))
        with right:
            senses = cached_senses(choice)
            figure(sense_figure(senses), key="ly_senses_fig")
            if "bank" in senses.words:
                i = senses.words.index("bank")
                st.caption(f"*bank* by a river vs. *bank* with money: cosine {senses.across[i][0]:.2f} at layer 0, "
                           f"{senses.across[i][-1]:.2f} at layer {senses.across.shape[1] - 1}; two uses of one sense: "
                           f"{senses.within[i][-1]:.2f}. Context separates the senses as the layers go up.")

with probes_tab:
    if probes_tab.open:
        st.markdown(
            "A **probe** is a logistic regression trained on the frozen vectors of one layer to predict a label. "
            "High accuracy means the layer makes the label easy to read — or that the probe memorised words. "
            "The **control task** (Hewitt & Liang 2019) gives every word type a random tag, fixed per type: only "
            "memorising can learn it, so **selectivity** = POS accuracy − control accuracy is the layer's own share.")
        c1, c2 = st.columns([3, 2])
        tasks = c1.multiselect("Tasks", TASKS, default=list(TASKS), key="ly_tasks", format_func=TASK_TITLES.get)
        n_words = c2.slider("Words of the built-in reviews", 500, 6000, DEFAULT_WORDS, 500, key="ly_words")
        missing = tagger_missing()
        if missing and any(t in ("pos", "control") for t in tasks):
            st.warning(f"{missing} The sentiment probe still works.")
            tasks = [t for t in tasks if t == "sentiment"]
        key = (choice, tuple(t for t in TASKS if t in tasks), n_words)
        store = shared_results()["probes"]

        def work(job, loaded=loaded):  # the model is bound now: the job thread never loads one
            store[key] = run_probes(loaded, key[1], n_words, reporter=job)
            return store[key]

        if key not in store and st.button("▶ Run the probes", key="ly_probe_start", disabled=not tasks or job_running("ly_probe_job"),
                                          help="About 30 s on 2 cores for the embedded model; the result is kept for everyone."):
            start_job("ly_probe_job", "probes", work)

        @st.fragment(run_every=1 if job_running("ly_probe_job") else None)
        def probe_panel():
            job_panel("ly_probe_job", prefix="ly_probe")

        probe_panel()
        if key in store:
            results = store[key]
            figure(probe_figure(results), key="ly_probe_fig")
            frame = pd.DataFrame({"layer": results[next(iter(results))].layers,
                                  **{TASK_TITLES[t]: r.accuracy for t, r in results.items()}})
            chosen = selectivity(results)
            if chosen:
                frame["selectivity (POS − control)"] = chosen
            table(frame, hide_index=True, width="stretch")
            notes = [f"{TASK_TITLES[t]}: best at layer {max(r.layers, key=r.accuracy.__getitem__)} "
                     f"({max(r.accuracy):.1%}; majority {r.majority:.1%}, {r.n_train} train / {r.n_test} test)"
                     for t, r in results.items()]
            if chosen:
                notes.append(f"selectivity peaks at layer {max(range(len(chosen)), key=chosen.__getitem__)}")
            st.caption(" · ".join(notes) + ". Held-out sentences are never trained on.")

with neighbours_tab:
    if neighbours_tab.open:
        st.markdown("Pick a token: its nearest tokens (cosine) at one layer, among the built-in reviews and WordNet's "
                    "example sentences (3,000 sentences). At layer 0 the neighbours are the same word; higher up "
                    "they are words used *the same way*, among the senses the corpus holds. It holds money banks and "
                    "no river banks: so the river *bank* below finds money *bank*s first, and then, at the top "
                    "layers of the embedded model, places used as it is used (*side*, *bottom*, *end*).")
        index = neighbour_index(loaded)
        if index is None:
            st.info("This model's corpus index is not built yet (about 10 s for the embedded model; it is kept on "
                    "disk and serves everyone).")

            def build(job, loaded=loaded):
                return build_index(loaded, reporter=job)

            st.button("🗂 Build the index", key="ly_index_start", disabled=job_running("ly_index_job"),
                      on_click=lambda: start_job("ly_index_job", "index", build))

            @st.fragment(run_every=1 if job_running("ly_index_job") else None)
            def index_panel():
                job_panel("ly_index_job", prefix="ly_index")

            index_panel()
        else:
            text = st.text_input("Sentence", DEFAULT_QUERY, **shared("ly_query"), max_chars=500)
            try:
                query = cached_table(choice, (text.strip(),)) if text.strip() else None
            except UserError as err:
                st.warning(f"✍️ {err}")
                query = None
            if query is None:
                st.warning("✍️ Type a sentence to search from.")
            else:
                tokens = [readable(t) for t in query.tokens]
                default = next((i for i in range(len(tokens)) if query.word_text(i).lower() == "bank"), 0)
                if st.session_state.get("ly_token_for", text) != text:  # a new sentence: its own default token
                    st.session_state["ly_token"] = default
                st.session_state["ly_token_for"] = text  # (the first view: a link's token, as bound, else *bank*)
                picked = st.pills("Token", range(len(tokens)), format_func=tokens.__getitem__, default=default,
                                  **shared("ly_token"))
                c1, c2 = st.columns(2)
                layer = c1.slider("Layer", 0, index.n_layers - 1, index.n_layers - 1, **shared("ly_nn_layer"),
                                  help="Layer 0 is the embeddings; layer l is the output of layer l.")
                k = c2.slider("Neighbours", 5, MAX_K, 10, **shared("ly_k"))
                if picked is None:
                    st.info("Pick a token above.")
                else:
                    found = nearest(index, query, picked, layer, k)
                    st.html(neighbours_html(found))
                    left, right = st.columns(2)
                    if index.pos:
                        figure(counts_figure(found.counts("pos"), "Their parts of speech"), "ly_nn_pos", where=left)
                    else:
                        left.caption(tagger_missing() or "")
                    figure(counts_figure(found.counts("word"), "Their words"), "ly_nn_words", where=right)
            for note in index.notes:
                st.caption(f"ℹ️ {note}")

with qk_tab:
    if qk_tab.open:
        st.markdown("One head scores each **query** against every **key** (q·k/√d). Moving all keys by one vector and "
                    "scaling queries up and keys down by one factor changes no attention weight, so AttentionViz does "
                    "both before drawing queries and keys in one map: a query lands near the keys it attends to. The "
                    "tokens are the Projector tab's sentences.")
        sentences = chosen_sentences()
        if sentences:
            c1, c2, c3 = st.columns(3)
            layer = c1.selectbox("Attention layer", range(loaded.config.num_hidden_layers), **shared("ly_qk_layer"),
                                 format_func=counted_label,
                                 help="Numbered as on every page: layer l reads the projector's layer l − 1 "
                                      "(layer 0 there is the embeddings) and writes its layer l.")
            head = c2.selectbox("Head", range(head_count(loaded)), **shared("ly_qk_head"), format_func=counted_label)
            colour = c3.radio("Colour by", ("kind", "position"), **shared("ly_qk_colour"), horizontal=True)
            try:
                qk = cached_query_keys(choice, sentences, layer, head)
            except UserError as err:
                st.warning(str(err))
            else:
                figure(query_key_figure(qk, colour), key="ly_qk_fig")
                st.caption(f"{len(qk.tokens)} tokens. Check: softmax(q·k/√d) from these vectors matches the model's "
                           f"own attention to {qk.attention_error:.1e}, and the translation and scaling changed no "
                           f"weight by more than {qk.transform_error:.1e}. Colour by position: a head that reads word "
                           "order draws a gradient; one that matches tokens pairs each query with its key.")
