"""BERT Playground's engine: everything the pages do, importable and testable without Streamlit.

Data flows one way: inputs -> models -> explain / training / augment -> figures -> pages (and the
CLI in `commands`, over the same functions).

    inputs/    text encoding, CSV uploads, labelled datasets, pretraining corpora, share links
    models/    the model-choice resolver and loader, the embedded model, architecture facts,
               the saved-model folder, the app's classifiers
    explain/   tokens, embeddings, attention, masked words, next sentence
    bert/      the from-scratch BERT (teaching material), its converter and parity proof
    augment/   nlpaug techniques and recipes, BERT's batched augmenter, diffs, whole datasets
    training/  one kit + config; fine-tuning, distillation, pruning, ensembles, pretraining
    figures/   plotly figures, offline bertviz views, the model diagram
    offline/   bertviz's scripts and NLTK's data, fetched from package registries
    progress.py (the Reporter Protocol), jobs.py (background jobs), memory.py (memory a job freed goes
    back to the system), errors.py (UserError)
"""
