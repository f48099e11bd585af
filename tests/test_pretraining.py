"""MLM/NSP data pipeline, LoRA export/merge and the training loop, on tiny models (seconds)."""
from __future__ import annotations

import random
import threading
import pytest
import torch
from tiny_models import CORPUS, SMALL, _wordpiece_vocab

from core.training import pretraining as P

from core.training import pretrain_data as D
from core.errors import UserError
from core.training.config import PretrainConfig
from core.models.embedded import apply_adapter


@pytest.fixture(scope="module")
def tiny():
    """(tokenizer, config) of a tiny BERT over the tiny corpus' WordPiece vocabulary."""
    from transformers import BertConfig, BertTokenizer

    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(dict.fromkeys(_wordpiece_vocab()))})
    return tokenizer, BertConfig(vocab_size=len(tokenizer), **SMALL)


def tiny_model(config, seed: int = 0):
    from transformers import BertForPreTraining

    torch.manual_seed(seed)
    return BertForPreTraining(config).eval()


def corpus_docs() -> list[list[str]]:
    """The tiny corpus as 6 documents of 5 sentences."""
    lines = CORPUS
    return [lines[i:i + 5] for i in range(0, len(lines), 5)]


def test_masking_follows_bert_ratios(tiny):
    tokenizer, _ = tiny
    docs_ids = D.tokenize_documents(corpus_docs(), tokenizer)
    examples = D.make_pair_examples(docs_ids, tokenizer, 32, 0.1, random.Random(0)) * 40
    collator = D.PretrainingCollator(tokenizer, mlm_probability=0.15, seed=0)
    chosen = candidates = as_mask = kept = 0
    for i in range(0, len(examples), 64):
        chunk = examples[i:i + 64]
        batch = collator(chunk)
        n = batch["input_ids"].shape[1]
        orig = torch.tensor([e["input_ids"] + [0] * (n - len(e["input_ids"])) for e in chunk])
        special = torch.tensor([e["special_tokens_mask"] + [1] * (n - len(e["input_ids"])) for e in chunk]).bool()
        labels, inputs = batch["labels"], batch["input_ids"]
        masked = labels != -100
        assert not (masked & special).any(), "special tokens and padding are never chosen"
        assert torch.equal(inputs[special], orig[special])
        assert torch.equal(labels[masked], orig[masked]), "labels hold the original token"
        chosen += masked.sum().item()
        candidates += (~special).sum().item()
        as_mask += (inputs[masked] == tokenizer.mask_token_id).sum().item()
        kept += (inputs[masked] == orig[masked]).sum().item()
    assert chosen / candidates == pytest.approx(0.15, abs=0.015)
    assert as_mask / chosen == pytest.approx(0.8, abs=0.03)
    # 10% unchanged, plus the few random replacements that drew the same token.
    assert kept / chosen == pytest.approx(0.1, abs=0.03)
    random_other = 1 - as_mask / chosen - kept / chosen
    assert random_other == pytest.approx(0.1, abs=0.03)


def test_whole_word_masking_masks_every_piece(tiny):
    tokenizer, _ = tiny
    ids = tokenizer("cats sitting cats jumped dogs", add_special_tokens=False)["input_ids"]
    assert len(ids) > 5, "the tiny vocab splits these words into pieces"
    example = {"input_ids": [tokenizer.cls_token_id] + ids + [tokenizer.sep_token_id],
               "token_type_ids": [0] * (len(ids) + 2), "special_tokens_mask": [1] + [0] * len(ids) + [1],
               "next_sentence_label": 0}
    collator = D.PretrainingCollator(tokenizer, mlm_probability=0.3, whole_word_mask=True, seed=0)
    continuation = torch.tensor(D._continuation_flags(tokenizer))[torch.tensor(example["input_ids"])]
    seen = 0
    for _ in range(50):
        labels = collator([example])["labels"][0]
        masked = labels != -100
        seen += masked.sum().item()
        for pos in range(1, len(ids) + 1):
            if continuation[pos]:
                assert masked[pos] == masked[pos - 1], "a word is masked whole or not at all"
    assert seen > 0


def test_nsp_pairs_are_balanced_and_random_b_comes_from_another_document(tiny):
    tokenizer, _ = tiny
    # Document d is made of token id 100 + d only, so every segment tells where it came from.
    rng = random.Random(0)
    docs_ids = [[[100 + d] * rng.randint(3, 12) for _ in range(rng.randint(2, 8))] for d in range(60)]
    examples = []
    for epoch in range(5):
        examples += D.make_pair_examples(docs_ids, tokenizer, 48, 0.1, random.Random(epoch))
    labels = [e["next_sentence_label"] for e in examples]
    assert len(examples) > 500
    assert sum(labels) / len(labels) == pytest.approx(0.5, abs=0.05)
    for e in examples:
        ids, types = e["input_ids"], e["token_type_ids"]
        assert len(ids) <= 48 and ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
        a = {t for t, s in zip(ids[1:-1], types[1:-1]) if s == 0 and t != tokenizer.sep_token_id}
        b = {t for t, s in zip(ids, types) if s == 1 and t != tokenizer.sep_token_id}
        assert len(a) == 1 and len(b) == 1
        assert (a == b) == (e["next_sentence_label"] == D.IS_NEXT)


def test_lora_adapter_merges_into_a_plain_model(tiny, tmp_path):
    """What the loader merges equals what peft computes with the adapter attached."""
    _, config = tiny
    cfg = PretrainConfig(mode="lora", lora_rank=4, lora_alpha=8)
    model = P.prepare_model(tiny_model(config), cfg)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert not any("word_embeddings" in n for n in trainable)
    assert any("lora_A" in n for n in trainable) and any("cls.predictions" in n for n in trainable)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    path = tmp_path / "adapter.safetensors"
    P.save_checkpoint(model, path, cfg, step=7)
    ids = torch.tensor([[2, 10, 11, 12, 4, 3, 13, 14, 3]])
    model.eval()
    expected = P.bert_of(model)(input_ids=ids).prediction_logits
    plain = tiny_model(config).eval()
    loaded = apply_adapter(plain, path)
    assert "cls.predictions.transform.dense.weight" in loaded
    assert not any("lora" in n for n, _ in plain.named_parameters())
    assert torch.allclose(plain(input_ids=ids).prediction_logits, expected, atol=1e-4)


def test_tiny_bert_learns_and_the_loop_reports_and_cancels(tiny):
    tokenizer, config = tiny
    torch.manual_seed(0)
    docs_ids = D.tokenize_documents(corpus_docs(), tokenizer)
    cfg = PretrainConfig(mode="scratch", steps=60, batch_size=16, max_length=32, lr=3e-3, warmup=0.1)
    model = P.prepare_model(tiny_model(config), cfg)
    seen = []
    history = P.train(model, tokenizer, docs_ids, cfg, on_step=seen.append)
    assert [s.step for s in seen] == list(range(1, 61))
    first = sum(s.mlm_loss + s.nsp_loss for s in history[:5]) / 5
    last = sum(s.mlm_loss + s.nsp_loss for s in history[-5:]) / 5
    assert last < first - 1.0, (first, last)
    assert all(0 <= s.mlm_acc <= 1 and 0 <= s.nsp_acc <= 1 for s in history)

    cancel = threading.Event()
    stopped = P.train(model, tokenizer, docs_ids, cfg,
                      on_step=lambda s: cancel.set() if s.step == 3 else None, cancel=cancel)
    assert len(stopped) == 3


def test_html_manuals_become_documents_of_prose_sentences(tmp_path):
    from core.inputs.corpus import html_documents, load_documents

    (tmp_path / "guide").mkdir()
    (tmp_path / "guide" / "intro.html").write_text(
        "<html><body><nav><p>Home</p></nav><h1>Intro</h1>"
        "<p>The server reads its settings at start.   It then opens the <code>socket</code> for clients.</p>"
        "<pre>x = 1; y = 2</pre><p>Version 1.2.3</p><p>Each client gets a &quot;session&quot; of its own.</p>"
        "</body></html>")
    (tmp_path / "guide" / "empty.html").write_text("<p>Nothing here.</p>")
    (tmp_path / "notes.txt").write_text("A note of mine has two sentences. Here is the second one.")
    docs = html_documents(tmp_path / "guide")
    assert docs == [["The server reads its settings at start.", "It then opens the socket for clients.",
                     'Each client gets a "session" of its own.']]  # no code, captions or one-sentence pages
    both = load_documents(f"html:{tmp_path / 'guide'}+text:{tmp_path / 'notes.txt'}")
    assert both == docs + [["A note of mine has two sentences.", "Here is the second one."]]
    with pytest.raises(UserError, match="not a folder"):
        load_documents(f"html:{tmp_path / 'missing'}")


def test_notnext_comes_from_the_same_source_when_groups_are_given(tiny):
    """With groups, a NotNext B never crosses sources; without, it does (half the docs are the other source)."""
    tokenizer, _ = tiny
    docs_ids = D.tokenize_documents(corpus_docs(), tokenizer)
    groups = [i % 2 for i in range(len(docs_ids))]
    owner = {}  # sentence ids -> the group of the document it comes from
    for doc, g in zip(docs_ids, groups):
        for s in doc:
            owner[tuple(s)] = g

    def crossings(with_groups: bool) -> tuple[int, int]:
        examples = [e for seed in range(20) for e in D.make_pair_examples(
            docs_ids, tokenizer, 32, 0.1, random.Random(seed), groups if with_groups else None)]
        pairs = _notnext_owners(examples, owner, tokenizer.sep_token_id)
        return sum(ga != gb for ga, gb in pairs), len(pairs)

    crossed, notnext = crossings(with_groups=True)
    assert notnext > 50 and crossed == 0
    crossed, notnext = crossings(with_groups=False)
    assert crossed / notnext > 0.3


def _contains(seq: list[int], part: tuple | list) -> bool:
    part = list(part)
    return any(seq[i:i + len(part)] == part for i in range(len(seq) - len(part) + 1)) if part else False


def _notnext_owners(examples: list[dict], owner: dict, sep_id: int) -> list[tuple[int, int]]:
    """(owner of A, owner of B) for each NotNext example whose segments each come from one owner."""
    pairs = []
    for e in examples:
        ids = e["input_ids"]
        sep = ids.index(sep_id)
        a, b = ids[1:sep], ids[sep + 1:-1]
        ga = {g for s, g in owner.items() if _contains(a, s) or _contains(s, a)}
        gb = {g for s, g in owner.items() if _contains(b, s) or _contains(s, b)}
        if e["next_sentence_label"] == D.NOT_NEXT and len(ga) == 1 and len(gb) == 1:
            pairs.append((ga.pop(), gb.pop()))
    return pairs


def test_json_sources_and_repeats(tmp_path):
    import json

    from core.inputs.corpus import load_documents, load_sources

    (tmp_path / "facts").mkdir()
    (tmp_path / "facts" / "uk.json").write_text(json.dumps({"Economy": {"overview": {
        "text": "The UK is a leading trading power. ++  ++ GDP grew 2.6% in 2014, faster than expected."}},
        "Flag": {"text": "red, white and blue"}, "Codes": ["GB", "UK"]}))
    (tmp_path / "facts" / "broken.json").write_text("{not json")
    docs = load_documents(f"json:{tmp_path / 'facts'}")
    assert docs == [["The UK is a leading trading power.", "GDP grew 2.6% in 2014, faster than expected."]]
    sources = load_sources(f"json:{tmp_path / 'facts'}*3+json:{tmp_path / 'facts'}")
    assert [(d, n) for d, n in sources] == [(docs, 3), (docs, 1)]
    assert load_documents(f"json:{tmp_path / 'facts'}*2") == docs * 2
    for bad in ("*0", "*x", "*-1"):
        with pytest.raises(UserError, match="whole number"):
            load_sources(f"json:{tmp_path / 'facts'}{bad}")
    with pytest.raises(UserError, match="not a folder of JSON"):
        load_documents(f"json:{tmp_path / 'missing'}")


def test_a_repeated_document_is_never_its_own_notnext(tiny):
    tokenizer, _ = tiny
    first, second = D.tokenize_documents(corpus_docs(), tokenizer)[:2]
    owner = {tuple(s): 0 for s in first} | {tuple(s): 1 for s in second}
    examples = [e for seed in range(20)
                for e in D.make_pair_examples([first, second] * 3, tokenizer, 32, 0.1, random.Random(seed), [0] * 6)]
    pairs = _notnext_owners(examples, owner, tokenizer.sep_token_id)
    same, notnext = sum(ga == gb for ga, gb in pairs), len(pairs)
    assert notnext > 20 and same == 0
    with pytest.raises(ValueError, match="two documents"):
        D.make_pair_examples([first] * 4, tokenizer, 32)
