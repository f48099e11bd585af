"""Is an explanation faithful? Delete the words it ranks highest and watch the probability.

For a ranking of the words (by one explainer, or at random as the floor) and k = the top
fraction q of the words, with f the target's probability:

- comprehensiveness(q) = f(x) - f(x without the top k)   (high: the top words were needed)
- sufficiency(q)       = f(x) - f(only the top k)        (low: the top words were enough)

each averaged over ERASER's fractions q in {1, 5, 10, 20, 50%} (AOPC, DeYoung et al. 2020). An attention map that scores no better than random order is a
picture, not an explanation: this module measures that instead of assuming it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import UserError
from core.explain.attributions import METHODS, Explanation, explain
from core.explain.targets import choose_target, probabilities, require_classifier

BINS = (0.01, 0.05, 0.1, 0.2, 0.5)
RANDOM = "random"
RANDOM_ORDERS = 5  # random rankings averaged for the floor
MAX_CURVE = 10  # deletion curves go up to this many words


def top_k(q: float, n_words: int) -> int:
    return min(n_words, max(1, round(q * n_words)))


def rankings(explanation: Explanation, seed: int = 0) -> dict[str, list[list[int]]]:
    """Word orders, most important first: one per method, RANDOM_ORDERS for the random floor.

    The masked word of a masked-word target is never removed.
    """
    candidates = [i for i in range(len(explanation.words)) if i not in explanation.fixed]
    orders = {m: [sorted(candidates, key=lambda i: -s[i])] for m, s in explanation.scores.items()}
    rng = np.random.default_rng(seed)
    orders[RANDOM] = [list(rng.permutation(candidates)) for _ in range(RANDOM_ORDERS)]
    return orders


@dataclass
class SentenceFaithfulness:
    comprehensiveness: dict[str, float]  # method -> AOPC
    sufficiency: dict[str, float]
    curves: dict[str, list[float]]  # method -> probability after deleting the top 0, 1, ... words


def sentence_faithfulness(loaded, explanation: Explanation, seed: int = 0) -> SentenceFaithfulness:
    """Deletion curves and AOPC scores of every method of `explanation`, random order included,
    from one batch of forward passes."""
    words, full = explanation.words, explanation.probability
    orders = rankings(explanation, seed)
    n = len(orders[RANDOM][0])
    if n == 0:
        raise UserError("There are no words to remove in this sentence.")
    ks = [top_k(q, n) for q in BINS]
    curve_ks = list(range(1, min(n, MAX_CURVE) + 1))
    texts, where = [], {}
    for method, method_orders in orders.items():
        for r, order in enumerate(method_orders):
            for kind, k in [("without", k) for k in sorted(set(ks + curve_ks))] + [("only", k) for k in set(ks)]:
                where[(method, r, kind, k)] = len(texts)
                texts.append(words.without(order[:k]) if kind == "without"
                             else words.only([*order[:k], *explanation.fixed]))
    p = probabilities(loaded, explanation.target, texts)

    def mean_over_orders(method, kind, k):
        return float(np.mean([p[where[(method, r, kind, k)]] for r in range(len(orders[method]))]))

    comp = {m: float(np.mean([full - mean_over_orders(m, "without", k) for k in ks])) for m in orders}
    suff = {m: float(np.mean([full - mean_over_orders(m, "only", k) for k in ks])) for m in orders}
    curves = {m: [full] + [mean_over_orders(m, "without", k) for k in curve_ks] for m in orders}
    return SentenceFaithfulness(comp, suff, curves)


@dataclass
class DatasetFaithfulness:
    """Mean AOPC per method over `n` texts, each explained for the label the model predicted."""

    n: int
    comprehensiveness: dict[str, float]
    sufficiency: dict[str, float]
    comprehensiveness_se: dict[str, float]  # standard errors of the means

    def table(self) -> list[dict]:
        """Rows sorted from the most comprehensive method down."""
        rows = [{"method": m, "comprehensiveness": self.comprehensiveness[m],
                 "± (s.e.)": self.comprehensiveness_se[m], "sufficiency": self.sufficiency[m]}
                for m in self.comprehensiveness]
        return sorted(rows, key=lambda r: -r["comprehensiveness"])

    def to_json(self) -> dict:
        return {"n": self.n, "methods": {r.pop("method"): r for r in self.table()}}


def dataset_faithfulness(loaded, texts: list[str], methods=METHODS, steps: int = 50, baseline: str = "pad",
                         reporter=None, seed: int = 0) -> DatasetFaithfulness:
    """Which explainer is most faithful for this classifier, over `texts` (cancellable through `reporter`)."""
    require_classifier(loaded)
    if not texts:
        raise UserError("There are no texts to measure faithfulness on.")
    comp: dict[str, list[float]] = {}
    suff: dict[str, list[float]] = {}
    skipped = 0
    for i, text in enumerate(texts):
        if reporter is not None:
            reporter.check_cancelled()
            reporter.report(i / len(texts), f"Explaining text {i + 1} of {len(texts)}…")
        try:
            target = choose_target(loaded, text)  # the label it predicts for the text as explained
            result = sentence_faithfulness(loaded, explain(loaded, text, target, methods, steps, baseline), seed + i)
        except UserError:  # a text with no words to remove: counted, not fatal
            skipped += 1
            continue
        for m in result.comprehensiveness:
            comp.setdefault(m, []).append(result.comprehensiveness[m])
            suff.setdefault(m, []).append(result.sufficiency[m])
    if not comp:
        raise UserError("None of these texts has words to remove, so faithfulness cannot be measured.")
    if reporter is not None:
        reporter.report(1.0, f"Measured {len(texts)} texts.")
    return DatasetFaithfulness(
        len(texts) - skipped, {m: float(np.mean(v)) for m, v in comp.items()}, {m: float(np.mean(v)) for m, v in suff.items()},
        {m: float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0 for m, v in comp.items()})
