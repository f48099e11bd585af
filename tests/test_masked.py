"""Masked-word prediction checked against transformers' own BertForMaskedLM and fill-mask pipeline."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, _TINY_ROOT
from core.explain import masked as M
from core.errors import UserError
from core.models.loading import get_model


def wordpiece_choice() -> str:
    """A tiny random BERT (MLM + NSP heads) whose WordPiece vocabulary really splits words.

    Built here because the shared tiny models' tokenizers know only their 5 special tokens.
    """
    folder = _TINY_ROOT / "tiny-wordpiece-bert-v2"
    if not (folder / "model.safetensors").is_file():
        from transformers import BertConfig, BertForPreTraining, BertTokenizer

        from tiny_models import SMALL, _wordpiece_vocab

        folder.mkdir(parents=True, exist_ok=True)
        vocab = dict.fromkeys(_wordpiece_vocab() + list("<>/&\""))
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
        tokenizer = BertTokenizer(vocab=str(folder / "vocab.txt"), do_lower_case=True)
        torch.manual_seed(0)
        BertForPreTraining(BertConfig(vocab_size=len(tokenizer), **SMALL)).eval().save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return f"local:{folder}"


def headless_choice() -> str:
    """The same tiny BERT saved as a bare encoder: no MLM and no NSP weights, like a fine-tune base."""
    folder = _TINY_ROOT / "tiny-headless-bert"
    if not (folder / "model.safetensors").is_file():
        from transformers import AutoTokenizer, BertModel

        source = wordpiece_choice()[len("local:"):]
        BertModel.from_pretrained(source).save_pretrained(folder)
        AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return f"local:{folder}"


@pytest.fixture(scope="module")
def wp():
    return get_model(wordpiece_choice())


def _usable(loaded) -> bool:
    """The shared tiny fixtures' tokenizers may know no words; parity needs real tokens."""
    pieces = loaded.tokenizer.tokenize("the cat sat")
    return bool(pieces) and loaded.tokenizer.unk_token not in pieces


def _pipeline(loaded):
    """transformers' fill-mask pipeline over an *MaskedLM copy of the same weights."""
    from transformers import AutoModelForMaskedLM, pipeline

    mlm = AutoModelForMaskedLM.from_config(loaded.config).eval()
    missing = mlm.load_state_dict(loaded.model.state_dict(), strict=False).missing_keys
    assert missing == []
    return pipeline("fill-mask", model=mlm, tokenizer=loaded.tokenizer)


SENTENCES = ["the cat [MASK] on the mat .", "paris is the [MASK] of france .",
             "the [MASK] was cold and the [MASK] was slow ."]


def test_fill_mask_matches_pipeline(wp):
    pipe = _pipeline(wp)
    for text in SENTENCES:
        ours = M.fill_mask(wp, text, top_k=5)
        ref = pipe(text, top_k=5)
        ref = [ref] if isinstance(ref[0], dict) else ref
        assert len(ours.predictions) == len(ref) == text.count("[MASK]")
        for preds, expected in zip(ours.predictions, ref):
            assert [p.token for p in preds] == [e["token_str"] for e in expected]
            assert [p.token_id for p in preds] == [e["token"] for e in expected]
            for p, e in zip(preds, expected):
                assert p.score == pytest.approx(e["score"], abs=1e-5)
        if len(ref) == 1:
            assert ours.filled == ref[0][0]["sequence"]


def test_probabilities_match_bert_for_masked_lm(wp):
    from transformers import BertForMaskedLM

    ref_model = BertForMaskedLM.from_pretrained(wordpiece_choice()[len("local:"):]).eval()
    result = M.fill_mask(wp, SENTENCES[2], top_k=3)
    inputs = result.masked.encoded.inputs
    with torch.no_grad():
        probs = ref_model(**inputs).logits[0].softmax(-1)
    for pos, preds in zip(result.masked.positions, result.predictions):
        values, ids = probs[pos].topk(3)
        assert [p.token_id for p in preds] == ids.tolist()
        assert [p.score for p in preds] == pytest.approx(values.tolist(), abs=1e-5)


def test_every_architecture_matches_pipeline(tiny_any):
    loaded = get_model(tiny_any)
    if not _usable(loaded):
        pytest.skip("this shared tiny fixture's tokenizer maps every word to [UNK] or nothing")
    pipe = _pipeline(loaded)
    text = "the cat [MASK] on the mat ."
    ours = M.fill_mask(loaded, text, top_k=4)
    ref = pipe(M.normalize_masks(loaded, text)[0], top_k=4)
    assert [p.token for p in ours.predictions[0]] == [e["token_str"] for e in ref]
    assert [p.score for p in ours.predictions[0]] == pytest.approx([e["score"] for e in ref], abs=1e-5)


def test_mlm_head_reproduces_model_logits_on_every_architecture(tiny_any):
    loaded = get_model(tiny_any)
    tok = loaded.tokenizer
    ids = torch.tensor([[tok.cls_token_id, tok.unk_token_id, tok.mask_token_id, tok.unk_token_id, tok.sep_token_id]])
    out = loaded.model(input_ids=ids)
    full = (out.prediction_logits if hasattr(out, "prediction_logits") else out.logits)[0]
    ours = M.mask_logits(loaded, {"input_ids": ids}, torch.tensor([0, 0]), torch.tensor([2, 3]))
    assert torch.allclose(ours, full[[2, 3]], atol=1e-5)
    lens = M.logit_lens(loaded, M.Masked(M.encode(loaded, tok.mask_token + " x"), [1]))
    assert len(lens) == loaded.summary()["layers"] + 1


def test_batched_equals_one_at_a_time(wp):
    texts = SENTENCES + ["[MASK] cat", "a dog ran in the park and the cat [MASK] ."]
    batched = M.fill_masks(wp, [M.prepare(wp, t) for t in texts], top_k=3, batch_size=2)
    for text, result in zip(texts, batched):
        single = M.fill_mask(wp, text, top_k=3)
        assert [p.token_id for ps in result.predictions for p in ps] == \
            [p.token_id for ps in single.predictions for p in ps]
        assert [p.score for ps in result.predictions for p in ps] == \
            pytest.approx([p.score for ps in single.predictions for p in ps], abs=1e-5)


def test_mask_spellings_are_accepted_and_explained(wp):
    ref = M.fill_mask(wp, "the cat [MASK] on the mat .")
    for spelling in ("<mask>", "[mask]"):
        result = M.fill_mask(wp, f"the cat {spelling} on the mat .")
        assert [p.token_id for p in result.predictions[0]] == [p.token_id for p in ref.predictions[0]]
        assert result.masked.notes == [f"This model writes its mask as `[MASK]`; your `{spelling}` was read as `[MASK]`."]
    assert ref.masked.notes == []


def test_joint_fill_is_chain_rule_and_ranked(wp):
    masked = M.prepare(wp, "the [MASK] sat on the [MASK] .")
    completions = M.joint_fill(wp, masked, beam=6, n_best=4)
    joints = [c.joint for c in completions]
    assert joints == sorted(joints, reverse=True)
    for c in completions:
        # Recompute the chain rule step by step with the plain model.
        ids = masked.input_ids.clone()
        prob = 1.0
        for j in c.order:
            with torch.no_grad():
                logits = wp.model(**{**masked.encoded.inputs, "input_ids": ids}).prediction_logits[0]
            open_ = [k for k in range(2) if ids[0, masked.positions[k]] == wp.tokenizer.mask_token_id]
            # the decoder fills the open mask the model is surest about
            surest = max(open_, key=lambda k: logits[masked.positions[k]].softmax(-1).max().item())
            assert surest == j
            p = logits[masked.positions[j]].softmax(-1)[c.tokens[j].token_id].item()
            assert c.tokens[j].score == pytest.approx(p, abs=1e-5)
            prob *= p
            ids[0, masked.positions[j]] = c.tokens[j].token_id
        assert c.joint == pytest.approx(prob, rel=1e-4)
        assert c.text == wp.tokenizer.decode(ids[0].tolist(), skip_special_tokens=True)
    # The best joint completion is at least as likely as the greedy most-confident-first fill.
    assert completions[0].joint >= completions[-1].joint


def test_joint_fill_finds_the_best_pair_exhaustively_with_a_wide_beam(wp):
    masked = M.prepare(wp, "the cat [MASK] [MASK] the mat .")
    best = M.joint_fill(wp, masked, beam=len(wp.tokenizer), n_best=1)[0]
    # Exhaustive over the first-filled mask: every token t, then the best second token given t.
    first = best.order[0]
    second = 1 - first
    ids = masked.input_ids.repeat(len(wp.tokenizer), 1)
    ids[:, masked.positions[first]] = torch.arange(len(wp.tokenizer))
    with torch.no_grad():
        p_first = wp.model(**masked.encoded.inputs).prediction_logits[0, masked.positions[first]].softmax(-1)
        p_second = wp.model(input_ids=ids).prediction_logits[:, masked.positions[second]].softmax(-1)
    joint = p_first[:, None] * p_second
    assert best.joint == pytest.approx(joint.max().item(), rel=1e-4)


def test_surprisal_is_the_probability_of_the_original_token(wp):
    text = "the cats sat on the mat ."
    rows = M.surprisal(wp, text, top_k=3, batch_size=3)
    encoded = M.encode(wp, text)
    assert [r.token for r in rows] == encoded.tokens[1:-1]
    for r in rows:
        ids = encoded.inputs["input_ids"].clone()
        original = ids[0, r.position].item()
        ids[0, r.position] = wp.tokenizer.mask_token_id
        with torch.no_grad():
            probs = wp.model(input_ids=ids).prediction_logits[0, r.position].softmax(-1)
        assert r.probability == pytest.approx(probs[original].item(), abs=1e-6)
        assert r.rank == int((probs > probs[original]).sum()) + 1
        assert r.top[0].token_id == probs.argmax().item()


def test_whole_word_masking_masks_every_piece(wp):
    text = "the cats are walking"
    spans = M.word_spans(wp, text)
    tokens = M.encode(wp, text).tokens
    assert [[tokens[p] for p in s] for s in spans] == [["the"], ["cat", "##s"], ["are"],
                                                       ["w", "##a", "##l", "##k", "##ing"]]
    masked = M.with_masks(wp, text, spans[1])
    assert masked.encoded.tokens == ["[CLS]", "the", "[MASK]", "[MASK]", "are",
                                     "w", "##a", "##l", "##k", "##ing", "[SEP]"]
    assert masked.positions == [2, 3]
    completions = M.joint_fill(wp, masked, beam=4, n_best=2)
    assert all(len(c.tokens) == 2 for c in completions)


def test_logit_lens_last_layer_equals_the_real_prediction(wp):
    result = M.fill_mask(wp, SENTENCES[0], top_k=5)
    steps = M.logit_lens(wp, result.masked)
    assert [s.layer for s in steps] == [0, 1, 2]
    last = steps[-1]
    assert [p.token_id for p in last.top] == [p.token_id for p in result.predictions[0]]
    assert [p.score for p in last.top] == pytest.approx([p.score for p in result.predictions[0]], abs=1e-5)
    assert last.final_probability == pytest.approx(result.predictions[0][0].score, abs=1e-6)
    assert all(0 <= s.final_probability <= 1 for s in steps)


# ---- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("the cat sat on the mat", "no mask"),
    ("[MASK]", "only masks"),
    ("[MASK] [MASK] <mask>", "only masks"),
    ("", "Type a sentence"),
    ("   ", "Type a sentence"),
    (" ".join(["the [MASK]"] * 30), "at most 20"),
])
def test_bad_input_gets_a_friendly_message(wp, text, words):
    with pytest.raises(UserError, match=words):
        M.fill_mask(wp, text)


def test_too_many_masks_for_joint_decoding(wp):
    masked = M.prepare(wp, " ".join(["the [MASK]"] * 12))
    assert len(masked.positions) == 12
    with pytest.raises(UserError, match="at most 10 masks"):
        M.joint_fill(wp, masked)


def test_long_text_is_truncated_with_a_notice_and_lost_masks_are_explained(wp):
    long_tail = " the cat sat on the mat ." * 20  # far more than the tiny model's 64 tokens
    result = M.fill_mask(wp, "the [MASK] sat" + long_tail)
    assert any("cut off" in n for n in result.masked.notes)
    with pytest.raises(UserError, match="beyond token 64"):
        M.fill_mask(wp, long_tail + " the [MASK] sat")


def test_model_without_mlm_head_is_refused():
    loaded = get_model(headless_choice())
    assert not loaded.has_mlm
    for call in (lambda: M.fill_mask(loaded, "a [MASK] b"), lambda: M.surprisal(loaded, "a b"),
                 lambda: M.with_masks(loaded, "a b", [1])):
        with pytest.raises(UserError, match="no trained masked-word"):
            call()


def test_masking_a_special_token_is_refused(wp):
    with pytest.raises(UserError, match="not a word"):
        M.with_masks(wp, "the cat", [0])


# ---- CLI -------------------------------------------------------------------------------------

class Run:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _cli(capsys, *args) -> Run:
    """The CLI in-process (same parser and exit codes as `python -m core`, without the import cost)."""
    from core.cli import main

    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return Run(code, out.out, out.err)


def test_cli_runs_as_a_module_with_one_json_line(wp):
    out = subprocess.run([sys.executable, "-m", "core", "fill-mask", "the cat [MASK] on the mat .",
                          "--model", wordpiece_choice(), "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(json.dumps(M.fill_mask(wp, "the cat [MASK] on the mat .").to_json()))


def test_a_command_imports_its_own_module_only_and_help_lists_them_all():
    """`fill-mask` must not pay for the other commands' libraries (scikit-learn, captum, nlpaug)."""
    code = ("import sys; from core.cli import build_parser\n"
            "one = build_parser('fill-mask')._subparsers._group_actions[0].choices\n"
            "print(sorted(one), sorted(m for m in ('sklearn', 'captum', 'nlpaug') if m in sys.modules))\n"
            "print(len(build_parser()._subparsers._group_actions[0].choices))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, every = out.stdout.splitlines()
    assert first == "['fill-mask'] []"
    assert int(every) == len(list((ROOT / "core" / "commands").glob("[a-z]*.py")))


def test_cli_fill_mask_json_contract(wp, capsys):
    out = _cli(capsys, "fill-mask", "paris is the [MASK] of france .", "--model", wordpiece_choice(),
               "--top-k", "3", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["model"] == wordpiece_choice()
    ref = M.fill_mask(wp, "paris is the [MASK] of france .", top_k=3).to_json()
    assert list(data) == ["model", "masks"] and len(data["masks"]) == 1 and len(data["masks"][0]) == 3
    assert [set(p) for p in data["masks"][0]] == [{"token", "score"}] * 3
    assert [p["token"] for p in data["masks"][0]] == [p["token"] for p in ref["masks"][0]]
    assert [p["score"] for p in data["masks"][0]] == pytest.approx([p["score"] for p in ref["masks"][0]], abs=1e-6)


def test_cli_fill_mask_file_batch(wp, tmp_path, capsys):
    lines = SENTENCES + ["no mask here", "[MASK] cat"]
    path = tmp_path / "in.txt"
    path.write_text("\n".join(lines) + "\n")
    out = _cli(capsys, "fill-mask", "--file", str(path), "--model", wordpiece_choice(), "--top-k", "2", "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == len(lines)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "line 4" in out.stderr
    assert "no mask" in rows[3]["error"]
    for text, row in zip(lines[:3] + lines[4:], rows[:3] + rows[4:]):
        ref = M.fill_mask(wp, text, top_k=2).to_json()
        assert [[p["token"] for p in m] for m in row["masks"]] == [[p["token"] for p in m] for m in ref["masks"]]
        assert len(row["masks"]) == text.count("[MASK]")


@pytest.mark.parametrize("args, words", [
    (("fill-mask", "no mask here"), "no mask"),
    (("fill-mask", "[MASK]"), "only masks"),
    (("fill-mask", "a [MASK]", "--top-k", "0"), "at least 1"),
    (("fill-mask", "--file", "/nonexistent/x.txt"), "Cannot read"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, words, capsys):
    out = _cli(capsys, *args, "--model", wordpiece_choice(), "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and words in out.stderr


def test_cli_model_without_mlm_head_exits_2(capsys):
    out = _cli(capsys, "fill-mask", "a [MASK] b", "--model", headless_choice(), "--json")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "no trained masked-word" in out.stderr


def test_surprisal_scores_at_most_the_limit(wp):
    rows = M.surprisal(wp, "the cat sat on the mat . " * 3, limit=5)
    assert [r.position for r in rows] == [1, 2, 3, 4, 5]
