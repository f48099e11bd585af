"""Explaining predictions: attributions per word, IG's completeness, faithfulness, counterfactuals, the CLI."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ARCHS, tiny_choice
from core.cli import main
from core.errors import UserError
from core.explain.attributions import METHODS, explain, integrated_gradients
from core.explain.counterfactual import counterfactuals
from core.explain.faithfulness import RANDOM, dataset_faithfulness, sentence_faithfulness
from core.explain.targets import Target, choose_target, probabilities, require_classifier
from core.explain.words import prepare_text, split_words
from core.jobs import JobManager
from core.models.classifiers import open_classifier
from core.models.loading import get_model
from test_trainer import tiny_words_choice

pytestmark = pytest.mark.usefixtures("one_thread")

# A learnable toy task: positive exactly when "wonderful" is in the sentence.
FRAMES = ["the film was {} .", "i loved the park , it was {} .", "the food was {} and the service was slow .",
          "we are playing with models , the cat was {} .", "the river bank was {} after the rain ."]
FILLERS = ["cold", "slow", "muddy", "quick", "lazy"]
POSITIVE = [f.format("wonderful") for f in FRAMES]
NEGATIVE = [f.format(w) for f in FRAMES for w in FILLERS[:2]]
UNFILLED = [f.replace(" {}", "") for f in FRAMES]  # negative too: only "wonderful" makes a text positive


def toy_classifier() -> str:
    """A tiny BERT trained (seeded, to a clear margin) on the toy task, saved once per generator version.

    Trained briefly, to a margin of about 0.75 / 0.25: trained to 0.99 the tiny encoder turns its
    probability into a near-step along IG's path, which no 100-point integral can follow (real
    models are smoother); `finetune` would keep its first checkpoint at 100% accuracy, at 0.51.
    """
    from core.models.classifiers import load_base_classifier

    folder = Path(os.environ["BERT_PLAYGROUND_TEST_MODELS"]) / "toy-classifier-6"
    if not (folder / "model.safetensors").is_file():
        torch.manual_seed(0)
        tokenizer, model = load_base_classifier(tiny_words_choice(), ["negative", "positive"])
        batch = tokenizer(POSITIVE * 3 + NEGATIVE + UNFILLED, padding=True, return_tensors="pt")
        labels = torch.tensor([1] * 15 + [0] * 15)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.5)
        model.train()
        for _ in range(40):
            optimizer.zero_grad()
            model(**batch, labels=labels).loss.backward()
            optimizer.step()
        model.eval()
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def classifier():
    return open_classifier(toy_classifier())


@pytest.fixture(scope="module")
def suggester():
    return get_model("embedded")


def test_words_split_remove_keep_and_replace():
    words = split_words("Don't panic, it's [MASK]!", whole=["[MASK]"])
    assert words.words == ["Don't", "panic", ",", "it's", "[MASK]", "!"]
    assert words.without([1, 2]) == "Don't it's [MASK]!"
    assert words.only([0, 4]) == "Don't [MASK]"
    assert words.replaced({1: "worry", 4: "fine"}) == "Don't worry, it's fine!"


def test_removing_a_word_keeps_the_rest_of_the_spacing():
    words = split_words("One  two\nthree   four")  # a deleted word takes one space with it, no more
    assert words.without([1]) == "One  three   four" and words.without([2]) == "One  two\n  four"
    assert words.without([0]) == "two\nthree   four" and words.without([3]) == "One  two\nthree"
    assert words.without([1, 2]) == "One    four"


def test_tokens_map_to_their_words(classifier):
    p = prepare_text(classifier, "the cats sat on the mat .")
    tokens, token_word = p.tokens, p.token_word
    assert tokens[0] == "[CLS]" and token_word[0] is None and token_word[-1] is None
    pieces = [tokens[i] for i, w in enumerate(token_word) if w == 1]  # "cats" is split by the toy vocabulary
    assert "".join(p.removeprefix("##") for p in pieces) == "cats" and len(pieces) > 1


@pytest.mark.parametrize("baseline", ["pad", "mask"])
def test_integrated_gradients_are_complete_at_100_steps(classifier, baseline):
    target = choose_target(classifier, POSITIVE[1])
    ids = prepare_text(classifier, POSITIVE[1]).ids
    scores, check = integrated_gradients(classifier, target, ids, steps=100, baseline=baseline)
    assert abs(check.difference) > 0.05  # the test means something only if the baseline scores differently
    assert check.gap < 0.05 and check.attribution_sum == pytest.approx(float(scores.sum()))


def test_ig_on_embeddings_equals_layer_integrated_gradients(classifier):
    """The no-hook IG the app uses is the same path integral as Captum's LayerIntegratedGradients."""
    import copy

    from captum.attr import LayerIntegratedGradients

    target = choose_target(classifier, POSITIVE[0])
    ids = prepare_text(classifier, POSITIVE[0]).ids
    ours, _ = integrated_gradients(classifier, target, ids, steps=32, baseline="pad")
    private = copy.deepcopy(classifier.model)
    baseline = ids.clone()
    baseline[0, 1:-1] = classifier.tokenizer.pad_token_id
    layer = LayerIntegratedGradients(lambda i: private(input_ids=i).logits.softmax(-1)[:, target.index],
                                     private.get_input_embeddings())
    theirs = layer.attribute(ids, baselines=baseline, n_steps=32).sum(-1)[0].detach().numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_every_method_scores_every_word_of_a_classifier_prediction(classifier):
    text = "i loved the park , it was wonderful ."
    e = explain(classifier, text, choose_target(classifier, text), steps=100)
    assert e.target.name == "positive" and e.probability > 0.5
    assert list(e.scores) == list(METHODS)
    for method, scores in e.scores.items():
        assert scores.shape == (len(e.words),) == (9,), method
        assert np.isfinite(scores).all() and np.abs(scores).max() > 0, method
    assert e.words.words[int(np.argmax(e.scores["occlusion"]))] == "wonderful"
    assert e.words.words[int(np.argmax(e.scores["ig"]))] == "wonderful"
    for method in ("attention", "rollout"):  # attention read-outs are non-negative shares of one row
        assert (e.scores[method] >= 0).all() and e.scores[method].sum() <= 1 + 1e-5
    assert json.loads(json.dumps(e.to_json()))["completeness_gap"] < 0.05


@pytest.mark.parametrize("arch", ARCHS)
def test_masked_word_explanations_on_every_architecture(arch):
    loaded = get_model(tiny_choice(arch))
    text = "the cat sat on the [MASK] ."  # typed as BERT writes it, whatever the model's own mask token
    target = choose_target(loaded, text, masked=True)
    e = explain(loaded, text, target, steps=16)
    assert target.kind == "mask" and len(e.words) == 7
    mask_word = e.words.words.index(loaded.tokenizer.mask_token)
    assert e.text == text.replace("[MASK]", loaded.tokenizer.mask_token)
    assert e.fixed == {mask_word} and all(s[mask_word] == 0 for s in e.scores.values())
    assert e.completeness.gap < 0.05
    assert e.probability == pytest.approx(float(probabilities(loaded, target, [e.text])[0]), rel=1e-4)


def test_deleting_the_top_two_ig_words_hurts_more_than_two_random_ones(classifier):
    drops = {"ig": [], RANDOM: []}
    for text in POSITIVE + NEGATIVE[::2]:
        e = explain(classifier, text, choose_target(classifier, text), ("ig",), steps=32)
        curves = sentence_faithfulness(classifier, e).curves
        for method in drops:
            drops[method].append(curves[method][0] - curves[method][2])
    assert np.mean(drops["ig"]) > np.mean(drops[RANDOM]) + 0.1, drops


def test_sentence_faithfulness_scores_every_method_and_random(classifier):
    text = POSITIVE[2]
    e = explain(classifier, text, choose_target(classifier, text), steps=16)
    f = sentence_faithfulness(classifier, e)
    assert set(f.comprehensiveness) == set(f.sufficiency) == {*METHODS, RANDOM}
    assert all(len(c) == 11 and c[0] == pytest.approx(e.probability) for c in f.curves.values())  # 0..10 deleted
    assert f.comprehensiveness["occlusion"] > f.comprehensiveness[RANDOM]


def test_counterfactuals_flip_the_label_and_change_only_their_edits(classifier, suggester):
    text = "i loved the park , it was wonderful ."
    found = counterfactuals(classifier, suggester, text, max_edits=2)
    assert found.label == "positive" and found.flips and found.tried > len(found.flips)
    original = split_words(found.text).words
    for flip in found.flips:
        assert flip.label != found.label and flip.probability > 0.5 and 1 <= len(flip.edits) <= 2
        edited = split_words(flip.text).words
        changed = {i for i, (a, b) in enumerate(zip(original, edited)) if a != b}
        assert len(edited) == len(original) and changed == {i for i, _, _ in flip.edits}
        assert all(original[i] == old and edited[i] == new for i, old, new in flip.edits)
        predicted = probabilities(classifier, Target("label", 1, "positive"), [flip.text])[0]
        assert predicted < 0.5 and predicted == pytest.approx(flip.original_probability, abs=1e-5)


def test_faithfulness_over_texts_and_its_cancel(classifier):
    result = dataset_faithfulness(classifier, POSITIVE[:3], ("ig", "occlusion"), steps=8)
    assert result.n == 3 and {r["method"] for r in result.table()} == {"ig", "occlusion", RANDOM}
    manager = JobManager()
    job = manager.submit("faithfulness", "tester", lambda job: dataset_faithfulness(
        classifier, POSITIVE * 20, steps=8, reporter=job))
    job.cancel()
    manager.wait(job, timeout=60)
    assert job.status == "cancelled" and job.result is None


@pytest.mark.parametrize("text, message", [
    ("", "Type a sentence"), ("   ", "Type a sentence"), ("[CLS] [SEP]", "nothing to explain")])
def test_texts_without_words_are_refused(classifier, text, message):
    with pytest.raises(UserError, match="(?i)" + message):
        explain(classifier, text, choose_target(classifier, text.strip() or "x"))
    if not text.strip():
        with pytest.raises(UserError, match=message):
            choose_target(classifier, text)


def test_bad_settings_and_targets_are_refused(classifier, tiny_bert):
    text = POSITIVE[0]
    target = choose_target(classifier, text)
    for steps in (0, 1001):
        with pytest.raises(UserError, match="between 1 and 1000 steps"):
            explain(classifier, text, target, steps=steps)
    with pytest.raises(UserError, match="not one of this classifier's labels"):
        choose_target(classifier, text, label="maybe")
    with pytest.raises(UserError, match="no trained classification head"):
        require_classifier(get_model(tiny_bert))
    masked = get_model(tiny_bert)
    with pytest.raises(UserError, match="exactly one"):
        explain(masked, "the [MASK] sat on the [MASK] .", Target("mask", 5, "cat"))
    with pytest.raises(UserError, match="not one word"):
        choose_target(masked, "the [MASK] sat .", mask_word="catsss", masked=True)


def test_a_mask_beyond_the_explained_tokens_is_named(tiny_bert):
    loaded = get_model(tiny_bert)
    with pytest.raises(UserError, match="beyond the part of the text that is explained"):
        choose_target(loaded, "the cat sat . " * 40 + "the [MASK] .", masked=True)


def test_a_very_long_text_is_explained_up_to_the_limit_with_a_notice(classifier):
    text = " ".join(["the film was wonderful ."] * 2_000)  # 10,000 words
    e = explain(classifier, text, choose_target(classifier, text), ("occlusion",), steps=4)
    assert "explanations cover the first 64" in e.notes[0]  # the toy model reads 64 tokens
    assert len(e.words) == 62 and e.words.words[-2:] == ["the", "film"]


def test_no_gradient_is_left_on_the_shared_model(classifier):
    text = POSITIVE[0]
    explain(classifier, text, choose_target(classifier, text), steps=8)
    assert all(p.grad is None for p in classifier.model.parameters())


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_explain_json_and_file(capsys, tmp_path):
    model = toy_classifier()
    code, out, _ = run_cli(capsys, "explain", POSITIVE[0], "--model", model, "--steps", "100", "--json")
    result = json.loads(out)
    assert code == 0 and result["label"] == "positive" and result["completeness_gap"] < 0.05
    assert set(result["methods"]) == set(METHODS) and all(len(v) == len(result["words"]) for v in result["methods"].values())
    lines = tmp_path / "texts.txt"
    lines.write_text(f"{POSITIVE[0]}\n\n{NEGATIVE[0]}\n")
    code, out, err = run_cli(capsys, "explain", "--file", str(lines), "--model", model, "--method", "occlusion", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 2 and len(rows) == 3 and "error" in rows[1] and rows[2]["label"] == "negative"
    assert list(rows[0]["methods"]) == ["occlusion"] and err.count("\n") == 1 and "line 2" in err
    code, out, err = run_cli(capsys, "explain", "the cat sat on the [MASK] .", "--mask-word", "mat",
                             "--model", tiny_choice("bert"), "--json")
    assert code == 0 and json.loads(out)["label"] == "mat"


def test_cli_counterfactual_and_faithfulness(capsys):
    model = toy_classifier()
    code, out, _ = run_cli(capsys, "counterfactual", POSITIVE[0], "--model", model, "--max-edits", "1", "--json")
    result = json.loads(out)
    assert code == 0 and result["original"]["label"] == "positive"
    assert all(f["label"] == "negative" and len(f["edits"]) == 1 for f in result["flips"])
    code, out, _ = run_cli(capsys, "faithfulness", "--model", model, "--eval", "builtin", "--n", "3",
                           "--steps", "4", "--json", "--quiet")
    result = json.loads(out)
    assert code == 0 and result["n"] == 3 and set(result["methods"]) == {*METHODS, RANDOM}


@pytest.mark.parametrize("argv, message", [
    (["explain", "hello"], "Name a fine-tuned classifier"),
    (["explain", "hello", "--model", "TOY", "--steps", "0"], "between 1 and 1000"),
    (["explain", "hello", "--model", "TOY", "--target", "maybe"], "not one of this classifier's labels"),
    (["counterfactual", "hello", "--model", "TOY", "--max-edits", "9"], "between 1 and 3"),
    (["faithfulness", "--model", "TOY", "--eval", "missing.csv"], "Cannot read"),
])
def test_cli_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    argv = [toy_classifier() if a == "TOY" else a for a in argv]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1 and not out


def test_explaining_a_tiny_bert_without_a_head_points_to_fine_tuning(capsys, tiny_bert):
    folder = tiny_bert.removeprefix("local:")
    code, _, err = run_cli(capsys, "explain", "hello", "--model", folder)
    assert code == 2 and "not a fine-tuned classifier" in err
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("choice, message", [
    ("/etc", "outside the model folders"), ("local:../../etc", "outside the model folders"),
    ("embedded", "no classification head"), ("bert-base-uncased", "No internet")])
def test_a_classifier_choice_from_the_page_cannot_leave_the_model_folders(choice, message, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match=message):
        open_classifier(choice)
