"""Many sentences through the encoder at once: every layer's vector for every token, one row each.

The projector, the probes and the neighbour index all read the same thing — a table of tokens
(special tokens left out) with their vector at every layer (layer 0 = the embedding output) — so
it is computed here once, in batches of sentences of similar length (little padding), with
progress and cancel between batches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from core.errors import UserError
from core.explain.words import Words, split_words, token_words
from core.inputs.text import check_vocabulary, model_inputs
from core.progress import Reporter, SilentReporter

MAX_TOKENS = 128  # per sentence: corpora of short sentences, cut (with a count) beyond this
BATCH_SIZE = 32
BATCH_TOKENS = 2048  # and at most this many (padded) tokens a batch: every layer's vectors of a batch
# are held at once, so long sentences come in smaller batches (7 x 2048 x 384 floats = 22 MB for MiniLM)


@dataclass
class SentenceRows:
    """One sentence's tokens (special tokens left out) and their vectors at every layer."""

    index: int  # the sentence's position in the input list
    tokens: list[str]
    word: list[int]  # which word of the sentence each token spells
    spans: list[tuple[int, int]]  # characters of the sentence each token stands for
    states: np.ndarray  # (layers + 1, tokens, hidden) float32
    cls: np.ndarray  # (layers + 1, hidden): the first token ([CLS] or <s>) at every layer
    truncated: bool


def clean_sentences(sentences, limit: int) -> tuple[list[str], list[str]]:
    """Non-empty stripped lines, at most `limit` of them; and notes on what was dropped."""
    kept = [s.strip() for s in sentences if s and s.strip()]
    if not kept:
        raise UserError("Type at least one sentence (one per line).")
    notes = [f"Only the first {limit} of your {len(kept)} sentences are used."] if len(kept) > limit else []
    return kept[:limit], notes


def _batches(loaded, sentences: list[str], batch_size: int) -> tuple[list[list[int]], list[int]]:
    """Sentence indices grouped by length, so a batch pads little (padding is computed like any token);
    and each sentence's full length."""
    lengths = [len(ids) for ids in loaded.tokenizer(sentences, add_special_tokens=True)["input_ids"]]
    limit = min(MAX_TOKENS, loaded.max_length)
    batches: list[list[int]] = []
    for i in sorted(range(len(sentences)), key=lengths.__getitem__):
        # A new batch when it is full (in sentences or padded tokens: this sentence is its longest)
        # or this sentence would pad the first by over a quarter.
        if not batches or len(batches[-1]) == batch_size or (len(batches[-1]) + 1) * min(lengths[i], limit) > \
                BATCH_TOKENS or lengths[i] > 1.25 * lengths[batches[-1][0]] + 4:
            batches.append([])
        batches[-1].append(i)
    return batches, lengths


@torch.inference_mode()
def sentence_rows(loaded, sentences: list[str], batch_size: int = BATCH_SIZE,
                  reporter: Reporter | None = None) -> Iterator[SentenceRows]:
    """Yield every sentence's rows (in length order, not input order), one batched forward pass at a time."""
    reporter = reporter or SilentReporter()
    limit = min(MAX_TOKENS, loaded.max_length)
    batches, lengths = _batches(loaded, sentences, batch_size)
    encoded = 0
    for done, batch in enumerate(batches):
        reporter.check_cancelled()
        texts = [sentences[i] for i in batch]
        enc = loaded.tokenizer(texts, padding=True, truncation=True, max_length=limit,
                               return_offsets_mapping=True, return_token_type_ids=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping").tolist()
        check_vocabulary(loaded, enc["input_ids"])
        inputs = model_inputs(loaded, enc)
        out = loaded.encoder(**inputs, output_hidden_states=True)
        hidden = torch.stack(out.hidden_states).float().cpu().numpy()  # (L+1, B, T, H)
        mask = inputs["attention_mask"].cpu().numpy().astype(bool)
        for b, i in enumerate(batch):
            spans = [tuple(o) if m else (0, 0) for o, m in zip(offsets[b], mask[b])]
            owner = token_words(spans, split_words(sentences[i]))
            keep = [t for t, w in enumerate(owner) if w is not None]
            ids = inputs["input_ids"][b].tolist()
            yield SentenceRows(
                index=i,
                tokens=loaded.tokenizer.convert_ids_to_tokens([ids[t] for t in keep]),
                word=[owner[t] for t in keep],
                spans=[spans[t] for t in keep],
                states=hidden[:, b, keep],  # a copy (a list index): the batch's array is not kept alive
                cls=hidden[:, b, 0].copy(),  # a copy too: a view would keep the whole padded batch
                truncated=lengths[i] > limit,
            )
        encoded += len(batch)
        every = max(1, len(batches) // 10)  # a line per tenth: the CLI prints each message
        reporter.report(encoded / len(sentences), None if (done + 1) % every and done + 1 < len(batches) else
                        f"Encoded {encoded} of {len(sentences)} sentences")


@dataclass
class TokenTable:
    """Tokens of many sentences, one row each, with their vector at every layer (layer 0 = embeddings)."""

    sentences: list[str]
    sentence: np.ndarray  # (N,) the sentence each row comes from
    word: np.ndarray  # (N,) the word of that sentence the token spells
    first: np.ndarray  # (N,) bool: the word's first piece (where word-level labels go)
    tokens: list[str]
    spans: np.ndarray  # (N, 2) characters of its sentence
    states: np.ndarray  # (layers + 1, N, hidden) float32
    cls: np.ndarray  # (layers + 1, sentences, hidden)
    notes: list[str]

    @property
    def n_layers(self) -> int:
        """Layers including the embedding output (layer 0)."""
        return self.states.shape[0]

    def words_of(self, s: int) -> Words:
        return split_words(self.sentences[s])

    def word_text(self, row: int) -> str:
        """The whole word row `row` is a piece of."""
        words = self.words_of(int(self.sentence[row]))
        return words.words[int(self.word[row])]

    def context(self, row: int, width: int = 60) -> str:
        """The sentence around the token, the token in ⟦ ⟧ (for hover text)."""
        text, (start, end) = self.sentences[int(self.sentence[row])], self.spans[row]
        left, right = text[max(0, start - width):start], text[end:end + width]
        return f"{'…' if start > width else ''}{left}⟦{text[start:end]}⟧{right}{'…' if end + width < len(text) else ''}"


def token_table(loaded, sentences: list[str], batch_size: int = BATCH_SIZE,
                reporter: Reporter | None = None) -> TokenTable:
    """Every token of `sentences` at every layer, rows in sentence order."""
    if not sentences:
        raise UserError("Type at least one sentence (one per line).")
    found = sorted(sentence_rows(loaded, sentences, batch_size, reporter), key=lambda r: r.index)
    if not any(r.tokens for r in found):
        raise UserError("These sentences have no words to look at.")
    firsts = [[k == 0 or r.word[k] != r.word[k - 1] for k in range(len(r.word))] for r in found]
    cut = sum(r.truncated for r in found)
    return TokenTable(
        sentences=list(sentences),
        sentence=np.concatenate([np.full(len(r.tokens), r.index) for r in found]).astype(int),
        word=np.concatenate([np.asarray(r.word, dtype=int) for r in found]),
        first=np.concatenate([np.asarray(f, dtype=bool) for f in firsts]),
        tokens=[t for r in found for t in r.tokens],
        spans=np.concatenate([np.asarray(r.spans, dtype=int).reshape(-1, 2) for r in found]),
        states=np.concatenate([r.states for r in found], axis=1),
        cls=np.stack([r.cls for r in found], axis=1),
        notes=[f"{cut} sentence(s) were longer than {min(MAX_TOKENS, loaded.max_length)} tokens and were cut."]
        if cut else [],
    )


def first_token_vectors(loaded, sentences: list[str], batch_size: int = BATCH_SIZE,
                        reporter: Reporter | None = None) -> np.ndarray:
    """(layers + 1, sentences, hidden): the first token ([CLS] or <s>) of every sentence at every
    layer, without keeping the other tokens' vectors (a sentence probe's whole input, ~1/20 of a table)."""
    out = None
    for rows in sentence_rows(loaded, sentences, batch_size, reporter):
        if out is None:
            out = np.empty((rows.cls.shape[0], len(sentences), rows.cls.shape[1]), dtype=np.float32)
        out[:, rows.index] = rows.cls
    if out is None:
        raise UserError("Type at least one sentence (one per line).")
    return out


def check_layer(layer: int, n_layers: int) -> int:
    """`layer` if this model has it (0 = embeddings … n_layers - 1), else a UserError."""
    if not 0 <= int(layer) < n_layers:
        raise UserError(f"Layer {layer} does not exist: this model has layers 0 (embeddings) to {n_layers - 1}.")
    return int(layer)
