"""Sentences tagged word by word in BIO (named entities): built in, uploaded, or from the hub.

Uploads are CoNLL columns (a word and its tag on each line, the tag last, a blank line between
sentences) or JSON Lines `{"tokens": [...], "tags": [...]}`. The tag set is read from the
training file, so any BIO scheme works; an evaluation file with a tag the training file lacks
is refused with that tag named.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from core.inputs.rows import Rows

BUILTIN_ENTITIES = Path(__file__).resolve().parent.parent / "data" / "entities.jsonl"
ENTITY_TYPES = ("PER", "LOC", "ORG", "MISC")  # the built-in set, CoNLL-2003's
_TAG = re.compile(r"^(O|[BI]-[^\s]+)$")
# name -> (datasets path, config, words column, tags column, validation split)
HUB_ENTITIES = {"conll2003": ("eriktks/conll2003", None, "tokens", "ner_tags", "validation")}


@dataclass
class TaggedSentences(Rows):
    """Words per sentence and a tag id per word, indexing `tag_names` (the model's id2label)."""

    ROW_FIELDS = ("tokens", "tags")

    tokens: list[list[str]]
    tags: list[list[int]]
    tag_names: list[str]
    name: str = ""

    def tag_strings(self) -> list[list[str]]:
        return [[self.tag_names[t] for t in row] for row in self.tags]

    def entity_counts(self) -> dict[str, int]:
        """Entities per type (a B- tag, or an I- that starts a span, opens one)."""
        from seqeval.metrics.sequence_labeling import get_entities

        counts: dict[str, int] = {}
        for row in self.tag_strings():
            for kind, _, _ in get_entities(row):
                counts[kind] = counts.get(kind, 0) + 1
        return dict(sorted(counts.items()))


def order_tags(tags) -> list[str]:
    """O first, then each entity type's B- and I- tags, types in alphabetical order."""
    kinds = sorted({t[2:] for t in tags if t != "O"})
    return ["O", *[f"{p}-{k}" for k in kinds for p in "BI"]]


def _check_tag(tag: str, where: str) -> str:
    if not _TAG.match(tag):
        raise UserError(f"{where}: {tag!r} is not a BIO tag; tags are O, B-TYPE or I-TYPE (e.g. B-PER, I-LOC).")
    return tag


def _conll(text: str, name: str) -> list[tuple[list[str], list[str]]]:
    sentences, words, tags = [], [], []
    for number, line in enumerate(text.splitlines() + [""], 1):
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        if len(parts) < 2:
            raise UserError(f"{name}, line {number}: expected a word and its tag separated by a space or tab "
                            f"(CoNLL columns), found {line.strip()!r}.")
        words.append(parts[0])
        tags.append(_check_tag(parts[-1], f"{name}, line {number}"))
    return sentences


def _jsonl(text: str, name: str) -> list[tuple[list[str], list[str]]]:
    from core.inputs.jsonl import parse_jsonl

    sentences = []
    for number, row in parse_jsonl(text, name, {"tokens": list, "tags": list}):
        words, tags = [str(w) for w in row["tokens"]], [str(t) for t in row["tags"]]
        if not words or len(words) != len(tags):
            raise UserError(f"{name}, line {number}: 'tokens' and 'tags' need the same, non-zero length "
                            f"(found {len(words)} and {len(tags)}).")
        sentences.append((words, [_check_tag(t, f"{name}, line {number}") for t in tags]))
    return sentences


def parse_tagged(text: str, tag_names: list[str] | None = None, name: str = "The file") -> TaggedSentences:
    """Tagged sentences from CoNLL or JSONL text (told apart by the first character: `{` is JSONL)."""
    sentences = (_jsonl if text.lstrip().startswith("{") else _conll)(text, name)
    if not sentences:
        raise UserError(f"{name} has no tagged sentences.")
    seen = {t for _, tags in sentences for t in tags}
    if tag_names is None:
        tag_names = order_tags(seen)
        if len(tag_names) < 3:
            raise UserError(f"{name} has no entity tags (only 'O'): a tagger needs at least one B- tag.")
    unknown = sorted(seen - set(tag_names))
    if unknown:
        raise UserError(f"{name} has tag(s) {', '.join(map(repr, unknown[:5]))} that the training data never "
                        f"shows (it has {', '.join(tag_names)}): the tag sets must match.")
    index = {t: i for i, t in enumerate(tag_names)}
    return TaggedSentences([w for w, _ in sentences], [[index[t] for t in tags] for _, tags in sentences],
                           list(tag_names), name)


def read_tagged(data, tag_names: list[str] | None = None, name: str = "The file") -> TaggedSentences:
    """A user's tagged file (path or uploaded bytes), CoNLL or JSONL."""
    from core.inputs.jsonl import read_text

    return parse_tagged(read_text(data), tag_names, name)


def builtin_entities(split: str) -> TaggedSentences:
    """One split (train / validation / test) of the built-in entity sentences (core/data/DATA_CARD_entities.md)."""
    if not BUILTIN_ENTITIES.is_file():
        raise UserError("The built-in entity sentences are missing from this install (core/data/entities.jsonl).")
    rows = [json.loads(line) for line in BUILTIN_ENTITIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    part = [r for r in rows if r["split"] == split]
    if not part:
        raise UserError(f"The built-in entity sentences have no {split!r} split.")
    names = order_tags({f"{p}-{k}" for k in ENTITY_TYPES for p in "BI"})
    index = {t: i for i, t in enumerate(names)}
    return TaggedSentences([r["tokens"] for r in part], [[index[t] for t in r["tags"]] for r in part], names,
                           f"built-in entities ({split})")


def load_hub_entities(name: str, limit: int = 1000, seed: int = 0) -> tuple[TaggedSentences, TaggedSentences]:
    """(train, validation) of a hub NER dataset, `limit` random training sentences (needs internet)."""
    from core.inputs.datasets import hub_rows, open_hub_dataset

    if name not in HUB_ENTITIES:
        raise UserError(f"Unknown hub dataset {name!r}; choose one of {', '.join(HUB_ENTITIES)}.")
    path, config, words, tags, val_split = HUB_ENTITIES[name]
    loaded = open_hub_dataset(name, path, config)
    hub_names = list(loaded["train"].features[tags].feature.names)
    names = order_tags(hub_names)
    remap = [names.index(t) for t in hub_names]

    def take(split: str, n: int) -> TaggedSentences:
        rows = hub_rows(loaded, split, n, seed).filter(lambda r: len(r[words]) > 0)
        return TaggedSentences(list(rows[words]), [[remap[t] for t in r] for r in rows[tags]], names,
                               f"{name} ({split})")

    return take("train", limit), take(val_split, max(200, limit // 5))
