"""The decoder and its encoder twin: causal by construction, seeded sampling, greedy = top-1, losses fall."""
from __future__ import annotations

import json

import pytest
import torch

from core.bert.model import Bert
from core.cli import main
from core.errors import UserError
from core.training.twins import fill, generate, hide, init_weights, load_twin, train_twins, twin_config, twin_spec

from test_trainer import Recorder

pytestmark = pytest.mark.usefixtures("one_thread")
TEXT = ("A dog is a member of the genus Canis. It has been bred by people for a long time.\n\n"
        "A cat is a small animal that hunts mice. It likes to sleep in the sun.\n\n"
        "A river is a large natural stream of water. It flows into the sea.\n\n"
        "A teacher is a person who helps students learn. She works in a school.\n\n") * 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("twins")
    corpus = folder / "corpus.txt"
    corpus.write_text(TEXT)
    events = Recorder()
    spec = twin_spec(layers=1, hidden=32, heads=2, steps=60, batch_size=8, max_length=24, lr=3e-3,
                     corpus=f"text:{corpus}", sample_every=30)
    summary = train_twins(spec, events, folder / "out")
    return summary, events.events


def tiny_bert() -> Bert:
    torch.manual_seed(0)
    return init_weights(Bert(twin_config(twin_spec(layers=2, hidden=32, heads=2, max_length=16), 50))).eval()


def test_with_the_causal_mask_a_later_token_never_changes_an_earlier_output():
    model = tiny_bert()
    ids = torch.randint(5, 50, (1, 12))
    changed = ids.clone()
    changed[0, 7:] = torch.randint(5, 50, (5,))
    with torch.no_grad():
        a, b = model(ids, causal=True)[0], model(changed, causal=True)[0]
        full_a, full_b = model(ids)[0], model(changed)[0]
    assert torch.equal(a[0, :7], b[0, :7]) and not torch.allclose(a[0, 7:], b[0, 7:])
    assert not torch.allclose(full_a[0, :7], full_b[0, :7])  # without it, earlier positions see the change


def test_both_losses_start_at_a_uniform_guess_and_fall(trained):
    summary, events = trained
    history = summary["history"]
    for name in ("decoder", "encoder"):
        first, last = sum(h[name] for h in history[:5]) / 5, sum(h[name] for h in history[-5:]) / 5
        assert first == pytest.approx(10.3, abs=0.6) and last < 0.75 * first, (name, first, last)  # ln 30522
    assert [e["step"] for e in events if e["type"] == "sample"] == [30, 60]
    assert len([e for e in events if e["type"] == "step"]) == 60


def test_a_seeded_sample_is_reproducible_and_top_k_1_is_greedy(trained):
    summary, _ = trained
    model, tok, objective = load_twin(summary["out"]["decoder"])
    assert objective == "decoder"
    one = generate(model, tok, "a dog is", max_new=8, temperature=1.5, seed=3)
    assert one == generate(model, tok, "a dog is", max_new=8, temperature=1.5, seed=3)
    assert 1 <= len(one[1]) <= 8
    for step in one[1]:  # the ten likeliest of each step's distribution, likeliest first
        probs = [p for _, p in step.candidates]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    greedy, steps = generate(model, tok, "a dog is", max_new=6, top_k=1, seed=11)
    ids = [tok.cls_token_id, *tok("a dog is", add_special_tokens=False)["input_ids"]]
    banned = [i for i in tok.all_special_ids if i != tok.sep_token_id]
    with torch.no_grad():
        for step in steps:
            logits = model.mlm_logits(model(torch.tensor([ids]), causal=True)[0][0, -1])
            logits[banned] = float("-inf")
            best = int(logits.argmax())
            assert tok.convert_ids_to_tokens(best) == step.token and step.probability == 1.0
            ids.append(best)
    assert greedy.startswith("a dog is")


def test_the_encoder_fills_gaps_and_the_decoder_folder_refuses_what_it_is_not(trained, tmp_path):
    summary, _ = trained
    model, tok, objective = load_twin(summary["out"]["encoder"])
    guesses = fill(model, tok, "a dog is a [MASK] of the genus canis .")
    assert objective == "encoder" and len(guesses) == 1 and len(guesses[0]) == 5
    assert sum(g["probability"] for g in guesses[0]) <= 1 + 1e-6
    with pytest.raises(UserError, match="no twin.json"):
        load_twin(tmp_path)
    decoder, dtok, _ = load_twin(summary["out"]["decoder"])
    for kwargs, message in [({"temperature": 0}, "temperature"), ({"top_k": -1}, "negative"),
                            ({"max_new": 0}, "between 1 and 200")]:
        with pytest.raises(UserError, match=message):
            generate(decoder, dtok, "a dog", **kwargs)


def test_cli_generate(trained, capsys):
    summary, _ = trained
    folder = summary["out"]["decoder"]
    code = main(["generate", "a cat is", "--model", folder, "--max-new", "5", "--top-k", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["text"].startswith("a cat is") and 1 <= len(result["steps"]) <= 5
    assert {"token", "probability", "candidates"} <= set(result["steps"][0])
    code = main(["generate", "a cat is", "--model", summary["out"]["encoder"]])
    assert code == 2 and "encoder" in capsys.readouterr().err


def test_hiding_follows_bert_80_10_10_and_never_touches_specials_or_padding():
    ids = torch.randint(10, 1000, (400, 50))
    ids[:, 0], ids[:, -1] = 1, 2  # [CLS]-like and [SEP]-like
    mask = torch.ones_like(ids)
    mask[:, 40:] = 0
    special = (ids == 1) | (ids == 2)
    corrupted, targets = hide(ids, mask, special, 3, 1000, torch.Generator().manual_seed(0))
    chosen = targets != -100
    real = (mask == 1) & ~special
    assert not (chosen & ~real).any() and chosen.any(1).all()
    assert chosen.sum() / real.sum() == pytest.approx(0.15, abs=0.01)
    as_mask = (corrupted == 3) & chosen
    kept = (corrupted == ids) & chosen
    assert as_mask.sum() / chosen.sum() == pytest.approx(0.8, abs=0.02)
    assert kept.sum() / chosen.sum() == pytest.approx(0.1, abs=0.02)  # (+ random draws that hit the same id)
    assert torch.equal(targets[chosen], ids[chosen]) and torch.equal(corrupted[~chosen], ids[~chosen])
