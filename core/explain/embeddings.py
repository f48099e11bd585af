"""What a token's vector is made of, and how it changes with context.

BERT's first step is a lookup: the token's row, its segment's row and its position's row are
added, then LayerNorm-ed. `decompose` redoes that sum from the model's own tables and keeps the
model's own output beside it, so a page can show the pieces *and* prove they add up. Each
architecture is handled as it really is:

- BERT, ALBERT: token + segment + position.
- DistilBERT: no segment table at all (token + position).
- RoBERTa: one segment row shared by every token; position ids start at padding_idx + 1.
- ALBERT: the tables are `embedding_size` wide (128 in albert-base); a linear layer projects the
  LayerNorm output to the hidden size before layer 1, shown as its own step.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch
from sklearn.decomposition import PCA

from core.errors import UserError
from core.explain.tokens import tokenize
from core.models.arch import embedding_tables, position_ids


def segment_ids(loaded, inputs: dict) -> torch.Tensor:
    """The segment (token type) ids the model reads: zeros when the tokenizer gives none."""
    ids = inputs.get("token_type_ids")
    return ids if ids is not None else torch.zeros_like(inputs["input_ids"])


def has_segment_table(loaded) -> bool:
    return getattr(embedding_tables(loaded), "token_type_embeddings", None) is not None


@dataclass
class InputEmbeddings:
    """Each token's input vector, piece by piece (numpy arrays, one row per token)."""

    tokens: list[str]
    token: np.ndarray
    segment: np.ndarray | None  # None: the model has no segment table (DistilBERT)
    position: np.ndarray
    summed: np.ndarray
    normed: np.ndarray  # LayerNorm(summed), recomputed here
    model_output: np.ndarray  # what the model's own embedding layer returns
    projected: np.ndarray | None  # ALBERT: normed projected to the hidden size, else None
    segment_ids: list[int]
    position_ids: list[int]

    @property
    def max_error(self) -> float:
        """Largest gap between our recomputed sum and the model's own embedding output."""
        return float(np.abs(self.normed - self.model_output).max())


@torch.no_grad()
def decompose(loaded, encoded) -> InputEmbeddings:
    """Split the embedding layer's output for `encoded` (core.inputs.text.Encoded) into its sources."""
    emb = embedding_tables(loaded)
    ids = encoded.inputs["input_ids"]
    pos = position_ids(loaded, ids)
    seg = segment_ids(loaded, encoded.inputs)
    token = emb.word_embeddings(ids)
    position = emb.position_embeddings(pos)
    segment = emb.token_type_embeddings(seg) if has_segment_table(loaded) else None
    summed = token + position + (segment if segment is not None else 0)
    normed = emb.LayerNorm(summed)
    own_kwargs = {"input_ids": ids}
    if segment is not None:
        own_kwargs["token_type_ids"] = seg
    model_output = emb(**own_kwargs)  # eval mode: dropout is off
    mapping = getattr(getattr(loaded.encoder, "encoder", None), "embedding_hidden_mapping_in", None)

    def rows(t):
        return t[0].float().cpu().numpy()

    return InputEmbeddings(
        tokens=encoded.tokens,
        token=rows(token),
        segment=rows(segment) if segment is not None else None,
        position=rows(position),
        summed=rows(summed),
        normed=rows(normed),
        model_output=rows(model_output),
        projected=rows(mapping(normed)) if mapping is not None else None,
        segment_ids=seg[0].tolist(),
        position_ids=pos[0].tolist(),
    )


def cosine_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarity between every row of `a` and every row of `b` (default: `a`)."""
    b = a if b is None else b
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return an @ bn.T


@torch.no_grad()
def position_similarity(loaded, n: int = 64) -> tuple[np.ndarray, list[int]]:
    """Cosine similarity of the first `n` position rows the model uses, and their ids.

    Learned positions end up smooth: neighbouring rows are alike, so the model can tell
    "near" from "far" without being told what a distance is.
    """
    table = embedding_tables(loaded).position_embeddings.weight
    not_padding = torch.tensor([[loaded.tokenizer.cls_token_id or 0]], device=table.device)
    first = int(position_ids(loaded, not_padding)[0, 0])  # RoBERTa: padding_idx + 1
    n = max(1, min(n, table.shape[0] - first))
    rows = table[first:first + n].float().cpu().numpy()
    return cosine_matrix(rows), list(range(first, first + n))


@dataclass
class SentenceStates:
    """Every layer's vector for every token of one sentence (layer 0 = the embedding output)."""

    sentence: str
    tokens: list[str]
    spans: list[tuple[int, int] | None]  # characters of the sentence each token stands for
    states: np.ndarray  # (layers + 1, tokens, hidden)

    @property
    def special(self) -> list[bool]:
        return [span is None for span in self.spans]
    states: np.ndarray  # (layers + 1, tokens, hidden)


@torch.no_grad()
def sentence_states(loaded, sentence: str) -> SentenceStates:
    tokenized = tokenize(loaded, sentence)
    out = loaded.encoder(**tokenized.encoded.inputs, output_hidden_states=True)
    states = torch.stack(out.hidden_states)[:, 0].float().cpu().numpy()
    return SentenceStates(
        sentence=sentence.strip(),
        tokens=tokenized.tokens,
        spans=[None if p.kind == "special" else (p.start, p.end) for p in tokenized.pieces],
        states=states,
    )


def tokens_of_word(sentence: str, spans, word: str) -> list[int]:
    """Indices of the tokens (by their character `spans`; None for specials) covering `word`'s first
    occurrence in `sentence`.

    The word is found in the text itself (whole word, any case), so it works the same whether a
    tokenizer keeps punctuation apart (WordPiece, BPE) or not (SentencePiece: "bank.").
    """
    found = re.search(rf"(?<!\w){re.escape(word.strip())}(?!\w)", sentence, re.IGNORECASE)
    rows = [i for i, span in enumerate(spans)
            if found and span is not None and span[0] < found.end() and span[1] > found.start()]
    if not rows:
        raise UserError(f"The word '{word.strip()}' is not in the sentence “{sentence}”.")
    return rows


def word_vectors(states: SentenceStates, word: str) -> np.ndarray:
    """(layers + 1, hidden): the mean of the tokens covering `word`'s first occurrence, per layer."""
    return states.states[:, tokens_of_word(states.sentence, states.spans, word)].mean(axis=1)


@dataclass
class ContextComparison:
    """How alike one word's vectors are across sentences, layer by layer."""

    word: str
    sentences: list[str]
    pairs: list[tuple[int, int]]
    similarity: np.ndarray  # (pairs, layers + 1) cosine similarity


def compare_in_context(states: list[SentenceStates], word: str) -> ContextComparison:
    """Cosine similarity of `word`'s vector in each pair of sentences, at every layer."""
    word = (word or "").strip()
    if not word:
        raise UserError("Type the word to follow, e.g. 'bank'.")
    if len(states) < 2:
        raise UserError("Give at least two sentences that contain the word, one per line.")
    vectors = [word_vectors(s, word) for s in states]
    pairs = list(combinations(range(len(states)), 2))
    sims = np.array([
        [cosine_matrix(vectors[i][layer:layer + 1], vectors[j][layer:layer + 1])[0, 0]
         for layer in range(vectors[0].shape[0])]
        for i, j in pairs
    ])
    return ContextComparison(word, [s.sentence for s in states], pairs, sims)


@dataclass
class Projection:
    """Tokens of several sentences at one layer, projected to 2-D by PCA."""

    points: np.ndarray  # (tokens, 2)
    tokens: list[str]
    sentence_index: list[int]
    explained: list[float]  # share of variance along each axis
    layer: int


def project_tokens(states: list[SentenceStates], layer: int, include_special: bool = False) -> Projection:
    """PCA of the tokens' vectors at `layer` (0 = embedding output), sentences pooled."""

    if not states:
        raise UserError("Give at least one sentence to project.")
    if not 0 <= layer < states[0].states.shape[0]:
        raise UserError(f"This model has layers 0 to {states[0].states.shape[0] - 1}.")
    rows, tokens, index = [], [], []
    for i, ss in enumerate(states):
        keep = [t for t in range(len(ss.tokens)) if include_special or not ss.special[t]]
        rows.append(ss.states[layer, keep])
        tokens += [ss.tokens[t] for t in keep]
        index += [i] * len(keep)
    matrix = np.concatenate(rows)
    if matrix.shape[0] < 3:
        raise UserError("PCA needs at least three tokens: add words or sentences.")
    pca = PCA(n_components=2)
    points = pca.fit_transform(matrix)
    return Projection(points, tokens, index, pca.explained_variance_ratio_.tolist(), layer)
