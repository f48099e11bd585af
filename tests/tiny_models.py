"""Tiny random BERT-family models saved to folders, so tests run offline on every architecture."""
from __future__ import annotations

import json
import random
from pathlib import Path

CORPUS = [
    "the cat sat on the mat .",
    "a dog ran in the park and the cat watched .",
    "paris is the capital of france .",
    "the river bank was muddy after the rain .",
    "she went to the bank to get some money .",
    "i loved this film , it was wonderful .",
    "the food was cold and the service was slow .",
    "students learn how attention works in transformers .",
    "the quick brown fox jumps over the lazy dog .",
    "we are playing with models that read sentences .",
] * 3
WORDS = sorted({w for line in CORPUS for w in line.split()})
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
             max_position_embeddings=64)


def _wordpiece_vocab() -> list[str]:
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'")
    pieces = BERT_SPECIALS + WORDS + chars + ["##" + c for c in chars] + ["##s", "##ing", "##ed"]
    return list(dict.fromkeys(pieces))  # ids must be unique: ".", "," and "a" are words and chars


def make_bert(folder: Path, arch: str = "bert", seed: int = 0) -> Path:
    """Save a tiny random model of `arch` (bert, distilbert, roberta, albert) with its tokenizer."""
    import torch
    from transformers import (AlbertConfig, AlbertForPreTraining, BertConfig, BertForPreTraining,
                              BertTokenizer, DistilBertConfig, DistilBertForMaskedLM,
                              DistilBertTokenizer, RobertaConfig, RobertaForMaskedLM)

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    if arch in ("bert", "distilbert"):
        vocab = folder / "vocab.txt"
        vocab.write_text("\n".join(_wordpiece_vocab()) + "\n")
        tok_cls = BertTokenizer if arch == "bert" else DistilBertTokenizer
        tokenizer = tok_cls(vocab=str(vocab), do_lower_case=True)  # vocab_file= is ignored in transformers 5
        if arch == "bert":
            model = BertForPreTraining(BertConfig(vocab_size=len(tokenizer), **SMALL))
        else:
            model = DistilBertForMaskedLM(DistilBertConfig(
                vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                max_position_embeddings=64))
    elif arch == "roberta":
        tokenizer = _roberta_tokenizer(folder)
        model = RobertaForMaskedLM(RobertaConfig(
            vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **{**SMALL, "max_position_embeddings": 66}))
    elif arch == "albert":
        tokenizer = _albert_tokenizer(folder)
        model = AlbertForPreTraining(AlbertConfig(
            vocab_size=len(tokenizer), embedding_size=16, **SMALL))
    else:
        raise ValueError(arch)
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _roberta_tokenizer(folder: Path):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=400, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    vocab = bpe.get_vocab()
    bpe.save_model(str(folder))
    merges = [tuple(line.split()) for line in (folder / "merges.txt").read_text().splitlines()[1:] if line]
    # transformers 5 ignores vocab_file/merges_file here: pass the vocabulary itself.
    return RobertaTokenizer(vocab=vocab, merges=merges)


def _albert_tokenizer(folder: Path):
    import io

    import sentencepiece as spm
    from transformers import AlbertTokenizer

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=model, vocab_size=80, model_type="unigram",
        user_defined_symbols=["[MASK]", "[CLS]", "[SEP]"], pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
        minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    # transformers 5 builds ALBERT's Unigram tokenizer from (piece, score) pairs.
    return AlbertTokenizer(vocab=[(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())])


# ---------------------------------------------------------------- data a tiny model learns in seconds
TASK_WORDS = "the cat dog sat on mat a big red house".split()
NAMES = ["anna", "bob", "carl", "dora"]


def tagged(n: int, seed: int = 0):
    """Sentences where the names are people: learnable by a tiny model in seconds."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        tokens = [rng.choice(NAMES) if rng.random() < 0.3 else rng.choice(TASK_WORDS) for _ in range(6)]
        rows.append({"tokens": tokens, "tags": ["B-PER" if t in NAMES else "O" for t in tokens]})
    from core.inputs.entities import parse_tagged

    return parse_tagged("\n".join(json.dumps(r) for r in rows))


def questions(n: int, seed: int = 0):
    """"Who is it?" on contexts with one name among other words: the name is the answer."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = [rng.choice(TASK_WORDS) for _ in range(8)]
        k, name = rng.randrange(8), rng.choice(NAMES)
        words.insert(k, name)
        context = " ".join(words)
        lines.append(json.dumps({"context": context, "question": "who is it?",
                                 "answers": {"text": [name], "answer_start": [len(" ".join(words[:k])) + (k > 0)]}}))
    from core.inputs.questions import parse_questions

    return parse_questions("\n".join(lines))


def same_or_different():
    """Sentence pairs that are the same sentence or two different ones."""
    from core.inputs.pairs import read_pairs_csv

    rows = [f"the {w} sat,the {w} sat,same" for w in TASK_WORDS] + \
           [f"the {w} sat,the {v} ran,different" for w, v in zip(TASK_WORDS, TASK_WORDS[1:] + TASK_WORDS[:1])]
    return read_pairs_csv(("\n".join(["text_a,text_b,label"] + rows * 4)).encode())
