"""The metrics the literature reports, computed offline: entity-level scores with seqeval (the
CoNLL-2003 evaluation) and SQuAD v1's exact match and F1 (the official script's normalisation;
`evaluate.load("squad")` would fetch the same script from the hub)."""
from __future__ import annotations

import collections
import re
import string


def entity_scores(true_tags: list[list[str]], predicted_tags: list[list[str]]) -> dict:
    """Micro precision / recall / F1 over whole entities (a span counts only if its type and both
    ends are right), word accuracy, and the same three per entity type with its support."""
    from seqeval.metrics import accuracy_score, classification_report, f1_score, precision_score, recall_score

    report = classification_report(true_tags, predicted_tags, output_dict=True, zero_division=0)
    per_type = {kind: {"precision": float(r["precision"]), "recall": float(r["recall"]), "f1": float(r["f1-score"]),
                       "support": int(r["support"])}
                for kind, r in report.items() if not kind.endswith(" avg")}
    return {"precision": float(precision_score(true_tags, predicted_tags, zero_division=0)),
            "recall": float(recall_score(true_tags, predicted_tags, zero_division=0)),
            "f1": float(f1_score(true_tags, predicted_tags, zero_division=0)),
            "accuracy": float(accuracy_score(true_tags, predicted_tags)), "per_type": per_type}


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles (a, an, the), single spaces."""
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact_match(prediction: str, golds: list[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer."""
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def answer_f1(prediction: str, golds: list[str]) -> float:
    """The best word-overlap F1 against the gold answers (bag of normalised words)."""
    def f1(gold: str) -> float:
        pred_words, gold_words = normalize_answer(prediction).split(), normalize_answer(gold).split()
        common = sum((collections.Counter(pred_words) & collections.Counter(gold_words)).values())
        if not pred_words or not gold_words:
            return float(pred_words == gold_words)
        if common == 0:
            return 0.0
        precision, recall = common / len(pred_words), common / len(gold_words)
        return 2 * precision * recall / (precision + recall)

    return max(f1(g) for g in golds)


def squad_scores(predictions: list[str], golds: list[list[str]]) -> dict:
    """Mean exact match and F1 over questions, as fractions (SQuAD prints them times 100)."""
    n = max(1, len(predictions))
    return {"exact_match": sum(exact_match(p, g) for p, g in zip(predictions, golds)) / n,
            "f1": sum(answer_f1(p, g) for p, g in zip(predictions, golds)) / n}
