"""Pretraining lab: how BERT is pretrained, then made smaller (distillation, pruning) and better (ensembles)."""
from __future__ import annotations

from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

import math
from uuid import uuid4

import pandas as pd
import streamlit as st

from core.inputs.datasets import builtin_sentiment
from core.training.distill import distill_builtin
from core.training.config import DistillConfig
from core.models.classifiers import list_classifiers, load_teacher
from core.training.ensemble import evaluate_members, member_fit, report, train_members
from core.training.stacking import stack
from core.training.twins import GAP, PROMPT, fill, generate, load_twin, train_twins, twin_spec
from core.errors import UserError
from core.figures.masked import plain_label
from core.figures.lab import (agreement_map, compare_bars, ensemble_bars, importance_map, pretrain_curves,
                              pruning_curve, student_training, twin_curves, visibility_figure)
from core.training.scratch import DEFAULT_SAMPLES, ScratchSpec, pretrain, save_upload, vocabulary_size
from pages._common import (figure, job_panel, job_running, latest, my_runs_dir, name_box, new_model_dir, shared,
                           start_job, table)


st.title("🧫 Pretraining lab")
st.markdown(
    "How BERT learns language in the first place, and the three tricks practitioners use afterwards: "
    "**distillation** (a small model imitates a big one), **pruning** (cut what the model does not need) "
    "and **ensembles** (several models vote). Everything trains here, on this machine, while you watch; "
    "long work runs in the background and can be cancelled.")

# Lazy tabs: only the open one is drawn (and its job polled), and a rerun stays on it.
tab_pretrain, tab_distill, tab_prune, tab_ensemble, tab_twins = st.tabs(
    ["🧱 Pretrain from scratch", "🧑‍🏫 Distillation", "✂️ Pruning", "🤝 Ensembles", "✍️ Decoder vs encoder"],
    **shared("lab_tab"), on_change="rerun")


classifiers = list_classifiers(my_runs_dir())
by_choice = {c["choice"]: c for c in classifiers}


def classifier_label(choice: str) -> str:
    c = by_choice[choice]
    return f"{c['name']} · {c['type']} · {c['layers']} layers · labels {', '.join(c['labels'])}"


# ===================================================================================== pretrain
with tab_pretrain:
    if tab_pretrain.open:
        st.markdown(
            "BERT starts as random numbers. It learns by playing two games on plain text, millions of times: "
            "**masked words** (15% of the tokens are hidden: 80% become `[MASK]`, 10% a random word, 10% stay; "
            "guess them) and **next sentence** (is sentence B the one that really followed A?). Here you "
            "pretrain a tiny BERT the same way. Watch what it guesses: first the most common tokens "
            "(`.`, `the`, `a`), then words that fit the grammar, much later words that fit the meaning.")
        c = st.columns(4)
        layers = c[0].slider("Layers", 1, 6, 2, key="pt_layers")
        hidden = c[1].select_slider("Hidden size", [32, 64, 128, 256], 64, key="pt_hidden")
        heads = c[2].select_slider("Heads", [h for h in (1, 2, 4, 8) if hidden % h == 0], 2, key="pt_heads")
        steps = c[3].number_input("Steps", 10, 20_000, 300, step=50, key="pt_steps")
        c = st.columns(4)
        batch = c[0].select_slider("Batch size", [4, 8, 16, 32, 64], 16, key="pt_batch")
        max_len = c[1].select_slider("Max length", [32, 64, 128], 64, key="pt_maxlen")
        lr = c[2].select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3], 1e-3, key="pt_lr", format_func=lambda v: f"{v:g}")
        docs = c[3].number_input("Documents used", 50, 20_000, 3000, step=500, key="pt_docs",
                                 help="Fewer documents start faster; more give it more to learn.")
        corpus = st.radio("Text", ["Built-in: WordNet definitions and examples (offline)", "Upload a .txt file"],
                          key="pt_corpus", horizontal=True)
        upload = None
        if corpus.startswith("Upload"):
            upload = st.file_uploader("Plain text, paragraphs separated by blank lines (at most 5 MB)", type=["txt"],
                                      key="pt_upload")
        samples = st.text_area("Sentences to watch (one per line, each with [MASK])", "\n".join(DEFAULT_SAMPLES),
                               key="pt_samples", height=120, max_chars=2_000)
        name = name_box("Save as", "pt_name",
                        st.session_state.setdefault("pt_default_name", f"scratch-bert-{uuid4().hex[:4]}"))
        spec = ScratchSpec(layers=layers, hidden=hidden, heads=heads, steps=int(steps), batch_size=batch,
                           max_length=max_len, lr=lr, max_documents=int(docs))
        vocab = vocabulary_size()
        st.caption(f"About {spec.approx_parameters(vocab) / 1e6:.1f}M parameters, most of them the "
                   f"{vocab:,}-word embedding table (the vocabulary is the embedded model's WordPiece).")
        if st.button("▶ Start pretraining", type="primary", key="pt_start", disabled=job_running("lab_pretrain_job")):
            try:
                spec.validate()
                out_dir = new_model_dir(name)
                if corpus.startswith("Upload"):
                    if upload is None:
                        raise UserError("Upload a .txt file first, or use the built-in text.")
                    spec.corpus = save_upload(upload.getvalue())
                lines = samples.splitlines()
                start_job("lab_pretrain_job", "pretrain", lambda job: pretrain(spec, job, lines, out_dir))
            except UserError as err:
                st.error(str(err))

        def pretrain_live(events: list[dict]) -> None:
            begin = latest(events, "start")
            if begin:
                st.caption(f"{begin['parameters'] / 1e6:.2f}M parameters · {begin['documents']:,} documents")
            step_events = [e for e in events if e.get("type") == "step"]
            if step_events:
                st.plotly_chart(pretrain_curves(step_events, [e for e in events if e.get("type") == "eval"]),
                                key="pt_curves")
            show_samples(events)

        def show_samples(events: list[dict]) -> None:
            shots = [e for e in events if e.get("type") == "samples"]
            if not shots:
                return
            first, last = shots[0], shots[-1]
            st.markdown(f"**What it guesses for the masks** (step 0 → step {last['step']})")
            rows = []
            for before, now in zip(first["rows"], last["rows"]):
                guess = lambda r: " | ".join(", ".join(f"{t} ({p:.0%})" for t, p in g) for g in r["guesses"])  # noqa: E731
                rows.append({"sentence": now["sentence"], "at step 0": guess(before), f"at step {last['step']}": guess(now)})
            table(rows)

        def pretrain_done(job) -> None:
            result = job.result
            events = list(job.events)
            st.success(f"Saved as **{result['out'].rsplit('/', 1)[-1]}**: pick it in the sidebar to see its "
                       "attention and masked-word guesses on the other pages.")
            held = result["held_out"]
            c = st.columns(4)
            c[0].metric("MLM loss", f"{result['last']['mlm_loss']:.2f}", f"{result['last']['mlm_loss'] - result['first']['mlm_loss']:+.2f}",
                        delta_color="inverse", help=f"Training batch, last step vs first. ln({vocabulary_size():,}) = {math.log(vocabulary_size()):.1f} is a uniform guess.")
            if held:
                c[1].metric("Held-out MLM accuracy", f"{held['mlm_acc']:.1%}")
                c[2].metric("Held-out NSP accuracy", f"{held['nsp_acc']:.1%}", help="50% is a coin toss.")
            c[3].metric("Training time", f"{result['train_s']:.0f} s")
            pretrain_live(events)

        @st.fragment(run_every=1 if job_running("lab_pretrain_job") else None)
        def pretrain_panel():
            job_panel("lab_pretrain_job", pretrain_live, pretrain_done)

        pretrain_panel()

# ===================================================================================== distill
FINETUNE_FIRST = "__finetune__"
with tab_distill:
    if tab_distill.open:
        st.markdown(
            "A big fine-tuned **teacher** knows more than its top answer: when it says *positive, 90%*, the 10% it "
            "gives *negative* tells how ambiguous the text is. **Knowledge distillation** (Hinton et al. 2015) "
            "trains a smaller **student** on these soft probabilities, softened further by a temperature T, "
            "together with the true labels:")
        st.latex(r"\mathcal{L} = \alpha\,T^2\,\mathrm{KL}\big(\mathrm{softmax}(z_t/T)\,\|\,\mathrm{softmax}(z_s/T)\big)"
                 r" + (1-\alpha)\,\mathrm{CE}(z_s, y)")
        st.markdown(
            "The student here keeps *k* of the teacher's layers, spread over its depth as DistilBERT did (or simply "
            "the first *k*), so it starts from what the teacher knows. The fair comparison is the **same "
            "student trained alone** (α = 0): the difference is what the teacher taught. Data: the built-in "
            "sentiment dataset (train → student, validation → best epoch, test → the comparison).")
        options = [FINETUNE_FIRST] + [c["choice"] for c in classifiers]
        teacher_choice = st.selectbox(
            "Teacher", options, key="kd_teacher",
            format_func=lambda c: "Fine-tune a teacher first: the embedded MiniLM (6 layers) on the built-in data"
            if c == FINETUNE_FIRST else classifier_label(c))
        teacher_layers = 6 if teacher_choice == FINETUNE_FIRST else by_choice[teacher_choice]["layers"] or 2
        if teacher_layers < 2:
            st.warning("This teacher has a single layer: there is nothing smaller to cut from it.")
        c = st.columns(4)
        if teacher_layers > 2:
            k = c[0].slider("Student layers", 1, teacher_layers - 1, min(2, teacher_layers - 1), key="kd_k")
        else:
            k = 1
            c[0].markdown(f"**Student layers:** 1 of the teacher's {teacher_layers}")
        layer_choice = c[1].radio("Which layers", ["spread", "first"], key="kd_choice",
                                  help="spread: k layers evenly from the first to the last (the last layer's output is "
                                       "what the classifier was trained on; measured better). first: layers 0..k-1.")
        temperature = c[2].slider("Temperature T", 1.0, 10.0, 2.0, 0.5, key="kd_T",
                                  help="Higher T flattens the teacher's probabilities, exposing its second choices.")
        alpha = c[3].slider("α (weight of the teacher)", 0.0, 1.0, 0.5, 0.1, key="kd_alpha")
        c = st.columns(4)
        epochs = c[0].slider("Epochs", 1, 10, 3, key="kd_epochs")
        kd_lr = c[1].select_slider("Learning rate", [1e-4, 3e-4, 5e-4, 1e-3], 5e-4, key="kd_lr", format_func=lambda v: f"{v:g}")
        baseline = c[2].checkbox("Also train the student alone", True, key="kd_baseline")
        save_student = c[3].checkbox("Save the student", True, key="kd_save")
        kd_name = name_box("Save the student as", "kd_name",
                           st.session_state.setdefault("kd_default_name", f"student-{uuid4().hex[:4]}"),
                           disabled=not save_student)
        if st.button("▶ Distil", type="primary", key="kd_start", disabled=job_running("lab_distill_job") or teacher_layers < 2):
            try:
                config = DistillConfig(student_layers=k, layer_choice=layer_choice, temperature=temperature, alpha=alpha,
                                       epochs=epochs, lr=kd_lr)
                config.validate()
                out_dir = new_model_dir(kd_name) if save_student else None

                teacher_dir = my_runs_dir() / f"teacher-minilm-{uuid4().hex[:6]}"

                def distil_work(job, choice=None if teacher_choice == FINETUNE_FIRST else teacher_choice):
                    return distill_builtin(choice, config, job, baseline, out_dir, teacher_dir)

                start_job("lab_distill_job", "distill", distil_work)
            except UserError as err:
                st.error(str(err))

        def distill_live(events: list[dict]) -> None:
            history = [e for e in events if e.get("type") in ("step", "eval") and "model" in e]
            if history:
                st.plotly_chart(student_training(history), key="kd_live")

        def distill_done(job) -> None:
            result = job.result
            rows = result["rows"]
            teacher_row, student_row = rows[0], rows[1]
            c = st.columns(4)
            c[0].metric("Student accuracy", f"{student_row['accuracy']:.1%}",
                        f"{student_row['accuracy'] - teacher_row['accuracy']:+.1%} vs teacher")
            if len(rows) > 2:
                c[1].metric("Student alone", f"{rows[2]['accuracy']:.1%}",
                            f"{student_row['accuracy'] - rows[2]['accuracy']:+.1%} from the teacher's soft targets",
                            delta_color="off")
            c[2].metric("Speed-up", f"×{student_row['speedup']}", help="Median time to classify one text, teacher / student, "
                        "measured interleaved on this (shared) CPU.")
            c[3].metric("Size", f"{student_row['size_mb']:.0f} MB", f"{student_row['size_mb'] / teacher_row['size_mb'] - 1:+.0%}",
                        delta_color="inverse")
            figure(compare_bars(rows), key="kd_bars")
            table(rows)
            figure(student_training(result["history"]), key="kd_history")
            st.caption("Embeddings are most of a small model's size, and the student keeps all of them: it shrinks "
                       "less than its layer count suggests, but it is faster in proportion to its depth.")
            if result["out"]:
                st.success(f"Student saved as **{result['out'].rsplit('/', 1)[-1]}**: prune it or add it to an "
                           "ensemble in the next tabs.")

        @st.fragment(run_every=1 if job_running("lab_distill_job") else None)
        def distill_panel():
            job_panel("lab_distill_job", distill_live, distill_done)

        distill_panel()

# ===================================================================================== prune
with tab_prune:
    if tab_prune.open:
        st.markdown(
            "Does a model need all its attention heads? Michel et al. (2019) found many can go. Each head gets a "
            "gate ξ = 1 on its output; the **importance** of a head is |∂loss/∂ξ| summed over data: how much the "
            "loss would change if the head were turned down. Remove the least important heads first, for real "
            "(their query/key/value rows and output columns are cut out), and watch accuracy and speed. The "
            "dotted control removes heads in random order. **Magnitude pruning** instead zeroes the smallest "
            "weights anywhere: accuracy holds up to high sparsity, but dense matrix code does not get faster.")
        prunable = [c["choice"] for c in classifiers if c["type"] in ("bert", "roberta", "distilbert")]
        if not prunable:
            st.info("No fine-tuned classifier yet: make one on the Fine-tuning page or in the Distillation tab "
                    "(it fine-tunes a teacher first).")
        else:
            model_choice = st.selectbox("Model to prune", prunable, format_func=classifier_label, key="pr_model")
            c = st.columns(3)
            do_heads = c[0].checkbox("Head pruning curve", True, key="pr_heads")
            points = c[1].slider("Points on the curve", 3, 10, 6, key="pr_points", disabled=not do_heads)
            control = c[2].checkbox("Random-order control", True, key="pr_random", disabled=not do_heads)
            do_sparsity = st.checkbox("Magnitude pruning curve", True, key="pr_sparsity")
            sparsities = st.multiselect("Sparsities", [0.0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95],
                                        [0.0, 0.3, 0.5, 0.7, 0.9], key="pr_levels", disabled=not do_sparsity,
                                        format_func=lambda v: f"{v:.0%}")
            if st.button("▶ Run the pruning sweep", type="primary", key="pr_start", disabled=job_running("lab_prune_job")):
                try:
                    if not do_heads and not (do_sparsity and sparsities):
                        raise UserError("Choose head pruning, magnitude pruning, or both.")

                    def prune_work(job, choice=model_choice, levels=tuple(sparsities if do_sparsity else ())):
                        from core.training.pruning import sweep

                        tokenizer, model = load_teacher(choice)
                        names = [model.config.id2label[i] for i in range(model.config.num_labels)]
                        scoring = builtin_sentiment("validation", names) if do_heads else None
                        return sweep(model, tokenizer, scoring, builtin_sentiment("test", names), points, list(levels),
                                     0 if control else None, reporter=job)

                    start_job("lab_prune_job", "prune", prune_work)
                except UserError as err:
                    st.error(str(err))

        def prune_live(events: list[dict]) -> None:
            heads = [e for e in events if e.get("type") == "heads"]
            if heads:
                table(pd.DataFrame(heads).drop(columns="type"), hide_index=True, width="stretch")

        def prune_done(job) -> None:
            result = job.result
            if "importance" in result:
                figure(importance_map(result["importance"]), key="pr_importance")
                rows = result["heads"]
                figure(pruning_curve(rows, "heads_removed", "attention heads removed", result.get("heads_random")),
                                key="pr_heads_curve")
                last = rows[-1]
                st.caption(f"With {last['heads_removed']} of {last['heads_removed'] + last['heads_left']} heads removed: "
                           f"accuracy {last['accuracy']:.1%} (from {rows[0]['accuracy']:.1%}), "
                           f"{last['parameters'] / rows[0]['parameters']:.0%} of the parameters, ×{last['speedup']} speed.")
                table(rows + result.get("heads_random", []))
            if "sparsity" in result:
                figure(pruning_curve(result["sparsity"], "sparsity", "share of encoder weights set to zero"),
                                key="pr_sparsity_curve")
                table(result["sparsity"])
                st.caption("Zeroed weights are still stored and multiplied: size on disk and speed only improve with "
                           "sparse storage and sparse kernels. Removing whole heads changes the shapes, so it does speed up.")

        @st.fragment(run_every=1 if job_running("lab_prune_job") else None)
        def prune_panel():
            job_panel("lab_prune_job", prune_live, prune_done)

        prune_panel()

# ===================================================================================== ensembles
with tab_ensemble:
    if tab_ensemble.open:
        st.markdown(
            "Several models can vote: **average their probabilities** (mean) or take the **majority** label (vote). "
            "An ensemble only helps when members make *different* mistakes. The *oracle* is the share of texts at "
            "least one member gets right: no way of combining them can beat it. Scored on the built-in test split.")
        picked = st.multiselect("Members (fine-tuned classifiers with the same labels)", [c["choice"] for c in classifiers],
                                [c["choice"] for c in classifiers if c["name"].startswith("member-")][:5],
                                format_func=classifier_label, key="en_members")
        c = st.columns(2)
        if c[0].button("▶ Evaluate the ensemble", type="primary", key="en_start",
                       disabled=job_running("lab_ensemble_job") or len(picked) < 2):
            def ensemble_work(job, folders=tuple(picked)):
                labels = by_choice[folders[0]]["labels"]
                test = builtin_sentiment("test", labels)
                probs = evaluate_members(list(folders), test, reporter=job)
                return report(probs, test.labels)

            start_job("lab_ensemble_job", "ensemble", ensemble_work)
        if len(picked) < 2:
            st.caption("Pick at least two members.")
        if c[1].button("Train 3 small members (2 layers of MiniLM, 3 seeds)", key="en_train",
                       disabled=job_running("lab_ensemble_job"),
                       help="Saved as member-0, -1, -2 (replacing your earlier ones); a few minutes on a CPU."):
            def members_work(job, out_root=my_runs_dir()):
                train = builtin_sentiment("train")
                members = train_members(train, builtin_sentiment("validation", train.label_names), n=3, reporter=job,
                                        out_root=out_root)
                return {"trained": members}

            start_job("lab_ensemble_job", "ensemble", members_work)
        st.markdown(
            "**Stacking** learns the combination instead: a logistic regression reads every member's probabilities "
            "and predicts the label. It must learn from predictions on texts a member *never saw* — a member looks "
            "perfect on texts it memorised — so each member is trained once per fold of the training split and "
            "predicts the fold it left out; then once more on everything, for the test split.")
        folds = st.slider("Folds", 2, 5, 3, key="en_folds", help="Each of the 3 members trains folds + 1 times.")
        if st.button(f"▶ Stack 3 small members ({folds} folds: {3 * (folds + 1)} short trainings)", key="en_stack",
                     disabled=job_running("lab_ensemble_job")):
            def stack_work(job, folds=folds):
                train = builtin_sentiment("train")
                validation, test = (builtin_sentiment(s, train.label_names) for s in ("validation", "test"))
                members = {f"member-{s}": member_fit(validation, s) for s in range(3)}
                stacker, probs, stacked = stack(members, train, test, folds, reporter=job)
                return {**report(probs, test.labels, stacked), "weights": stacker.weights()}

            start_job("lab_ensemble_job", "ensemble", stack_work)

        def ensemble_done(job) -> None:
            result = job.result
            if "trained" in result:
                if st.session_state.get("en_reset") != job.id:  # once: let the picker default to the new members
                    st.session_state["en_reset"] = job.id
                    st.session_state.pop("en_members", None)
                    st.rerun()
                st.success(f"Trained {len(result['trained'])} members; they are now picked above. Press *Evaluate*.")
                return
            best = next(m for m in result["members"] if m["model"] == result["best_member"])
            stacked = "stack" in result
            c = st.columns(5 if stacked else 4)
            c[0].metric("Best member", f"{best['accuracy']:.1%}", result["best_member"], delta_color="off")
            c[1].metric("Ensemble (mean)", f"{result['mean']['accuracy']:.1%}",
                        f"{result['mean']['accuracy'] - best['accuracy']:+.1%} vs best member")
            c[2].metric("Ensemble (vote)", f"{result['vote']['accuracy']:.1%}",
                        f"{result['vote']['accuracy'] - best['accuracy']:+.1%} vs best member")
            c[3].metric("All members agree", f"{result['all_agree']:.1%}")
            if stacked:
                c[4].metric("Stacking", f"{result['stack']['accuracy']:.1%}",
                            f"{result['stack']['accuracy'] - best['accuracy']:+.1%} vs best member")
                table(result["weights"], hide_index=True, width="stretch")
                st.caption("How much the meta-classifier listens to each member: its share of all the weights, and per "
                           "class the weight on that member's probability of the class (higher: trusted for it).")
            left, right = st.columns(2)
            figure(ensemble_bars(result), "en_bars", where=left)
            figure(agreement_map(result), "en_agreement", where=right)
            st.caption(f"Compared with the best member, averaging fixed {result['mean']['fixed']} test texts and broke "
                       f"{result['mean']['broken']}; voting fixed {result['vote']['fixed']} and broke {result['vote']['broken']}.")

        @st.fragment(run_every=1 if job_running("lab_ensemble_job") else None)
        def ensemble_panel():
            job_panel("lab_ensemble_job", finished=ensemble_done)

        ensemble_panel()


# ================================================================================ decoder vs encoder
@st.cache_resource(max_entries=4, show_spinner=False)
def cached_twin(folder: str):
    """One copy per server process of a trained twin; sampling only reads it."""
    return load_twin(folder)


with tab_twins:
    if tab_twins.open:
        st.markdown(
            "BERT is an **encoder**: every token sees the whole sentence, and it learned by filling gaps. GPT is a "
            "**decoder**: a *causal mask* lets each token see only itself and the tokens before it, and it learned "
            "by predicting the **next** token, which is what lets it write. Here the same from-scratch transformer "
            "(the Inside BERT page's code, the output layer tied to the word embeddings) is trained both ways, on "
            "the same text, for the same steps, from the same random start.")
        c = st.columns(4)
        tw_layers = c[0].slider("Layers", 1, 4, 2, key="tw_layers")
        tw_hidden = c[1].select_slider("Hidden size", [32, 64, 128], 64, key="tw_hidden")
        tw_steps = c[2].number_input("Steps", 10, 5_000, 300, step=50, key="tw_steps")
        tw_docs = c[3].number_input("WordNet documents", 50, 20_000, 3000, step=500, key="tw_docs")
        if st.button("▶ Train the twins", type="primary", key="tw_start", disabled=job_running("lab_twins_job")):
            try:
                tw_spec = twin_spec(layers=tw_layers, hidden=tw_hidden, steps=int(tw_steps), max_documents=int(tw_docs))
                tw_spec.validate()
                tw_dir = new_model_dir(f"twins-{uuid4().hex[:4]}")
                start_job("lab_twins_job", "twins", lambda job: train_twins(tw_spec, job, tw_dir))
            except UserError as err:
                st.error(str(err))

        def twins_live(events: list[dict]) -> None:
            steps_seen = [e for e in events if e.get("type") == "step"]
            if steps_seen:
                st.plotly_chart(twin_curves(steps_seen), key="tw_curves")
            sample = latest(events, "sample")
            if sample:
                st.caption(f"Step {sample['step']}: the decoder continues “{PROMPT}” with "
                           f"“{plain_label(sample['continuation'])}”; the encoder fills “{plain_label(GAP)}” with "
                           f"{', '.join(plain_label(g) for g in sample['gap'])}.")

        def twins_done(job) -> None:
            st.session_state["tw_out"] = job.result["out"]
            twins_live(list(job.events))
            tail = job.result["history"][-10:]
            final = {k: sum(h[k] for h in tail) / len(tail) for k in ("decoder", "encoder")}
            lower = min(final, key=final.get)
            st.caption(f"{job.result['train_s']:.0f} s for both · loss over the last {len(tail)} steps: decoder "
                       f"{final['decoder']:.2f}, encoder {final['encoder']:.2f} nats per predicted token. The {lower}'s "
                       "is lower" + (": it sees both sides of each gap, the decoder only what came before."
                                     if lower == "encoder" else ": with few steps the encoder has had fewer questions "
                                     "(15% of the tokens of a batch, the decoder all of them)."))

        @st.fragment(run_every=1 if job_running("lab_twins_job") else None)
        def twins_panel():
            job_panel("lab_twins_job", twins_live, twins_done, prefix="tw")

        twins_panel()
        out = st.session_state.get("tw_out")
        if out:
            decoder, tok, _ = cached_twin(out["decoder"])
            encoder, _, _ = cached_twin(out["encoder"])
            left, right = st.columns(2)
            with left:
                st.subheader("Decoder: continue a text")
                prompt = st.text_input("Prompt", PROMPT, key="tw_prompt", max_chars=200)
                g = st.columns(4)
                max_new = g[0].slider("New tokens", 1, 40, 12, key="tw_new")
                temperature = g[1].slider("Temperature", 0.1, 2.0, 1.0, 0.1, key="tw_temp")
                top_k = g[2].slider("Top-k (0 = all)", 0, 50, 10, key="tw_topk")
                seed = g[3].number_input("Seed", 0, 10_000, 0, key="tw_seed")
                try:
                    text, steps = generate(decoder, tok, prompt, max_new, temperature, top_k, int(seed))
                    st.code(text, language=None, wrap_lines=True)  # user text: never markdown
                    table([{"step": i + 1, "sampled": s.token, "its probability": s.probability,
                            "the distribution it was drawn from": " · ".join(f"{t} {p:.0%}" for t, p in s.candidates[:6])}
                           for i, s in enumerate(steps)])
                except UserError as err:
                    st.warning(str(err))
            with right:
                st.subheader("Encoder: fill a gap")
                gap = st.text_input("Sentence with [MASK]", GAP, key="tw_gap", max_chars=200)
                try:
                    for i, guesses in enumerate(fill(encoder, tok, gap)):
                        st.caption(f"Mask {i + 1}: " + " · ".join(f"{plain_label(g['token'])} {g['probability']:.0%}"
                                                                  for g in guesses))
                except UserError as err:
                    st.warning(str(err))
            tokens = tok.convert_ids_to_tokens(tok(prompt or PROMPT)["input_ids"])[:16]
            m = st.columns(2)
            figure(visibility_figure(tokens, causal=True), "tw_mask_causal", where=m[0])
            figure(visibility_figure(tokens, causal=False), "tw_mask_full", where=m[1])
