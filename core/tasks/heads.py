"""The four fine-tuning shapes as one interface for the trainer: how a task turns its data into
features, what its loss is, and how it is scored.

`core.training.finetune` runs the same loop for all of them (batches by length, accumulation,
best checkpoint, early stopping); only these functions differ. Losses are sums, divided by the
update's `weight` in the loop, so K accumulated micro-batches give exactly one big batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn.functional as F

from core.tasks.tokens import encode_tagged

TASKS = ("sentences", "pairs", "tokens", "qa")


@dataclass(frozen=True)
class Task:
    name: str
    head: str  # the transformers Auto class of its model
    encode: Callable  # (tokenizer, data, max_length) -> features (core.training.kit.collate_features)
    loss: Callable  # (model outputs, the batch with its targets) -> summed loss
    weight: Callable  # (features of one update) -> what the summed loss is divided by
    evaluate: Callable  # (model, data, features, pad_id, accelerator, batch_size) -> EvalResult
    labels: Callable  # data -> the head's label names ([] for spans)
    metric: str  # the validation score that picks the best checkpoint: accuracy or f1


def _encode_texts(tokenizer, data, max_length: int) -> list[dict]:
    """`[CLS] A [SEP]`, or `[CLS] A [SEP] B [SEP]` with segment ids for pairs; one label each."""
    enc = tokenizer(data.texts, data.second, truncation=True, max_length=max_length) if data.second is not None \
        else tokenizer(data.texts, truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
    return [{**{k: enc[k][i] for k in keys}, "labels": y} for i, y in enumerate(data.labels)]


def _class_loss(outputs, targets):
    return F.cross_entropy(outputs.logits.float(), targets["labels"], reduction="sum")


def _class_evaluate(model, data, features, pad_id, accelerator, batch_size):
    from core.training.kit import evaluate

    return evaluate(model, features, data.labels, len(data.label_names), pad_id, accelerator, batch_size)


def _token_loss(outputs, targets):
    """Cross-entropy over every labelled piece (-100: not a word's first piece, ignored)."""
    return F.cross_entropy(outputs.logits.float().transpose(1, 2), targets["labels"], ignore_index=-100, reduction="sum")


def _token_weight(features) -> int:
    return sum(label != -100 for f in features for label in f["labels"])


def _token_evaluate(model, data, features, pad_id, accelerator, batch_size):
    """Entity-level precision / recall / F1 (seqeval) and word accuracy on whole sentences."""
    from core.tasks.metrics import entity_scores
    from core.tasks.tokens import word_predictions
    from core.training.kit import EvalResult, forward_rows

    def per_row(outputs, targets):
        logits = outputs.logits.float()
        losses = F.cross_entropy(logits.transpose(1, 2), targets["labels"], ignore_index=-100, reduction="none").sum(1)
        return list(zip(losses.tolist(), (targets["labels"] != -100).sum(1).tolist(), logits.argmax(-1).tolist()))

    rows = forward_rows(model, features, pad_id, accelerator, batch_size, per_row)
    names, outside = data.tag_names, data.tag_names.index("O") if "O" in data.tag_names else 0
    predicted = [[names[t] for t in word_predictions(f["word_ids"], r[2], len(words), outside)]
                 for f, r, words in zip(features, rows, data.tokens)]
    scores = entity_scores(data.tag_strings(), predicted)
    return EvalResult(loss=sum(r[0] for r in rows) / max(1, sum(r[1] for r in rows)), accuracy=scores["accuracy"],
                      f1=scores["f1"], confusion=[], predictions=predicted, probabilities=[],
                      details={k: scores[k] for k in ("precision", "recall", "per_type")})


def _span_encode(tokenizer, data, max_length: int) -> list[dict]:
    from core.tasks.spans import encode_questions

    return encode_questions(tokenizer, data.questions, data.contexts, data.answers, max_length)


def _span_logits(outputs, batch):
    """Start and end logits with padding masked out: the softmax runs over real tokens only, so
    a window's loss does not depend on how far its batch was padded."""
    pad = batch["attention_mask"] == 0
    return (outputs.start_logits.float().masked_fill(pad, -1e4), outputs.end_logits.float().masked_fill(pad, -1e4))


def _span_loss(outputs, batch, reduction: str = "sum"):
    """The mean of the start and the end classifiers' cross-entropies (BERT's SQuAD loss)."""
    starts, ends = _span_logits(outputs, batch)
    return (F.cross_entropy(starts, batch["start_positions"], reduction=reduction)
            + F.cross_entropy(ends, batch["end_positions"], reduction=reduction)) / 2


def _span_evaluate(model, data, features, pad_id, accelerator, batch_size):
    """SQuAD exact match (reported as accuracy) and F1 of the best span over each item's windows."""
    from core.tasks.metrics import squad_scores
    from core.tasks.spans import best_answers
    from core.training.kit import EvalResult, forward_rows

    def per_row(outputs, batch):
        starts, ends = _span_logits(outputs, batch)
        return list(zip(_span_loss(outputs, batch, "none").tolist(), starts.tolist(), ends.tolist()))

    rows = forward_rows(model, features, pad_id, accelerator, batch_size, per_row)
    answers = best_answers(features, [(r[1], r[2]) for r in rows], data.contexts)
    scores = squad_scores([a[0] for a in answers], [[text for text, _ in golds] for golds in data.answers])
    return EvalResult(loss=sum(r[0] for r in rows) / max(1, len(rows)), accuracy=scores["exact_match"],
                      f1=scores["f1"], confusion=[], predictions=[a[0] for a in answers], probabilities=[],
                      details={"exact_match": scores["exact_match"]})


_CLASSIFY = dict(head="AutoModelForSequenceClassification", encode=_encode_texts, loss=_class_loss, weight=len,
                 evaluate=_class_evaluate, labels=lambda data: list(data.label_names), metric="accuracy")
BY_NAME = {
    "sentences": Task("sentences", **_CLASSIFY),
    "pairs": Task("pairs", **_CLASSIFY),
    "tokens": Task("tokens", "AutoModelForTokenClassification", encode_tagged, _token_loss, _token_weight,
                   _token_evaluate, lambda data: list(data.tag_names), "f1"),
    "qa": Task("qa", "AutoModelForQuestionAnswering", _span_encode, _span_loss, len, _span_evaluate,
               lambda data: [], "f1"),
}


def task_of(data) -> Task:
    """The task its data asks for: tagged sentences, questions, pairs or single texts."""
    from core.inputs.entities import TaggedSentences
    from core.inputs.questions import QuestionItems

    if isinstance(data, TaggedSentences):
        return BY_NAME["tokens"]
    if isinstance(data, QuestionItems):
        return BY_NAME["qa"]
    return BY_NAME["pairs" if getattr(data, "second", None) is not None else "sentences"]

