"""Augmentation: what each nlpaug technique (and BERT itself) does to a sentence, then to a dataset."""
from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

import html

import streamlit as st

from core.augment.techniques import MAX_N, TECHNIQUES, Recipe, augment_sentence, technique, unavailable_reason
from core.augment.diff import change_summary, diff_html
from core.augment.contextual import DEFAULT_STRENGTH
from core.augment.dataset import MAX_ROWS, augment_dataset, builtin_dataset
from core.inputs.csv_input import load_csv, read_text_csv
from core.errors import UserError
from pages._common import current_model, job_panel, job_running, shared, start_job, table

DEFAULT_TEXT = "The hotel room was clean and the staff were friendly, but breakfast was cold."
PIPELINE = "pipeline"
LEVELS = {"character": "🔡 character", "word": "🔤 word", "model": "🧠 model", "translation": "🌍 sentence"}

st.title("🧪 Augmentation")
st.markdown(
    "A small labelled dataset can be made bigger by **rewriting each example a little**: typos, "
    "swapped or deleted words, synonyms, or words the model itself proposes. A classifier "
    "fine-tuned on the bigger set is less brittle to noise — **if** the rewrite keeps the label "
    "true. Try each technique on one sentence first, then apply the recipe to a whole dataset."
)
model = current_model()
reasons = {name: unavailable_reason(name, model) for name in TECHNIQUES}

# ------------------------------------------------------------------------ 1. one sentence
st.header("1 · One sentence, many variations")
text = st.text_area("Your sentence", DEFAULT_TEXT, **shared("aug_text"), max_chars=50_000)


def label(name: str) -> str:
    if name == PIPELINE:
        return "🔗 pipeline · several techniques in a row (nlpaug Sequential / Sometimes)"
    t = technique(name)
    return f"{LEVELS[t.level]} · {t.label}" + ("  — unavailable here" if reasons[name] else "")


left, right = st.columns([3, 2])
with left:
    choice = st.selectbox("Technique", [*TECHNIQUES, PIPELINE], format_func=label, **shared("aug_method"))
    if choice == PIPELINE:
        usable = [n for n, t in TECHNIQUES.items() if t.needs not in ("mlm", "network") and not reasons[n]]
        steps = st.multiselect("Steps, in order", usable, default=["synonym", "keyboard"] if "synonym" in usable
                               else ["spelling", "keyboard"], format_func=lambda n: technique(n).label,
                               key="aug_steps")
        sometimes = st.radio("Flow", ["Sequential: every step, in order", "Sometimes: each step half the time"],
                             key="aug_flow", horizontal=True).startswith("Sometimes")
        recipe = Recipe(tuple(steps), sometimes) if steps else None
        st.caption("A pipeline stacks noise: each step's lesson below still applies. The contextual and "
                   "back-translation techniques run on their own, batched on a model.")
        for step in steps:
            st.caption(f"**{technique(step).label}** — {technique(step).lesson}")
    else:
        recipe = Recipe((choice,))
        st.info(f"**When it helps or hurts:** {technique(choice).lesson}")
        if reasons[choice]:
            st.warning(f"**Unavailable here.** {reasons[choice]}")
with right:
    amount = technique(recipe.steps[0]).amount if recipe else "share of words changed"
    strength = st.slider("How much to change", 0.05, 0.8, DEFAULT_STRENGTH, 0.05, **shared("aug_strength"),
                         help=f"The {amount}.")
    n = st.number_input("Variations (N)", 1, 10, 3, **shared("aug_n"))
    seed = st.number_input("Random seed", 0, 2**31 - 1, 0, **shared("aug_seed"),
                           help="The same seed, text and settings always give the same variations.")

runnable = recipe is not None and not any(reasons[s] for s in recipe.steps)
if recipe is None:
    st.info("Pick at least one step for the pipeline.")
elif runnable:
    try:
        with st.spinner("Augmenting…"):
            outputs = augment_sentence(text, recipe, int(n), strength, int(seed), model)
    except UserError as err:
        st.info(f"✍️ {err}")
    else:
        st.caption("Removed text is ~~struck through in red~~, new text is **green**.")
        seen = {}
        for i, out in enumerate(outputs, 1):
            note = change_summary(text.strip(), out)
            if out in seen:
                note += f" · same as #{seen[out]}"
            seen.setdefault(out, i)
            st.html(f"<div style='font-size:1.05rem;line-height:1.7'><b>#{i}</b>&nbsp; "
                    f"{diff_html(text.strip(), out)}</div>")
            st.caption(note)
        distinct = len({o for o in outputs if o != text.strip()})
        if distinct < len(outputs):
            st.caption(f"{distinct} of {len(outputs)} variations are new and distinct: the technique "
                       "found nothing else to change (dataset augmentation drops such duplicates).")

if st.toggle("Compare every technique on this sentence", key="aug_compare",
             help="One variation from each technique, same strength and seed: good for a class discussion."):
    rows = []
    for name, tech in TECHNIQUES.items():
        if reasons[name]:
            rows.append(f"<tr><td>{tech.label}</td><td style='color:#888'>unavailable here</td></tr>")
            continue
        try:
            out = augment_sentence(text, name, 1, strength, int(seed), model)[0]
        except UserError as err:
            rows.append(f"<tr><td>{tech.label}</td><td style='color:#888'>{html.escape(str(err))}</td></tr>")
            continue
        rows.append(f"<tr><td>{tech.label}</td><td>{diff_html(text.strip(), out)}</td></tr>")
    header = ("<tr><th style='text-align:left;width:22%'>Technique</th>"
              "<th style='text-align:left'>One variation</th></tr>")
    st.html("<table style='width:100%;border-collapse:collapse;line-height:1.6'>" + header
            + "".join(rows) + "</table>")

# ------------------------------------------------------------------------ 2. a dataset
st.header("2 · Augment a dataset")
st.markdown("Every row gets **N** rewritten copies with the recipe above, the label (and every other "
            "column) copied along. Copies identical to a row already kept are dropped and counted.")
source = st.radio("Data", ["Built-in sentiment dataset", "Upload a CSV"], horizontal=True, key="aug_source")
frame, text_col, label_col = None, None, None
try:
    if source == "Upload a CSV":
        upload = st.file_uploader("CSV with a header row (UTF-8)", type=["csv"], key="aug_upload")
        if upload is not None:
            data = upload.getvalue()
            columns = list(load_csv(data, max_rows=MAX_ROWS).columns)
            c1, c2 = st.columns(2)
            text_col = c1.selectbox("Text column", columns, index=columns.index("text") if "text" in columns else 0,
                                    key="aug_text_col")
            labels = ["(none)", *[c for c in columns if c != text_col]]
            label_col = c2.selectbox("Label column", labels,
                                     index=labels.index("label") if "label" in labels else 0, key="aug_label_col")
            label_col = None if label_col == "(none)" else label_col
            frame = read_text_csv(data, text_col, label_col, max_rows=MAX_ROWS)
        else:
            st.caption(f"Up to {MAX_ROWS:,} rows. Export spreadsheets as 'CSV UTF-8'.")
    else:
        frame, text_col, label_col = builtin_dataset(), "text", "label"
except UserError as err:
    st.error(str(err))
    frame = None

if frame is not None:
    dropped = frame.attrs.get("dropped", 0)
    st.caption(f"{len(frame):,} rows" + (f" ({dropped} without text or label skipped)" if dropped else "")
               + (f" · labels: {frame[label_col].value_counts().to_dict()}" if label_col else ""))
    c1, c2 = st.columns(2)
    copies = c1.number_input("Copies per row (N)", 1, MAX_N, 1, key="aug_copies")
    train_only = "split" in frame.columns and c2.checkbox(
        "Training split only", True, key="aug_train_only",
        help="Augmented copies of validation/test sentences would leak into training and flatter the scores.")
    recipe_text = recipe.name if recipe else "—"
    st.caption(f"Recipe: **{recipe_text}**, strength {strength:.2f}, seed {int(seed)}.")
    go = st.button("Augment the dataset", type="primary", disabled=not runnable, key="aug_start")
    if go and runnable:
        def work(job, frame=frame, args=(text_col, label_col, recipe), opts=dict(
                n=int(copies), strength=strength, seed=int(seed), loaded=model, train_only=train_only)):
            def progress(done, total):
                job.check_cancelled()
                job.report(done / total, f"{done:,} of {total:,} rows")
            return augment_dataset(frame, *args, progress=progress, **opts)
        start_job("aug_job", "augment", work)


def show_augmented(job) -> None:
    result = job.result
    s = result.summary()
    c = st.columns(4)
    c[0].metric("Original rows", f"{s['original_rows']:,}")
    c[1].metric("Generated", f"{s['generated']:,}", help=f"{s['augmented_rows']:,} rows × N")
    c[2].metric("Duplicates dropped", f"{s['duplicates_dropped']:,}")
    c[3].metric("Rows out", f"{s['output_rows']:,}")
    st.caption(f"Done in {job.elapsed:.1f} s. New rows carry `source_row` (the row they came from) "
               "and `augmentation` (the recipe).")
    new = result.frame[result.frame["augmentation"] != ""]
    table(new.head(200), hide_index=True, width="stretch")
    st.download_button("Download the augmented CSV", result.frame.to_csv(index=False).encode("utf-8"),
                       file_name="augmented.csv", mime="text/csv", key="aug_download")


@st.fragment(run_every=1 if job_running("aug_job") else None)
def show_job():
    job_panel("aug_job", finished=show_augmented, prefix="aug")


show_job()
