"""Linear probes by layer: how well a logistic regression reads a property off the frozen vectors.

Tenney et al. (2019) found part of speech decodable best in BERT's lower-middle layers. But a
probe that scores well may have *memorised* word types rather than read syntax, so Hewitt & Liang
(2019) pair each task with a **control task**: every word type gets a random tag, fixed for the
type and drawn from the real tags' distribution. A probe can only learn it by memorising types;
**selectivity** = task accuracy - control accuracy says how much of the score is the layer's own.

- `pos`: universal part-of-speech tag of each word (its first piece's vector), NLTK's tagger.
- `control`: the control tags of the same words.
- `sentiment`: the review's label from the first token ([CLS]) of the built-in dataset.

Train and test are split by sentence, so no sentence is seen twice; the majority baseline is the
test accuracy of always answering the training set's most frequent label.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core.errors import UserError
from core.inputs.datasets import builtin_sentiment
from core.layers.pos import table_tags
from core.layers.states import first_token_vectors, token_table
from core.progress import Reporter, SilentReporter, SubProgress

TASKS = ("pos", "control", "sentiment")
WORD_TASKS = ("pos", "control")
DEFAULT_WORDS = 3000
MAX_WORDS = 20_000
TEST_SHARE = 0.25


@dataclass
class ProbeResult:
    """Test accuracy of one task's probe at every layer (0 = embeddings) and the majority baseline."""

    task: str
    accuracy: list[float]
    majority: float
    n_train: int
    n_test: int
    classes: int
    notes: list[str] = field(default_factory=list)

    @property
    def layers(self) -> list[int]:
        return list(range(len(self.accuracy)))

    def to_json(self) -> dict:
        return {"task": self.task, "layers": self.layers, "accuracy": [round(a, 4) for a in self.accuracy],
                "majority": round(self.majority, 4), "n_train": self.n_train, "n_test": self.n_test,
                "classes": self.classes}


def selectivity(results: dict[str, ProbeResult]) -> list[float] | None:
    """POS accuracy minus control accuracy at every layer (None unless both ran)."""
    if not all(t in results for t in WORD_TASKS):
        return None
    return [round(p - c, 4) for p, c in zip(results["pos"].accuracy, results["control"].accuracy)]


def control_tags(words: list[str], tags: np.ndarray, seed: int = 0) -> np.ndarray:
    """One random tag per word type (lowercased), drawn from the real tags' frequencies, fixed per type."""
    rng = np.random.default_rng(seed)
    labels, counts = np.unique(tags, return_counts=True)
    types = sorted({w.lower() for w in words})
    drawn = dict(zip(types, rng.choice(labels, size=len(types), p=counts / counts.sum())))
    return np.array([drawn[w.lower()] for w in words], dtype=object)


def sentence_split(sentences: list[str], seed: int = 0) -> np.ndarray:
    """A boolean mask over sentences: True = test. Equal sentences fall on the same side."""
    unique, which = np.unique(np.asarray(sentences, dtype=object), return_inverse=True)
    test = np.zeros(len(unique), dtype=bool)
    order = np.random.default_rng(seed).permutation(len(unique))
    test[order[:max(1, round(len(unique) * TEST_SHARE))]] = True
    return test[which]


def fit_layers(features: np.ndarray, labels: np.ndarray, test: np.ndarray, task: str,
               reporter: Reporter) -> ProbeResult:
    """One standardised logistic regression per layer; `features` is (layers + 1, n, hidden)."""
    train_labels, test_labels = labels[~test], labels[test]
    if len(set(train_labels)) < 2 or len(test_labels) == 0:
        raise UserError(f"Too little data for the {task} probe: give more (and more varied) sentences.")
    values, counts = np.unique(train_labels, return_counts=True)
    majority = float(np.mean(test_labels == values[counts.argmax()]))
    accuracy = []
    for layer in range(features.shape[0]):
        reporter.check_cancelled()
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
        probe.fit(features[layer][~test], train_labels)
        accuracy.append(float(probe.score(features[layer][test], test_labels)))
        reporter.report((layer + 1) / features.shape[0], f"{task} probe: layer {layer} of {features.shape[0] - 1}")
    return ProbeResult(task, accuracy, majority, int((~test).sum()), int(test.sum()), len(values))


def builtin_sentences(n_words: int) -> list[str]:
    """Built-in reviews, in order, until they hold `n_words` words."""
    sentences, total = [], 0
    for split in ("train", "validation", "test"):
        for text in builtin_sentiment(split).texts:
            if total >= n_words:
                return sentences
            sentences.append(text)
            total += len(text.split())
    return sentences


def word_probes(loaded, tasks, sentences: list[str], reporter: Reporter, seed: int = 0) -> dict[str, ProbeResult]:
    """POS and/or control probes on the words of `sentences` (each word read at its first piece)."""
    table = token_table(loaded, sentences, reporter=SubProgress(reporter, 0, 0.3))
    rows = np.flatnonzero(table.first)
    tags = table_tags(table)[rows]
    words = [table.word_text(r) for r in rows]
    features = table.states[:, rows]
    test = sentence_split(sentences, seed)[table.sentence[rows]]
    labels = {"pos": tags, "control": control_tags(words, tags, seed)}
    share = 0.7 / len(tasks)
    return {task: fit_layers(features, labels[task], test, task,
                             SubProgress(reporter, 0.3 + i * share, 0.3 + (i + 1) * share))
            for i, task in enumerate(tasks)}


def sentiment_probe(loaded, reporter: Reporter) -> ProbeResult:
    """The built-in reviews' label (train split -> test split) from the first token's vector at every layer."""
    train, test = builtin_sentiment("train"), builtin_sentiment("test")
    vectors = first_token_vectors(loaded, train.texts + test.texts, reporter=SubProgress(reporter, 0, 0.5))
    is_test = np.arange(vectors.shape[1]) >= len(train)
    return fit_layers(vectors, np.array(train.labels + test.labels), is_test, "sentiment",
                      SubProgress(reporter, 0.5, 1))


def run_probes(loaded, tasks=TASKS, n_words: int = DEFAULT_WORDS, sentences: list[str] | None = None,
               reporter: Reporter | None = None, seed: int = 0) -> dict[str, ProbeResult]:
    """The probes of `tasks` on `loaded`: word tasks on `sentences` (default: built-in reviews
    holding `n_words` words), sentiment on the built-in dataset."""
    reporter = reporter or SilentReporter()
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise UserError(f"Probe tasks are {', '.join(TASKS)}; got {', '.join(unknown) or 'none'}.")
    if not 100 <= n_words <= MAX_WORDS:
        raise UserError(f"Probe on 100 to {MAX_WORDS:,} words, not {n_words:,}.")
    if sentences is not None and "sentiment" in tasks:
        raise UserError("The sentiment probe needs labels: it always uses the built-in reviews. "
                        "Probe your own sentences with --task pos or control.")
    word_tasks = [t for t in TASKS if t in tasks and t in WORD_TASKS]
    share = len(word_tasks) / (len(word_tasks) + ("sentiment" in tasks))  # of the progress bar
    results = {}
    if word_tasks:
        results |= word_probes(loaded, word_tasks, sentences or builtin_sentences(n_words),
                               SubProgress(reporter, 0, share), seed)
    if "sentiment" in tasks:
        results["sentiment"] = sentiment_probe(loaded, SubProgress(reporter, share, 1))
    return results
