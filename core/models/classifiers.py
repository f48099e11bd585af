"""The classifiers the app trains: a fresh one to fine-tune, saved ones to list, load and use.

A fresh classifier is always loaded from disk (or the hub), so the model other pages share is
never touched; a saved one is a folder written by `core.models.saved.save_folder`.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from core.errors import UserError


def load_base_classifier(choice: str, label_names: list[str], task=None):
    """(tokenizer, a fresh model with the task's head: XForSequenceClassification unless `task`
    (`core.tasks.heads.Task`) says token classification or question answering) from `choice`.

    Loaded from disk (or the hub) every time, so the cached model other pages share is never
    touched. A model already fine-tuned with other labels gets a new head.
    """
    import transformers
    from transformers import AutoConfig, AutoTokenizer

    from core.models.loading import load_failed, quiet_transformers, require_supported, resolve

    quiet_transformers()
    source = resolve(choice)
    try:
        config = AutoConfig.from_pretrained(source.location, **source.hub_kwargs())
        require_supported(source, config, "fine-tuning")
        words = task is not None and task.name == "tokens"
        # Byte-level BPE (RoBERTa) needs a leading space to read pre-split words like a sentence.
        extra = {"add_prefix_space": True} if words and config.model_type == "roberta" else {}
        tokenizer = AutoTokenizer.from_pretrained(source.location, **extra, **source.hub_kwargs())
        head = getattr(transformers, task.head if task is not None else "AutoModelForSequenceClassification")
        labels = dict(num_labels=len(label_names), id2label=dict(enumerate(label_names)),
                      label2id={n: i for i, n in enumerate(label_names)}) if label_names else {}
        model = head.from_pretrained(source.location, **labels, ignore_mismatched_sizes=True, use_safetensors=True,
                                     **source.hub_kwargs())
    except UserError:
        raise
    except (OSError, ValueError) as err:
        raise load_failed(source, err) from err
    if task is None or task.head == "AutoModelForSequenceClassification":
        model.config.problem_type = "single_label_classification"
    return tokenizer, model


# The heads a trained model can carry, by the ending of its architecture's name (as in config.json).
HEADS = {"ForSequenceClassification": ("AutoModelForSequenceClassification", "classifier"),
         "ForTokenClassification": ("AutoModelForTokenClassification", "token tagger"),
         "ForQuestionAnswering": ("AutoModelForQuestionAnswering", "question answerer")}
SEQUENCE = ("ForSequenceClassification",)


def head_of(architectures, heads=tuple(HEADS)) -> str | None:
    """Which of `heads` a model's architectures carry (None: no trained head of those kinds)."""
    return next((h for h in heads if any(a.endswith(h) for a in architectures or [])), None)


def _wanted(heads) -> str:
    return " or ".join(HEADS[h][1] for h in heads)


def _ready(loaded, head: str, where: str):
    """`loaded` in eval mode on the device, after checking its head makes sense to use."""
    config = loaded.model.config
    if head != "ForQuestionAnswering" and not getattr(config, "id2label", None):
        raise UserError(f"{where} has no label names.")
    if head == "ForSequenceClassification" and config.problem_type not in (None, "single_label_classification"):
        raise UserError(f"{where} is not a single-label classifier.")
    loaded.model.to(loaded.device).eval()
    return loaded


def load_classifier(folder: Path | str, heads=SEQUENCE):
    """A saved fine-tune (a text classifier, or any of `heads`) as a `core.models.loading.LoadedModel`
    (so `core.inputs.text.encode` works on it)."""
    import transformers
    from transformers import AutoTokenizer

    from core.models.loading import LoadedModel, pick_device, quiet_transformers

    quiet_transformers()
    folder = Path(folder)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise UserError(f"'{folder}' is not a saved model: it needs config.json and model.safetensors.")
    architectures = json.loads((folder / "config.json").read_text()).get("architectures") or []
    head = head_of(architectures, heads)
    if head is None:
        raise UserError(f"'{folder}' is not a fine-tuned {_wanted(heads)} (it is {', '.join(architectures) or 'unlabelled'}): "
                        "its head would be random. Fine-tune it first (the Fine-tuning page or "
                        "`python -m core finetune`).")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = getattr(transformers, HEADS[head][0]).from_pretrained(
            folder, local_files_only=True, use_safetensors=True,
            attn_implementation="eager")  # so that the explain page can read its attention
    except (OSError, ValueError) as err:
        raise UserError(f"'{folder}' could not be loaded: {str(err).splitlines()[0]}") from err
    return _ready(LoadedModel(f"local:{folder}", "local", tokenizer, model, False, False, pick_device()), head, f"'{folder}'")


def open_classifier(choice: str, heads=SEQUENCE):
    """A trained classifier (or any of `heads`) from a model folder (``local:...`` or a path, under
    the allowed model folders only: the choice may come from a web page) or, online, from the hub."""
    import transformers
    from transformers import AutoConfig, AutoTokenizer

    from core.models.loading import LoadedModel, load_failed, pick_device, quiet_transformers, resolve

    quiet_transformers()
    source = resolve(choice)
    if source.kind == "embedded":
        raise UserError("The embedded model has no classification head: fine-tune it first (the Fine-tuning "
                        "page, a quick fine-tune on the explain page, or `python -m core finetune`).")
    if source.kind == "local":
        return load_classifier(source.location, heads)
    try:
        config = AutoConfig.from_pretrained(source.location, **source.hub_kwargs())
        head = head_of(config.architectures, heads)
        if head is None:
            raise UserError(f"'{choice}' is not a {_wanted(heads)} on the hub: pick a model "
                            "fine-tuned for that task, or fine-tune your own.")
        tokenizer = AutoTokenizer.from_pretrained(source.location, **source.hub_kwargs())
        model = getattr(transformers, HEADS[head][0]).from_pretrained(
            source.location, use_safetensors=True, attn_implementation="eager", **source.hub_kwargs())
    except UserError:
        raise
    except (OSError, ValueError) as err:
        raise load_failed(source, err) from err
    return _ready(LoadedModel(choice, "hub", tokenizer, model, False, False, pick_device()), head, f"'{choice}'")


def as_loaded(result):
    """The in-memory result as a `LoadedModel`, to classify before (or without) saving."""
    from core.models.loading import LoadedModel

    device = next(result.model.parameters()).device
    return LoadedModel("fine-tuned", "local", result.tokenizer, result.model, False, False, device)


def classify(loaded, text: str, pair: str | None = None) -> tuple[str, dict[str, float], str | None]:
    """(label, probability per label, truncation notice) for one text, or a pair read as
    `[CLS] text [SEP] pair [SEP]`."""
    from core.inputs.text import encode

    enc = encode(loaded, text, pair)
    with torch.inference_mode():
        probs = loaded.model(**enc.inputs).logits.float().softmax(-1)[0]
    names = [loaded.config.id2label[i] for i in range(probs.numel())]
    scores = {n: float(p) for n, p in zip(names, probs.tolist())}
    return max(scores, key=scores.get), scores, enc.notice


def load_teacher(folder: Path | str):
    """(tokenizer, classifier) of a saved fine-tune folder (`open_classifier`, read as a local choice)."""
    raw = str(folder)
    loaded = open_classifier(raw if raw.startswith("local:") else f"local:{raw}")
    return loaded.tokenizer, loaded.model


def list_classifiers(*own_dirs: Path, heads=SEQUENCE) -> list[dict]:
    """Saved models with one of `heads` (shared ones and those under `own_dirs`):
    {"choice", "name", "layers", "labels", "type", "head"}."""
    from core.models.loading import list_local_models

    found = []
    for choice in list_local_models(*own_dirs):
        folder = Path(choice.removeprefix("local:"))
        try:
            cfg = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            continue
        head = head_of(cfg.get("architectures"), heads)
        if head is None:
            continue
        labels = [cfg.get("id2label", {}).get(str(i), str(i)) for i in range(len(cfg.get("id2label", {})))]
        found.append({"choice": choice, "name": folder.name, "type": cfg.get("model_type"), "labels": labels,
                      "layers": cfg.get("num_hidden_layers", cfg.get("n_layers")), "head": head})
    return found
