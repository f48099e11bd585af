"""Fine-tuning: turn the chosen BERT into a text classifier, watch it learn, then try it."""
from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

import re
import time
from functools import partial

import streamlit as st

from core.inputs.datasets import (BUILTIN, HUB_DATASETS, builtin_sentiment, load_hub_dataset,
                           read_labelled_csv, split_validation)
from core.errors import UserError
from core.figures.training import class_probabilities, confusion_figure, training_curves
from core.jobs import JOBS
from core.models.loading import is_offline
from core.models.saved import zip_folder
from core.training.finetune import estimate_seconds, finetune, measure_throughput
from core.training.config import TrainConfig
from core.models.classifiers import as_loaded, classify
from pages._common import (current_model, job_panel, job_running, jobs_caption, latest, name_box,
                           new_model_dir, start_job)

SOURCES = {BUILTIN: "Built-in sentiment reviews", "csv": "Upload a CSV", "hub": "Hub dataset (needs internet)"}

st.title("🎯 Fine-tuning")
st.markdown(
    "Pretraining taught BERT how language works; **fine-tuning** teaches it one task. A small new "
    "layer (the *classification head*, random at first) reads the sentence vector BERT makes, and "
    "then **every weight** — head and BERT alike — is nudged by gradient descent so the right "
    "label gets a higher probability. A few minutes on a laptop is enough for short sentences. "
    "The model the other pages use is never changed: training works on its own copy."
)
model = current_model()
choice = model.choice
st.caption(f"Model: **{choice}** (change it in the sidebar) · {model.summary()['parameters'] / 1e6:.1f}M "
           f"parameters · trains on **{model.device}**")
if choice == "embedded":
    st.caption("Fine-tuning starts from the pretrained MiniLM encoder as the package ships it: the masked-word "
               "adaptation the other pages use serves word prediction, not classification.")


@st.cache_data(ttl=60, show_spinner=False)
def offline_now() -> bool:
    return is_offline()


# ------------------------------------------------------------------------------------ 1. data
st.header("1 · Data")
source = st.radio("Dataset", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="ft_source")
train = evaluation = None
hub_name, hub_limit = None, 0
seed = int(st.session_state.get("ft_seed", 42))
try:
    if source == BUILTIN:
        train = builtin_sentiment("train")
        evaluation = builtin_sentiment("validation", train.label_names)
        st.caption("1,370 short reviews (products, films, food, travel, services…) written for this app; "
                   "fixed splits: 1,090 train / 140 validation / 140 test. The test split stays unseen.")
    elif source == "csv":
        upload = st.file_uploader("CSV file (UTF-8 with a header row)", type=["csv"], key="ft_upload")
        if upload is None:
            st.info("Upload a CSV with one column of texts and one of labels — any number of classes.")
        else:
            from core.inputs.csv_input import load_csv

            columns = list(load_csv(upload.getvalue()).columns)
            guess = lambda name, fallback: columns.index(name) if name in columns else fallback  # noqa: E731
            c1, c2, c3 = st.columns(3)
            text_col = c1.selectbox("Text column", columns, index=guess("text", 0), key="ft_text_col")
            label_col = c2.selectbox("Label column", columns, index=guess("label", min(1, len(columns) - 1)),
                                     key="ft_label_col")
            held_out = c3.slider("Held out for validation", 10, 40, 20, step=5, format="%d%%", key="ft_held_out",
                                 help="Rows the model never trains on, to measure it honestly (stratified by label).")
            data = read_labelled_csv(upload.getvalue(), text_col, label_col, name=f"'{upload.name}'")
            train, evaluation = split_validation(data, held_out / 100, seed)
    else:
        c1, c2 = st.columns(2)
        hub_name = c1.selectbox("Hub dataset", list(HUB_DATASETS), key="ft_hub")
        hub_limit = int(c2.number_input("Training rows", 100, 20_000, 2_000, step=100, key="ft_hub_limit",
                                        help="A random sample; validation gets a fifth as many (at least 200)."))
        if offline_now():
            st.warning("No internet here: hub datasets can't be downloaded. Use the built-in dataset or a CSV.")
            hub_name = None
        else:
            st.caption("Downloaded when you press Start.")
except UserError as err:
    st.error(str(err))
    train = evaluation = None

if train is not None:
    counts = train.class_counts()
    st.caption(f"**{len(train):,}** training rows · **{len(evaluation):,}** validation rows · "
               f"{len(counts)} classes: " + ", ".join(f"{name} ({n:,})" for name, n in counts.items()))
    if st.session_state.get("ft_limit_for") != (train.name, len(train)):
        st.session_state["ft_limit_for"] = (train.name, len(train))  # new data: start from all its rows
        st.session_state["ft_limit"] = len(train)
    limit = st.number_input("Train on at most this many rows", min(len(train), 2), len(train),
                            step=50, key="ft_limit",
                            help="Fewer rows train faster; a classroom demo learns something from 200.")
    train = train.sample(int(limit), seed)
    with st.expander("Look at the training rows"):
        st.dataframe({"text": train.texts[:200], "label": [train.label_names[i] for i in train.labels[:200]]},
                     hide_index=True, width="stretch")

augment_recipe, augment_copies = None, 0
try:
    from core.augment.dataset import augment_labelled
    from core.augment.techniques import TECHNIQUES, unavailable_reason
except ImportError:  # the augmentation module is optional
    TECHNIQUES = {}
if TECHNIQUES and (train is not None or hub_name):
    with st.expander("Augment the training rows (optional)"):
        usable = [n for n, t in TECHNIQUES.items() if t.needs not in ("mlm", "network") and not unavailable_reason(n)]
        c1, c2 = st.columns([3, 1])
        picked = c1.selectbox("Technique (see the Augmentation page)", ["none", *usable], key="ft_aug",
                              format_func=lambda n: "none" if n == "none" else TECHNIQUES[n].label)
        augment_copies = int(c2.number_input("Copies per row", 1, 5, 1, key="ft_aug_copies"))
        if picked != "none":
            augment_recipe = picked
            st.caption(f"{TECHNIQUES[picked].lesson} Only training rows are augmented: validation stays real text.")

# ------------------------------------------------------------------------------ 2. settings
st.header("2 · Settings")
c = st.columns(4)
epochs = c[0].number_input("Epochs", 1, 20, 2, key="ft_epochs",
                           help="Passes over the training data. 2–4 is the usual range for BERT; "
                                "more overfits small datasets (watch validation loss rise).")
batch_size = c[1].select_slider("Batch size", [4, 8, 16, 32, 64], 16, key="ft_batch",
                                help="Examples per step. 16–32 is the BERT paper's range; on a CPU bigger "
                                     "batches are barely faster per example.")
lr = c[2].select_slider("Learning rate", [1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 2e-4], 5e-5, key="ft_lr",
                        format_func=lambda v: f"{v:.0e}",
                        help="2e-5 to 5e-5 is the BERT paper's range. Too high and the loss jumps or "
                             "the model predicts one class for everything.")
max_length = c[3].select_slider("Max length (tokens)", [32, 64, 128, 256, 512], 64, key="ft_max_len",
                                help="Longer texts are cut there. Attention costs grow with the square of "
                                     "the length, so keep it as short as your texts allow.")
if train is not None:
    lengths = [len(ids) for ids in model.tokenizer(train.texts[:2000])["input_ids"]]
    whole = sum(n <= max_length for n in lengths) / len(lengths)
    st.caption(f"{max_length} tokens keep **{whole:.1%}** of these training texts whole "
               f"(longest: {max(lengths)} tokens).")
with st.expander("More settings"):
    m = st.columns(3)
    grad_accum = m[0].number_input("Gradient accumulation", 1, 64, 1, key="ft_accum",
                                   help="Add up the gradients of K batches before each step: a batch K times "
                                        "bigger without the memory.")
    weight_decay = m[1].number_input("Weight decay", 0.0, 0.3, 0.01, step=0.01, key="ft_wd",
                                     help="Pulls weights towards zero (not biases or LayerNorm): 0.01 is standard.")
    warmup = m[2].slider("Warmup", 0.0, 0.5, 0.1, step=0.05, key="ft_warmup",
                         help="Share of steps over which the learning rate ramps up from zero, so the "
                              "random head does not wreck BERT's weights at the start; then it decays linearly.")
    m = st.columns(3)
    patience = m[0].number_input("Early stopping patience", 0, 20, 0, key="ft_patience",
                                 help="Stop after this many evaluations without a better validation accuracy "
                                      "(0: never). The best checkpoint is kept either way.")
    eval_every = m[1].number_input("Evaluate every N steps", 0, 10_000, 0, key="ft_eval_every",
                                   help="0: after each epoch. More often gives smoother curves and costs time.")
    m[2].number_input("Seed", 0, 2**31 - 1, 42, key="ft_seed",
                      help="Fixes the head's initial weights, the shuffling and the validation split.")
config = TrainConfig(epochs=int(epochs), batch_size=int(batch_size), lr=float(lr), max_length=int(max_length),
                     grad_accum=int(grad_accum), weight_decay=float(weight_decay), warmup_ratio=float(warmup),
                     patience=int(patience), eval_every=int(eval_every), seed=seed)
default_name = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{choice.rsplit('/', 1)[-1]}-{source}")[:40] + time.strftime("-%H%M%S")
if st.session_state.pop("ft_rename", False):
    st.session_state.pop("ft_name", None)  # after a start the box empties: the next run gets a fresh name
name = name_box("Save as", "ft_name", default_name)

if train is not None:
    rows = len(train) * (1 + augment_copies if augment_recipe else 1)
    steps = -(-rows // (config.batch_size * config.grad_accum)) * config.epochs
    key = (choice, config.batch_size, config.grad_accum, config.max_length, str(model.device))
    measured = st.session_state.setdefault("ft_speed", {}).get(key)
    c1, c2 = st.columns([1, 3])
    if c1.button("⏱ Estimate the time", key="ft_estimate",
                 help="Runs 3 real training steps on a throwaway copy and times them."):
        with st.spinner("Timing 3 training steps…"):
            try:
                measured = st.session_state["ft_speed"][key] = measure_throughput(choice, train, config)
            except UserError as err:
                st.error(str(err))
    if measured:
        seconds = estimate_seconds(measured, rows, len(evaluation), config)
        c2.info(f"**About {seconds / 60:.1f} min** for {steps:,} steps: measured {measured:.1f} examples/s "
                "on this machine just now (other users' work can slow it down).")
    else:
        c2.caption(f"{steps:,} steps of {config.batch_size * config.grad_accum} examples. "
                   "Press the button for a measured time.")

# --------------------------------------------------------------------------------- 3. train
st.header("3 · Train")
ready = (train is not None or hub_name is not None) and not job_running("ft_job")
if st.button("▶ Start fine-tuning", type="primary", disabled=not ready, key="ft_start"):
    try:
        config.validate()
        out_dir = new_model_dir(name)

        def work(job, train=train, evaluation=evaluation, hub=(hub_name, hub_limit),
                 augment=(augment_recipe, augment_copies)):
            if hub[0]:
                job.report(0.0, f"Downloading {hub[0]}…")
                train, evaluation = load_hub_dataset(hub[0], hub[1], config.seed)
            if augment[0]:
                def progress(done, total):
                    job.check_cancelled()
                    job.report(0.0, f"Augmenting: {done:,} of {total:,} rows")
                train = augment_labelled(train, augment[0], augment[1], seed=config.seed, progress=progress)
            result = finetune(choice, train, evaluation, config, job, out_dir)
            return {"result": result, "evaluation": evaluation, "train_rows": len(train)}

        start_job("ft_job", "finetune", work)
        if job_running("ft_job"):
            st.session_state["ft_rename"] = True
            st.rerun()  # the whole page again: Start disabled, the progress panel polling
    except UserError as err:
        st.error(str(err))


def show_results(job) -> None:
    done = job.result
    result, evaluation = done["result"], done["evaluation"]
    best = result.best
    folder = result.out_dir
    st.success(f"Saved as **{folder.name}**: pick it in the sidebar (yours only) to look inside it on the other pages.")
    majority = max(evaluation.class_counts().values()) / len(evaluation)
    c = st.columns(5)
    c[0].metric("Validation accuracy", f"{best.accuracy:.1%}", f"{best.accuracy - majority:+.1%} vs majority class",
                help=f"Always answering the most common class would score {majority:.1%}.")
    c[1].metric("Macro-F1", f"{best.f1:.3f}", help="F1 averaged over classes: a rare class counts as much as a big one.")
    c[2].metric("Best step", f"{result.best_step} / {result.steps}")
    c[3].metric("Training time", f"{result.train_s:.0f} s")
    c[4].metric("Speed", f"{result.samples_per_s:.1f} ex/s")
    if result.stopped_early:
        st.info(f"Stopped early after {result.steps} steps: validation accuracy had stopped improving. "
                "The best checkpoint was kept.")
    st.plotly_chart(training_curves(result.history), key="ft_curves_final")
    left, right = st.columns([2, 3])
    left.plotly_chart(confusion_figure(best.confusion, result.label_names), key="ft_confusion")
    with right:
        wrong = [i for i, (p, y) in enumerate(zip(best.predictions, evaluation.labels)) if p != y]
        st.markdown(f"**Misclassified validation examples** ({len(wrong)} of {len(evaluation)})")
        st.dataframe({"text": [evaluation.texts[i] for i in wrong],
                      "true": [result.label_names[evaluation.labels[i]] for i in wrong],
                      "predicted": [result.label_names[best.predictions[i]] for i in wrong],
                      "confidence": [max(best.probabilities[i]) for i in wrong]},
                     hide_index=True, width="stretch",
                     column_config={"confidence": st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                                                   format="percent")})
    st.subheader("Try your own sentence")
    text = st.text_input("A sentence for the new classifier", "The staff were lovely and the room was spotless.",
                         key="ft_try", max_chars=5_000)
    try:
        label, scores, notice = classify(as_loaded(result), text)
        st.metric("Prediction", label, f"{scores[label]:.1%} sure", delta_color="off")
        st.plotly_chart(class_probabilities(scores), key="ft_try_probs")
        if notice:
            st.caption(notice)
    except UserError as err:
        st.warning(str(err))
    st.download_button("⬇ Download the model (.zip)", partial(zip_folder, folder), file_name=f"{folder.name}.zip",
                       mime="application/zip", on_click="ignore", key="ft_download",
                       help="safetensors weights, config (with your label names) and tokenizer: "
                            "load it with AutoModelForSequenceClassification.from_pretrained(folder).")


def show_live(events: list[dict]) -> None:
    begin, step = latest(events, "start"), latest(events, "step")
    if begin:
        st.caption(f"{begin['steps']:,} steps on {begin['device']} · precision {begin['precision']} · "
                   f"{begin['train_rows']:,} training rows" + (f" · {step['samples_per_s']:.1f} examples/s" if step else ""))
        st.plotly_chart(training_curves(events, begin["steps"]), key="ft_curves_live")


@st.fragment(run_every=1 if job_running("ft_job") else None)
def show_job():
    if JOBS.get(st.session_state.get("ft_job")) is None:
        st.caption("Nothing is training yet. " + jobs_caption())
    job_panel("ft_job", show_live, show_results, prefix="ft")


show_job()
