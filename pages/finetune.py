"""Fine-tuning: turn the chosen BERT into a classifier, a tagger or a question answerer, watch it learn, then try it."""
from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

import re
import time
from functools import partial

import streamlit as st

from core.errors import UserError
from core.figures.training import training_curves
from core.jobs import JOBS
from core.models.classifiers import as_loaded, list_classifiers, open_classifier
from core.models.saved import zip_folder
from core.tasks.heads import TASKS
from core.tasks.scores import expectation
from core.tasks.sources import HEAD_OF_TASK, PRESETS, RECIPES, describe, token_lengths
from core.training.config import TrainConfig
from core.training.finetune import estimate_seconds, finetune, measure_throughput
from pages._common import (figure, current_model, job_panel, job_running, jobs_caption, latest, my_runs_dir, name_box,
                           new_model_dir, offline_hub_models, offline_now, shared, start_job, take_unless_linked)
from pages._tasks import LESSONS, TITLES, pick_data, show_rows, show_scores, try_it

st.title("🎯 Fine-tuning")
st.markdown(
    "Pretraining taught BERT how language works; **fine-tuning** teaches it one task. A small new "
    "layer (the *head*, random at first) reads the vectors BERT makes, and then **every weight** — head "
    "and BERT alike — is nudged by gradient descent so the right answer gets a higher probability. "
    "The BERT paper fine-tuned one model four ways; so can you. A few minutes on a laptop is enough for short "
    "texts. The model the other pages use is never changed: training works on its own copy."
)
model = current_model()
choice = model.choice
st.caption(f"Model: **{choice}** (change it in the sidebar) · {model.summary()['parameters'] / 1e6:.1f}M "
           f"parameters · trains on **{model.device}**")
if choice == "embedded":
    st.caption("Fine-tuning starts from the pretrained MiniLM encoder as the package ships it: the masked-word "
               "adaptation the other pages use serves word prediction, not classification.")


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def trained_model(choice: str, head: str):
    """A saved or hub model with a trained head, loaded once per process (never changed by a page)."""
    return open_classifier(choice, (head,))


task = st.radio("Task", TASKS, format_func=TITLES.get, horizontal=True, **shared("ft_task"))
st.markdown(LESSONS[task])
if expected := expectation(task):
    st.caption(expected)

# ------------------------------------------------------------------------------------ 1. data
st.header("1 · Data")
seed = int(st.session_state.get("ft_seed", 42))
train, evaluation, fetch = pick_data(task, seed, offline_now())
if train is not None:
    st.caption(f"Training: {describe(train)} · validation: {len(evaluation):,} rows")
    if st.session_state.get("ft_limit_for") != (train.name, len(train)):  # new data: start from all its rows
        take_unless_linked(ft_limit=len(train), first="ft_limit_for" not in st.session_state)
        st.session_state["ft_limit_for"] = (train.name, len(train))
    limit = st.number_input("Train on at most this many rows", min(len(train), 2), len(train),
                            step=50, **shared("ft_limit"),
                            help="Fewer rows train faster; a classroom demo learns something from 200.")
    train = train.sample(int(limit), seed)
    with st.expander("Look at the training rows"):
        show_rows(task, train)

augment_recipe, augment_copies = None, 0
try:
    from core.augment.dataset import augment_labelled
    from core.augment.techniques import TECHNIQUES, unavailable_reason
except ImportError:  # the augmentation module is optional
    TECHNIQUES = {}
if TECHNIQUES and task == "sentences" and (train is not None or fetch):
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
if st.session_state.get("ft_recipe_for") != task:  # a new task: the settings measured to train it well here
    recipe = RECIPES[task]
    take_unless_linked(ft_epochs=recipe["epochs"], ft_lr=recipe["lr"], ft_max_len=recipe["max_length"],
                       first="ft_recipe_for" not in st.session_state)
    st.session_state["ft_recipe_for"] = task
c = st.columns(4)
epochs = c[0].number_input("Epochs", 1, 20, **shared("ft_epochs"),
                           help="Passes over the training data. 2–4 is the usual range for BERT; "
                                "more overfits small datasets (watch validation loss rise).")
batch_size = c[1].select_slider("Batch size", [4, 8, 16, 32, 64], 16, **shared("ft_batch"),
                                help="Examples per step. 16–32 is the BERT paper's range; on a CPU bigger "
                                     "batches are barely faster per example.")
lr = c[2].select_slider("Learning rate", [1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 2e-4], **shared("ft_lr"),
                        format_func=lambda v: f"{v:.0e}",
                        help="2e-5 to 5e-5 is the BERT paper's range. Too high and the loss jumps or "
                             "the model predicts one class for everything.")
max_length = c[3].select_slider("Max length (tokens)", [32, 64, 128, 256, 512], **shared("ft_max_len"),
                                help="Longer inputs are cut there (paragraphs for questions are split into "
                                     "overlapping windows instead). Attention costs grow with the square of "
                                     "the length, so keep it as short as your texts allow.")
if train is not None:
    lengths = token_lengths(model.tokenizer, train)
    whole = sum(n <= max_length for n in lengths) / len(lengths)
    st.caption(f"{max_length} tokens hold **{whole:.1%}** of these training inputs whole (longest: {max(lengths)} "
               "tokens)" + ("; longer paragraphs become several windows, a quarter of the window overlapping."
                            if task == "qa" else "."))
with st.expander("More settings"):
    m = st.columns(3)
    grad_accum = m[0].number_input("Gradient accumulation", 1, 64, 1, **shared("ft_accum"),
                                   help="Add up the gradients of K batches before each step: a batch K times "
                                        "bigger without the memory.")
    weight_decay = m[1].number_input("Weight decay", 0.0, 0.3, 0.01, step=0.01, **shared("ft_wd"),
                                     help="Pulls weights towards zero (not biases or LayerNorm): 0.01 is standard.")
    warmup = m[2].slider("Warmup", 0.0, 0.5, 0.1, step=0.05, **shared("ft_warmup"),
                         help="Share of steps over which the learning rate ramps up from zero, so the "
                              "random head does not wreck BERT's weights at the start; then it decays linearly.")
    m = st.columns(3)
    patience = m[0].number_input("Early stopping patience", 0, 20, 0, **shared("ft_patience"),
                                 help="Stop after this many evaluations without a better validation accuracy "
                                      "(0: never). The best checkpoint is kept either way.")
    eval_every = m[1].number_input("Evaluate every N steps", 0, 10_000, 0, **shared("ft_eval_every"),
                                   help="0: after each epoch. More often gives smoother curves and costs time.")
    m[2].number_input("Seed", 0, 2**31 - 1, 42, **shared("ft_seed"),
                      help="Fixes the head's initial weights, the shuffling and the validation split.")
config = TrainConfig(epochs=int(epochs), batch_size=int(batch_size), lr=float(lr), max_length=int(max_length),
                     grad_accum=int(grad_accum), weight_decay=float(weight_decay), warmup_ratio=float(warmup),
                     patience=int(patience), eval_every=int(eval_every), seed=seed)
default_name = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{choice.rsplit('/', 1)[-1]}-{task}")[:40] + time.strftime("-%H%M%S")
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
ready = (train is not None or fetch is not None) and not job_running("ft_job")
if st.button("▶ Start fine-tuning", type="primary", disabled=not ready, key="ft_start"):
    try:
        config.validate()
        out_dir = new_model_dir(name)

        def work(job, train=train, evaluation=evaluation, fetch=fetch, augment=(augment_recipe, augment_copies)):
            if fetch:
                job.report(0.0, "Downloading the dataset…")
                train, evaluation = fetch()
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
    folder = result.out_dir
    st.success(f"Saved as **{folder.name}**: pick it in the sidebar (yours only) to look inside it on the other pages.")
    if result.stopped_early:
        st.info(f"Stopped early after {result.steps} steps: the validation score had stopped improving. "
                "The best checkpoint was kept.")
    figure(training_curves(result.history, metric=latest(result.history, "start")["metric"]), key="ft_curves_final")
    show_scores(result.task, result, evaluation)
    st.subheader("Try it")
    try_it(result.task, as_loaded(result), "ft_try")
    st.download_button("⬇ Download the model (.zip)", partial(zip_folder, folder), file_name=f"{folder.name}.zip",
                       mime="application/zip", on_click="ignore", key="ft_download",
                       help="safetensors weights, config (with your label names) and tokenizer: load it with "
                            "transformers' AutoModelFor…from_pretrained(folder), or `python -m core predict`.")


def show_live(events: list[dict]) -> None:
    begin, step = latest(events, "start"), latest(events, "step")
    if begin:
        st.caption(f"{begin['steps']:,} steps on {begin['device']} · precision {begin['precision']} · "
                   f"{begin['train_rows']:,} training rows" + (f" · {step['samples_per_s']:.1f} examples/s" if step else ""))
        st.plotly_chart(training_curves(events, begin["steps"], begin["metric"]), key="ft_curves_live")


@st.fragment(run_every=1 if job_running("ft_job") else None)
def show_job():
    if JOBS.get(st.session_state.get("ft_job")) is None:
        st.caption("Nothing is training yet. " + jobs_caption())
    job_panel("ft_job", show_live, show_results, prefix="ft")


show_job()

# ----------------------------------------------------------------------------- 4. try a model
st.header("4 · Try a trained model")
st.markdown("Any model with this task's head: one you fine-tuned earlier, or a well-known pretrained one from the "
            "hub (needs internet, unless downloaded beforehand), in the same view.")
head = HEAD_OF_TASK[task]
saved = {m["choice"]: f"yours · {m['name']}" for m in list_classifiers(my_runs_dir(), heads=(head,))}
hub = [h for h in PRESETS[task] if not offline_now() or h in offline_hub_models()]  # offline: only what loads
options = {**saved, **{hub_id: f"hub · {hub_id}" for hub_id in hub}}
picked = st.selectbox("Model", list(options), format_func=options.get, index=None, key=f"ft_try_model_{task}",
                      placeholder="Choose a model to try")
if picked:
    try:
        loaded = trained_model(picked, head)
    except UserError as err:
        st.error(str(err))
    else:
        try_it(task, loaded, f"ft_try_{task}_other")
