"""Explain a prediction: which words made the model say it, whether to trust the explainers, what edit flips it."""
from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

from html import escape

import pandas as pd
import streamlit as st

from core.augment.diff import diff_html
from core.errors import UserError
from core.explain.attributions import BASELINES, MAX_STEPS, METHODS, TITLES, explain
from core.explain.counterfactual import MAX_EDITS, counterfactuals
from core.explain.faithfulness import RANDOM, dataset_faithfulness, sentence_faithfulness
from core.explain.masked import require_mlm
from core.explain.targets import Target, choose_target, class_probabilities, label_names
from core.figures.explain import attribution_html, deletion_figure, faithfulness_figure
from core.figures.masked import plain_label
from core.inputs.datasets import builtin_sentiment
from core.inputs.examples import EXPLAIN_CLASSIFIER, EXPLAIN_MASKED
from core.jobs import JOBS
from core.models.classifiers import list_classifiers, open_classifier
from core.models.loading import EMBEDDED
from core.training.finetune import quick_finetune
from pages._common import (figure, shared, cached_model, current_model, job_panel, job_running, my_runs_dir, new_model_dir,
                           offline_now, start_job, table)

CLASSIFIER, MASKED = "A classifier's label", "A masked word"
HUB = "A hub classifier (online)…"
DEFAULTS = {CLASSIFIER: EXPLAIN_CLASSIFIER, MASKED: EXPLAIN_MASKED}
PREDICTED = "(the predicted one)"


@st.cache_resource(max_entries=4, show_spinner="Loading the classifier (once per server)…")
def cached_classifier(choice: str):
    """One copy per server process; explanations only read it."""
    return open_classifier(choice)


def model_for(mode: str, choice: str):
    return cached_classifier(choice) if mode == CLASSIFIER else cached_model(choice)


@st.cache_data(max_entries=64, show_spinner="Explaining…")
def cached_explanation(mode: str, choice: str, text: str, target: Target, methods: tuple, steps: int, baseline: str):
    return explain(model_for(mode, choice), text, target, methods, steps, baseline)


@st.cache_data(max_entries=64, show_spinner="Deleting words and asking again…")
def cached_faithfulness(mode: str, choice: str, text: str, target: Target, methods: tuple, steps: int, baseline: str):
    explanation = cached_explanation(mode, choice, text, target, methods, steps, baseline)
    return sentence_faithfulness(model_for(mode, choice), explanation)


@st.cache_data(max_entries=32, show_spinner="Trying word substitutions…")
def cached_counterfactuals(choice: str, text: str, max_edits: int):
    return counterfactuals(cached_classifier(choice), cached_model(EMBEDDED), text, max_edits)


def start_quick_finetune() -> None:
    """Fine-tune the sidebar's model on the built-in reviews in the background; the result becomes selectable."""
    base = current_model().choice
    name = next(n for n in (f"sentiment-quick-{i}" if i else "sentiment-quick" for i in range(100))
                if not (my_runs_dir() / n).exists())
    out_dir = new_model_dir(name)

    def work(job):
        quick_finetune(base, out_dir, job)
        return f"local:{out_dir}"

    start_job("xp_ft_job", "finetune", work)


def pick_classifier() -> str | None:
    """The classifier picker: the session's and shared fine-tunes, a hub id, or a quick fine-tune."""
    done = JOBS.get(st.session_state.get("xp_ft_job"))
    if done is not None and done.status == "done" and st.session_state.get("xp_ft_taken") != done.id:
        st.session_state["xp_ft_taken"] = done.id
        st.session_state["xp_classifier"] = done.result  # before the picker exists: allowed
    found = {c["choice"]: c for c in list_classifiers(my_runs_dir())}
    options = [*found, *([] if offline_now() else [HUB])]  # offline, a hub classifier would only fail
    if st.session_state.get("xp_classifier") not in options:  # e.g. a folder deleted since
        st.session_state.pop("xp_classifier", None)
    left, right = st.columns([3, 2])
    picked = left.selectbox(
        "Classifier", options, key="xp_classifier",
        format_func=lambda c: c if c == HUB else f"{found[c]['name']} · {found[c]['type']} · {', '.join(found[c]['labels'])}") \
        if options else None
    with right:
        st.write("")
        st.button("⚡ Quick fine-tune", key="xp_quick", on_click=start_quick_finetune, disabled=job_running("xp_ft_job"),
                  help="Fine-tunes the sidebar's model (the embedded one by default) on the built-in reviews "
                       "in the background: about a minute on 2 cores, 81% validation accuracy for the embedded model.")
    quick_panel()
    if picked == HUB:
        hub_id = st.text_input("Hub id of a sequence classifier", key="xp_hub", max_chars=100,
                               placeholder="distilbert-base-uncased-finetuned-sst-2-english").strip()
        return hub_id or None
    return picked


@st.fragment(run_every=1 if job_running("xp_ft_job") else None)
def quick_panel() -> None:
    job_panel("xp_ft_job", finished=lambda job: st.caption("✅ Quick fine-tune saved: it is picked above."),
              prefix="xp_ft")


st.title("🔎 Explain a prediction")
st.markdown(
    "Attention, masked words and the logit lens show **what** BERT computes; this page asks **why** it "
    "decided. Five explainers score every word of your sentence for one probability — "
    "**integrated gradients** (walk the input from a blank sentence to yours and add up the gradients), "
    "**gradient × input**, **occlusion** (leave the word out), and two attention read-outs. They often "
    "disagree, so the page also **measures** them: delete the words an explainer ranks highest and see "
    "whether the probability really falls. Finally, it searches for the smallest edits that flip the label."
)
st.info("**What to expect.** Measured on the embedded model after the quick fine-tune (81% validation "
        "accuracy), over the 140 unseen test reviews: deleting the top words of **occlusion** "
        "drops the probability by 0.38 on average and those of **integrated gradients** by 0.30; last-layer "
        "attention (0.16) and rollout (attention followed through every layer: 0.12) fall well short of them, though above random order (0.07), and "
        "gradient × input (0.06) does no better than random. 85% of the reviews flip with at most two word "
        "substitutions. The embedded model's masked-word head is weak, so its suggestions are "
        "not always fluent.")

mode = st.radio("What to explain", [CLASSIFIER, MASKED], horizontal=True, **shared("xp_mode"))
if mode == CLASSIFIER:
    st.caption("The sidebar's model is the starting point of a quick fine-tune; the classifier is picked here.")
    choice = pick_classifier()
    if choice is None:
        st.info("No classifier yet: press **⚡ Quick fine-tune** (about a minute) or fine-tune one on the "
                "Fine-tuning page" + ("." if offline_now() else ", or type a hub classifier's id."))
        st.stop()
else:
    choice = current_model().choice
    try:
        require_mlm(current_model())
    except UserError as err:
        st.info(f"🙈 {err} The Masked words page says which models have one.")
        st.stop()
try:
    loaded = model_for(mode, choice)
except UserError as err:
    st.error(str(err))
    st.stop()

text = st.text_area("Sentence", DEFAULTS[mode], **(shared("xp_masked") if mode == MASKED else shared("xp_text")),
                    height=80, max_chars=20_000)
c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
if mode == CLASSIFIER:
    label = c1.selectbox("Explain the label", [PREDICTED, *label_names(loaded)], **shared("xp_label"))
    wanted = dict(label=None if label == PREDICTED else label)
else:
    word = c1.text_input("Explain the word at [MASK]", **shared("xp_word"), placeholder="(the top guess)", max_chars=40)
    wanted = dict(mask_word=word, masked=True)
methods = tuple(c2.multiselect("Explainers", METHODS, default=list(METHODS), format_func=TITLES.get, **shared("xp_methods")))
steps = int(c3.number_input("IG steps", 1, MAX_STEPS, 50, **shared("xp_steps"),
                            help="Points on the path from the baseline to the sentence; more is more exact (and slower)."))
baseline = c4.radio("IG baseline", BASELINES, **shared("xp_baseline"), format_func=lambda b: f"[{b.upper()}]",
                    help="The 'blank' sentence the path starts from: every word replaced by this token.")
pieces = st.toggle("Show tokens (word pieces) instead of words", **shared("xp_pieces"))
try:
    target = choose_target(loaded, text, **wanted)
    explanation = cached_explanation(mode, choice, text, target, methods, steps, baseline)
except UserError as err:
    st.warning(f"✍️ {err}")
    st.stop()
for note in explanation.notes:
    st.info(note)

shown_name = plain_label(target.name)  # a label or a typed word: never markdown
what = f"the label **{shown_name}**" if mode == CLASSIFIER else f"the word **{shown_name}** at the mask"
st.markdown(f"The model gives {what} a probability of **{explanation.probability:.1%}**.")

tabs = st.tabs(["Attributions", "Is it faithful?", "Counterfactuals", "Edit and compare"], **shared("xp_tab"),
               on_change="rerun")
attributions_tab, faithful_tab, counterfactual_tab, edit_tab = tabs

with attributions_tab:
    if attributions_tab.open:
        st.html(attribution_html(explanation, tokens=pieces))
        if pieces and "occlusion" in explanation.scores:
            st.caption("Occlusion leaves whole words out, so each piece shows its word's score.")
        gap = explanation.completeness
        if gap is not None:
            m = st.columns(3)
            m[0].metric("Sum of IG attributions", f"{gap.attribution_sum:+.4f}")
            m[1].metric("f(sentence) − f(baseline)", f"{gap.difference:+.4f}")
            m[2].metric("Completeness gap", f"{gap.gap:.1%}", f"{gap.error:.4f} absolute", delta_color="off",
                        help="Integrated gradients should add up exactly to the change in probability from the "
                             "blank baseline to your sentence; the gap is how far the sum is from it (a short "
                             "path of few steps leaves a gap).")
            if gap.gap > 0.05:
                st.warning("The gap is above 5%: the path integral is not yet exact; raise the IG steps.")
            else:
                st.caption("Integrated gradients add up to the change in probability from the blank baseline "
                           "to your sentence (completeness): a small gap means enough steps.")
        table(pd.DataFrame({"word": explanation.words.words,
                            **{TITLES[m]: s for m, s in explanation.scores.items()}}),
              hide_index=True, width="stretch")

with faithful_tab:
    if faithful_tab.open:
        st.markdown("Delete the words each explainer ranks highest and ask the model again. A faithful "
                    "explainer's line falls fastest; the dotted line deletes words in random order.")
        faith = cached_faithfulness(mode, choice, text, target, methods, steps, baseline)
        figure(deletion_figure(faith.curves, target.name), key="xp_deletion")
        table([{"explainer": TITLES.get(m, "Random order"), "comprehensiveness ↑": c,
                "sufficiency ↓": faith.sufficiency[m]}
               for m, c in sorted(faith.comprehensiveness.items(), key=lambda kv: -kv[1])])
        st.caption("Comprehensiveness: how much the probability drops without the top 1/5/10/20/50% of the "
                   "words (higher is better). Sufficiency: how much it drops with *only* those words (lower is "
                   "better). Both average the drop over those five cuts (the *area over the perturbation curve*, AOPC, of "
                   "ERASER, DeYoung et al. 2020).")
        if mode == CLASSIFIER:
            st.subheader("Over many sentences")
            n = st.slider("Test reviews to explain", 10, 140, 40, 10, key="xp_faith_n")
            if st.button("▶ Measure the explainers", key="xp_faith_start", disabled=job_running("xp_faith_job")):
                texts = builtin_sentiment("test").sample(n).texts
                start_job("xp_faith_job", "faithfulness", lambda job: dataset_faithfulness(
                    loaded, texts, methods, steps, baseline, reporter=job))

            def show_dataset(job) -> None:
                rows = job.result.table()
                figure(faithfulness_figure(rows), key="xp_faith_bars")
                floor = next(r["comprehensiveness"] for r in rows if r["method"] == RANDOM)
                weak = [TITLES[r["method"]] for r in rows if r["method"] != RANDOM and r["comprehensiveness"] <= floor]
                st.caption(f"{job.result.n} built-in test reviews, each explained for the label the model predicted."
                           + (f" No better than random order: {', '.join(weak)}." if weak else ""))

            @st.fragment(run_every=1 if job_running("xp_faith_job") else None)
            def faith_panel():
                job_panel("xp_faith_job", finished=show_dataset, prefix="xp_faith")

            faith_panel()

with counterfactual_tab:
    if counterfactual_tab.open:
        if mode != CLASSIFIER:
            st.info("Counterfactuals flip a classifier's label: choose “A classifier's label” above.")
        else:
            st.markdown("Words are tried most-important first (by occlusion); replacements are the embedded "
                        "model's own masked-word guesses for that spot, so edits stay in context.")
            max_edits = st.slider("Most words changed", 1, MAX_EDITS, 2, key="xp_edits")
            if st.button("🔁 Search for edits that flip the label", key="xp_cf_start"):
                st.session_state["xp_cf_for"] = (choice, text, max_edits)
            if st.session_state.get("xp_cf_for") == (choice, text, max_edits):
                found = cached_counterfactuals(choice, text, max_edits)
                if not found.flips:
                    st.info(f"No flip among {found.tried} edited sentences: the label holds up to "
                            f"{max_edits} substitution(s).")
                for flip in found.flips:
                    edits = ", ".join(f"{plain_label(old)} → {plain_label(new)}" for _, old, new in flip.edits)
                    st.html(f"<div style='margin:4px 0'><b>{escape(flip.label)}</b> ({flip.probability:.0%}) · "
                            f"{len(flip.edits)} edit(s): {diff_html(found.text, flip.text)}</div>")
                    st.caption(edits)
                st.caption(f"{found.tried} edited sentences scored.")

with edit_tab:
    if edit_tab.open:
        if st.session_state.get("xp_edit_for") != text:  # a new sentence above starts a new edit
            st.session_state["xp_edit_for"] = st.session_state["xp_edit"] = text
        edited = st.text_area("Change the sentence and compare", key="xp_edit", height=80, max_chars=20_000)
        try:
            other = cached_explanation(mode, choice, edited, target, methods, steps, baseline)
        except UserError as err:
            st.warning(str(err))
        else:
            st.html(diff_html(explanation.text, other.text))
            left, right = st.columns(2)
            for column, shown, title in ((left, explanation, "Original"), (right, other, "Edited")):
                with column:
                    st.metric(f"{title}: p({shown_name})", f"{shown.probability:.1%}",
                              None if shown is explanation else f"{other.probability - explanation.probability:+.1%}")
                    if mode == CLASSIFIER:
                        probs = class_probabilities(loaded, [shown.text])[0]
                        st.caption(" · ".join(f"{n}: {p:.1%}" for n, p in zip(label_names(loaded), probs)))
                    st.html(attribution_html(shown, tokens=pieces))
