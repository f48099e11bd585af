"""The data of BERT's two pretraining games (Devlin et al. 2018, appendix A.1): sentence pairs
packed the way create_pretraining_data.py does, half of them with B from another document
(NotNext), and a collator that masks 15% of the tokens anew for every batch (80/10/10)."""
from __future__ import annotations

import random

import torch
from transformers import DataCollatorForLanguageModeling


IS_NEXT, NOT_NEXT = 0, 1  # BertForPreTraining's label convention


def tokenize_documents(documents: list[list[str]], tokenizer) -> list[list[list[int]]]:
    """Token ids (no special tokens) per sentence per document, tokenised once in a batch."""
    flat = [s for doc in documents for s in doc]
    ids = tokenizer(flat, add_special_tokens=False)["input_ids"]
    out, i = [], 0
    for doc in documents:
        out.append([s for s in ids[i:i + len(doc)] if s])
        i += len(doc)
    return [d for d in out if d]


def _truncate_pair(a: list[int], b: list[int], max_tokens: int, rng: random.Random) -> None:
    """Trim the longer segment, from a random end, until the pair fits (as BERT does)."""
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        del longer[0 if rng.random() < 0.5 else -1]


def _random_b(docs_ids, pool, doc, want: int, rng: random.Random) -> list[int]:
    """A NotNext segment B: from a random sentence of a document of `pool` other than `doc`, about
    `want` tokens of consecutive sentences."""
    other_doc = doc
    while other_doc is doc:  # any document of the group but this one
        other_doc = docs_ids[rng.choice(pool)]
    b = []
    for sentence in other_doc[rng.randrange(len(other_doc)):]:
        b.extend(sentence)
        if len(b) >= want:
            break
    return b


def _pair_example(a: list[int], b: list[int], label: int, cls: int, sep: int) -> dict:
    """[CLS] A [SEP] B [SEP] with its segment ids, special-token mask and NSP label."""
    return {"input_ids": [cls] + a + [sep] + b + [sep],
            "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
            "special_tokens_mask": [1] + [0] * len(a) + [1] + [0] * len(b) + [1],
            "next_sentence_label": label}


def make_pair_examples(docs_ids: list[list[list[int]]], tokenizer, max_length: int = 128,
                       short_seq_prob: float = 0.1, rng: random.Random | None = None,
                       groups: list[int] | None = None) -> list[dict]:
    """Sentence-pair examples with NSP labels, packed to `max_length` (call once per epoch).

    Each document is cut into chunks of whole sentences that fill the target length; a chunk is
    split at a random sentence boundary into A and B. Half of the time B is replaced by text
    from a random *other* document and the unused sentences are put back for the next chunk.
    `groups` (one label per document, e.g. its source) keeps that other document in the same
    group: on a mixed corpus a NotNext from another source also changes register (a manual
    after a dictionary), and the NSP head learns to spot the source instead of the topic.
    A document repeated to weigh its source up (the same list object) never pairs with itself.
    """
    rng = rng or random.Random(0)
    if len({id(doc) for doc in docs_ids}) < 2:
        raise ValueError("next-sentence prediction needs at least two documents")
    groups = groups or [0] * len(docs_ids)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    mixed = {g for g, m in members.items() if len({id(docs_ids[i]) for i in m}) >= 2}
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    max_tokens = max_length - 3  # [CLS] A [SEP] B [SEP]
    examples = []
    for d, doc in enumerate(docs_ids):
        target = max_tokens if rng.random() >= short_seq_prob else rng.randint(2, max_tokens)
        chunk, length, i = [], 0, 0
        while i < len(doc):
            chunk.append(doc[i])
            length += len(doc[i])
            if i == len(doc) - 1 or length >= target:
                split = len(chunk) == 1 and len(chunk[0]) >= 2
                if split:  # a lone sentence: A and B are its two halves (keeps labels 50/50)
                    cut = rng.randint(1, len(chunk[0]) - 1)
                    chunk = [chunk[0][:cut], chunk[0][cut:]]
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                a = [t for s in chunk[:a_end] for t in s]
                if len(chunk) == 1 or rng.random() < 0.5:
                    label = NOT_NEXT
                    pool = members[groups[d]] if groups[d] in mixed else range(len(docs_ids))
                    b = _random_b(docs_ids, pool, doc, target - len(a), rng)
                    if not split:
                        i -= len(chunk) - a_end  # the sentences not used as A start the next chunk
                else:
                    label = IS_NEXT
                    b = [t for s in chunk[a_end:] for t in s]
                _truncate_pair(a, b, max_tokens, rng)
                if a and b:
                    examples.append(_pair_example(a, b, label, cls, sep))
                chunk, length = [], 0
            i += 1
    rng.shuffle(examples)
    return examples


class PretrainingCollator(DataCollatorForLanguageModeling):
    """Pads pair examples and masks them anew on every call (dynamic masking, 80/10/10).

    Whole-word masking in transformers needs character offsets; for pre-tokenised ids they are
    synthesised from WordPiece's '##' continuation marks (a new word leaves a gap of one). With
    it, transformers replaces every chosen word by [MASK]s (no 10% random / 10% unchanged).
    """

    def torch_call(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        n = max(len(e["input_ids"]) for e in examples)

        def pad(key: str, value: int) -> torch.Tensor:
            return torch.tensor([e[key] + [value] * (n - len(e[key])) for e in examples])

        input_ids = pad("input_ids", self.tokenizer.pad_token_id)  # (B, T)
        special = pad("special_tokens_mask", 1)
        offsets = None
        if self.whole_word_mask:
            continuation = torch.tensor(_continuation_flags(self.tokenizer))[input_ids]  # (B, T)
            starts = torch.arange(n) + torch.cumsum((~continuation).long(), dim=1)
            offsets = torch.stack([starts, starts + 1], dim=-1)  # (B, T, 2)
        attention_mask = pad("input_ids", -1) != -1
        masked, labels = self.torch_mask_tokens(input_ids.clone(), special, offsets)
        return {
            "input_ids": masked,
            "attention_mask": attention_mask.long(),
            "token_type_ids": pad("token_type_ids", 0),
            "labels": labels,
            "next_sentence_label": torch.tensor([e["next_sentence_label"] for e in examples]),
        }


_CONTINUATION: dict[int, list[bool]] = {}


def _continuation_flags(tokenizer) -> list[bool]:
    """Per vocabulary id: is it a '##' word-piece continuation? (cached per tokenizer)"""
    key = id(tokenizer)
    if key not in _CONTINUATION:
        vocab = tokenizer.get_vocab()
        flags = [False] * (max(vocab.values()) + 1)
        for token, i in vocab.items():
            flags[i] = token.startswith("##")
        _CONTINUATION[key] = flags
    return _CONTINUATION[key]
