"""The fine-tuning page's four tasks: each one's lesson, data picker, results and try-it view.

BERT's paper fine-tunes one model four ways (its figure 4); the page's flow is the same for all
of them, and these are the parts that differ.
"""
from __future__ import annotations

import streamlit as st

from core.errors import UserError
from core.figures.tasks import highlight, span_probabilities
from core.figures.training import class_probabilities, confusion_figure
from core.inputs.datasets import BUILTIN, HUB_DATASETS, builtin_sentiment, load_hub_dataset, read_labelled_csv, split_validation
from core.inputs.examples import TRY_SENTENCE
from core.models.classifiers import classify
from core.tasks.predict import answer_question, tag_text
from core.tasks.sources import hold_out, task_data
from pages._common import figure, shared, shared_text, table

TITLES = {"sentences": "Sentences (sentiment)", "pairs": "Sentence pairs (NLI)", "tokens": "Named entities",
          "qa": "Question answering"}
LESSONS = {
    "sentences": "One text in, one label out: the head reads the `[CLS]` vector, BERT's summary of the sentence.",
    "pairs": "Two sentences in one input, `[CLS] A [SEP] B [SEP]`. **Segment embeddings** (token type 0 for A, "
             "1 for B) tell BERT which sentence each token belongs to; attention lets every word of B look at "
             "every word of A, and the head reads `[CLS]` to say how B relates to A: it follows from A "
             "(*entailment*), might be true (*neutral*) or cannot be (*contradiction*).",
    "tokens": "A tag for **every word**, from one small layer over each token's vector. BIO tags: `B-PER` "
              "begins a person, `I-PER` continues one, `O` is outside every entity. BERT reads word *pieces*: "
              "a word split into several gets its tag on the **first piece only**, and the other pieces get "
              "the label −100, which the loss skips (the BERT paper's choice), so every word counts once. "
              "Scored per entity with `seqeval`: an entity counts only if its type and both ends are right.",
    "qa": "The answer is a **span of the paragraph**. Two vectors score every token: how likely the answer "
          "*starts* there and how likely it *ends* there; the answer is the span with the best start + end "
          "score (end after start, at most 30 tokens). A paragraph longer than the model's window is cut "
          "into overlapping windows, and the best span of all of them wins. Scored like SQuAD: **exact "
          "match** and word-overlap **F1**. With a few hundred questions, runs differ a lot from seed to "
          "seed (test F1 0.28 to 0.68 over three seeds, measured here): if the loss stalls, change the seed.",
}
SOURCES = {BUILTIN: "Built-in", "upload": "Upload a file", "hub": "Hub dataset (needs internet)"}
BUILTIN_NOTES = {
    "sentences": "1,370 short reviews (products, films, food, travel, services…) written for this app; fixed "
                 "splits: 1,090 train / 140 validation / 140 test. The test split stays unseen.",
    "pairs": "720 NLI pairs written for this app: 240 premises, each with an entailed, a neutral and a "
             "contradicting hypothesis; split by premise 540 / 90 / 90.",
    "tokens": "480 sentences tagged with people, places, organisations and other names (PER, LOC, ORG, MISC), "
              "written for this app; 360 / 60 / 60.",
    "qa": "360 questions on 90 paragraphs written for this app, split by paragraph 280 / 40 / 40; ten "
          "paragraphs are long enough to need several windows.",
}


def pick_data(task: str, seed: int, offline: bool):
    """(train, evaluation, fetch) from the data widgets: the data shown now, or `fetch()` to
    download it when training starts (hub datasets). Bad input is an error on the page."""
    source = st.radio("Dataset", list(SOURCES), format_func=SOURCES.get, horizontal=True, **shared("ft_source"))
    try:
        if source == BUILTIN:
            st.caption(BUILTIN_NOTES[task])
            if task == "sentences":
                train = builtin_sentiment("train")
                return train, builtin_sentiment("validation", train.label_names), None
            data = task_data(task)
            return data.builtin("train"), data.builtin("validation"), None
        if source == "upload":
            return _upload(task, seed) + (None,)
        return None, None, _hub(task, seed, offline)
    except UserError as err:
        st.error(str(err))
        return None, None, None


def _upload(task: str, seed: int):
    held = lambda: st.slider("Held out for validation", 10, 40, 20, step=5, format="%d%%", **shared("ft_held_out"),  # noqa: E731
                             help="Rows the model never trains on, to measure it honestly.") / 100
    if task == "sentences":
        upload = st.file_uploader("CSV file (UTF-8 with a header row)", type=["csv"], key="ft_upload")
        if upload is None:
            st.info("Upload a CSV with one column of texts and one of labels — any number of classes.")
            return None, None
        from core.inputs.csv_input import load_csv

        columns = list(load_csv(upload.getvalue()).columns)
        guess = lambda name, fallback: columns.index(name) if name in columns else fallback  # noqa: E731
        c1, c2, c3 = st.columns(3)
        text_col = c1.selectbox("Text column", columns, index=guess("text", 0), key="ft_text_col")
        label_col = c2.selectbox("Label column", columns, index=guess("label", min(1, len(columns) - 1)),
                                 key="ft_label_col")
        with c3:
            fraction = held()
        data = read_labelled_csv(upload.getvalue(), text_col, label_col, name=f"'{upload.name}'")
        return split_validation(data, fraction, seed)
    source = task_data(task)
    st.markdown(source.upload_help)
    c1, c2 = st.columns(2)
    upload = c1.file_uploader("Training file", type=list(source.upload), key=f"ft_upload_{task}")
    evaluation = c2.file_uploader("Validation file (optional: else some training rows are held out)",
                                  type=list(source.upload), key=f"ft_upload_eval_{task}")
    if upload is None:
        st.info("Upload a training file in the format above.")
        return None, None
    train = source.read(upload.getvalue(), None, f"'{upload.name}'")
    if evaluation is not None:
        names = getattr(train, "label_names", None) or getattr(train, "tag_names", None)
        return train, source.read(evaluation.getvalue(), names, f"'{evaluation.name}'")
    return hold_out(train, held(), seed)


def _hub(task: str, seed: int, offline: bool):
    datasets = HUB_DATASETS if task == "sentences" else task_data(task).hub
    c1, c2 = st.columns(2)
    name = c1.selectbox("Hub dataset", list(datasets), key=f"ft_hub_{task}")
    limit = int(c2.number_input("Training rows", 100, 20_000, 2_000, step=100, **shared("ft_hub_limit"),
                                help="A random sample; validation gets a fifth as many (at least 200)."))
    if offline:
        st.warning("No internet here: hub datasets can't be downloaded. Use the built-in dataset or a file.")
        return None
    st.caption("Downloaded when you press Start.")
    if task == "sentences":
        return lambda: load_hub_dataset(name, limit, seed)
    return lambda: task_data(task).load_hub(name, limit, seed)


def show_rows(task: str, data) -> None:
    """The first rows of the training data, as the task sees them."""
    n = 200
    if task == "tokens":
        names = data.tag_names
        rows = {"words": [" ".join(w) for w in data.tokens[:n]],
                "tags": [" ".join(names[t] for t in tags) for tags in data.tags[:n]]}
    elif task == "qa":
        rows = {"question": data.questions[:n], "answer": [a[0][0] for a in data.answers[:n]],
                "paragraph": data.contexts[:n]}
    else:
        rows = {"text": data.texts[:n]} | ({"text_b": data.second[:n]} if data.second is not None else {}) | \
               {"label": [data.label_names[i] for i in data.labels[:n]]}
    table(rows, hide_index=True, width="stretch")


def show_scores(task: str, result, evaluation) -> None:
    """The best checkpoint's validation scores and its mistakes."""
    best = result.best
    if task in ("sentences", "pairs"):
        majority = max(evaluation.class_counts().values()) / len(evaluation)
        c = st.columns(5)
        c[0].metric("Validation accuracy", f"{best.accuracy:.1%}", f"{best.accuracy - majority:+.1%} vs majority class",
                    help=f"Always answering the most common class would score {majority:.1%}.")
        c[1].metric("Macro-F1", f"{best.f1:.3f}", help="F1 averaged over classes: a rare class counts as much as a big one.")
    elif task == "tokens":
        c = st.columns(5)
        c[0].metric("Entity F1", f"{best.f1:.3f}", help="seqeval: an entity counts only with its type and both ends right.")
        c[1].metric("Precision / recall", f"{best.details['precision']:.2f} / {best.details['recall']:.2f}",
                    help="Precision: found entities that are right. Recall: real entities that were found.")
    else:
        c = st.columns(5)
        c[0].metric("Exact match", f"{best.accuracy:.1%}", help="Answers equal to a gold answer after SQuAD's "
                    "normalisation (lower case, no punctuation or articles).")
        c[1].metric("F1", f"{best.f1:.1%}", help="Word overlap between the answer and the best gold answer, averaged.")
    c[2].metric("Best step", f"{result.best_step} / {result.steps}")
    c[3].metric("Training time", f"{result.train_s:.0f} s")
    c[4].metric("Speed", f"{result.samples_per_s:.1f} ex/s")
    if task in ("sentences", "pairs"):
        left, right = st.columns([2, 3])
        figure(confusion_figure(best.confusion, result.label_names), "ft_confusion", where=left)
        wrong = [i for i, (p, y) in enumerate(zip(best.predictions, evaluation.labels)) if p != y]
        right.markdown(f"**Misclassified validation examples** ({len(wrong)} of {len(evaluation)})")
        rows = {"text": [evaluation.texts[i] for i in wrong]}
        if evaluation.second is not None:
            rows["text_b"] = [evaluation.second[i] for i in wrong]
        rows |= {"true": [result.label_names[evaluation.labels[i]] for i in wrong],
                 "predicted": [result.label_names[best.predictions[i]] for i in wrong],
                 "confidence": [max(best.probabilities[i]) for i in wrong]}
        with right:
            table(rows, hide_index=True, width="stretch", column_config={
                "confidence": st.column_config.ProgressColumn(min_value=0, max_value=1, format="percent")})
    elif task == "tokens":
        per_type = best.details["per_type"]
        table({"type": list(per_type), **{k: [per_type[t][k] for t in per_type]
                                           for k in ("precision", "recall", "f1", "support")}},
              hide_index=True, width="content")
    else:
        from core.tasks.metrics import exact_match

        wrong = [i for i, p in enumerate(best.predictions)
                 if not any(exact_match(p, gold) for gold, _ in evaluation.answers[i])]
        st.markdown(f"**Questions answered wrongly** ({len(wrong)} of {len(evaluation)})")
        table({"question": [evaluation.questions[i] for i in wrong],
               "gold": [evaluation.answers[i][0][0] for i in wrong],
               "predicted": [best.predictions[i] for i in wrong]}, hide_index=True, width="stretch")


def try_it(task: str, loaded, key: str) -> None:
    """The task's try-it view on `loaded` (a LoadedModel with the task's head)."""
    try:
        {"sentences": _try_sentence, "pairs": _try_pair, "tokens": _try_tokens, "qa": _try_question}[task](loaded, key)
    except UserError as err:
        st.warning(str(err))


def _try_sentence(loaded, key: str) -> None:
    label = "A sentence for the classifier"
    text = st.text_input(label, TRY_SENTENCE, **shared_text(key, label))
    _show_label(loaded, key, text)


def _try_pair(loaded, key: str) -> None:
    example = task_data("pairs").example
    c1, c2 = st.columns(2)
    a = c1.text_area("Sentence A (the premise)", example["text"], key=f"{key}_a", max_chars=2_000, height=80)
    b = c2.text_area("Sentence B (the hypothesis)", example["pair"], key=f"{key}_b", max_chars=2_000, height=80)
    if not b.strip():
        raise UserError("Write sentence B too: the model reads the two together.")
    _show_label(loaded, key, a, b)


def _show_label(loaded, key: str, text: str, pair: str | None = None) -> None:
    """The classifier's label for a text (or a pair), with every label's probability."""
    label, scores, notice = classify(loaded, text, pair)
    st.metric("Prediction", label, f"{scores[label]:.1%} sure", delta_color="off")
    figure(class_probabilities(scores), key=f"{key}_probs")
    if notice:
        st.caption(notice)


def _try_tokens(loaded, key: str) -> None:
    text = st.text_input("A sentence to tag", task_data("tokens").example["text"], key=key, max_chars=2_000)
    tagged = tag_text(loaded, text)
    st.html(highlight(text, tagged.entities))
    found = ", ".join(f"{e['text']} ({e['type']}, {e['probability']:.0%})" for e in tagged.entities)
    st.caption(f"**{len(tagged.entities)} entities**" + (f": {found}" if found else "") +
               (f" · {tagged.notice}" if tagged.notice else ""))
    words = [w["word"] for w in tagged.words]
    st.markdown("**Every token and its tag.** The model tags every piece, but only a word's first piece is "
                "read (✓): the others were never trained (label −100).")
    table({"token": [p["piece"] for p in tagged.pieces],
           "word": [words[p["word"]] if p["word"] is not None else "" for p in tagged.pieces],
           "tag": [p["tag"] for p in tagged.pieces], "probability": [p["probability"] for p in tagged.pieces],
           "read": ["✓" if p["read"] else "" for p in tagged.pieces]},
          hide_index=True, width="stretch", height=min(400, 38 + 35 * len(tagged.pieces)),
          column_config={"probability": st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                                        format="percent")})


def _try_question(loaded, key: str) -> None:
    example = task_data("qa").example
    context = st.text_area("Paragraph", example["context"], key=f"{key}_context", max_chars=20_000, height=120)
    question = st.text_input("Question", example["question"], key=f"{key}_question", max_chars=500)
    answer = answer_question(loaded, question, context)
    context = context.strip()
    if answer.text:
        st.html(highlight(context, [{"start": answer.start, "end": answer.end, "type": "answer"}]))
        st.metric("Answer", answer.text, f"score {answer.score:.2f} (start + end logit)", delta_color="off")
    else:
        st.info("No valid span: every window's best start came after its best end, or outside the paragraph.")
    st.markdown(f"**Where the answer starts and ends** — window {answer.window + 1} of {answer.windows}"
                + (" (the paragraph was cut into overlapping windows; this one held the best span)"
                   if answer.windows > 1 else "") + ". Grey tokens are the question and the markers: never part of an answer.")
    figure(span_probabilities(answer.tokens, answer.start_probabilities, answer.end_probabilities,
                                       answer.in_context, answer.first_last), key=f"{key}_spans")
