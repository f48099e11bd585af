"""Using task models: entities read from first pieces, answers found in later windows, pair
probabilities, and the `predict` command's contract."""
from __future__ import annotations

import json

import pytest

from core.cli import main
from core.errors import UserError
from core.models.classifiers import HEADS, classify, load_classifier, open_classifier
from core.tasks.predict import answer_question, head_kind, predict_record, split_words, tag_text
from tests.hostile import HOSTILE_TEXTS
from in_process import run

pytestmark = pytest.mark.usefixtures("one_thread")
ALL = tuple(HEADS)


@pytest.fixture(scope="module")
def models(trained):
    return {task: load_classifier(folder, ALL) for task, folder in trained.items()}


def test_words_are_split_like_conll():
    assert [w for w, _, _ in split_words("Jean-Luc met O'Neill in the U.S., then left.")] == \
        ["Jean-Luc", "met", "O'Neill", "in", "the", "U.S", ".", ",", "then", "left", "."]
    text = "  Ada  lives"
    assert [(text[s:e], s) for _, s, e in split_words(text)] == [("Ada", 2), ("lives", 7)]


def test_a_tagger_reads_each_word_from_its_first_piece(models):
    tagger = models["tokens"]
    assert head_kind(tagger) == "tokens"
    text = "bob sat on the  mat, carl"
    tagged = tag_text(tagger, text)
    assert [(e["text"], e["type"]) for e in tagged.entities] == [("bob", "PER"), ("carl", "PER")]
    assert all(text[e["start"]:e["end"]] == e["text"] for e in tagged.entities)
    assert [w["tag"] for w in tagged.words] == ["B-PER", "O", "O", "O", "O", "O", "B-PER"]
    # An unknown word is split into three pieces: only the first is read.
    split = tag_text(tagger, "zzq sat")
    pieces = [p for p in split.pieces if p["word"] == 0]
    assert len(pieces) == 3 and [p["read"] for p in pieces] == [True, False, False]
    assert split.words[0]["tag"] == pieces[0]["tag"] and split.words[0]["probability"] == pieces[0]["probability"]
    assert sum(p["read"] for p in split.pieces) == len(split.words)  # [CLS] and [SEP] are never read


def test_words_past_the_length_are_tagged_o_and_said(models):
    tagger = models["tokens"]
    tagged = tag_text(tagger, " ".join(["cat"] * 100))  # one piece a word
    fitted = tagger.max_length - 2
    assert [w["tag"] for w in tagged.words[fitted:]] == ["O"] * (100 - fitted)
    assert tagged.notice.startswith(f"The last {100 - fitted} words")
    with pytest.raises(UserError, match="Type a sentence"):
        tag_text(tagger, "   ")


def test_the_answer_in_a_later_window_is_found_with_its_offsets(models):
    reader = models["qa"]
    assert head_kind(reader) == "qa"
    context = " ".join(["the cat sat on the mat"] * 20) + " and dora sat"
    found = answer_question(reader, "who is it?", context)
    assert found.windows > 1 and found.window == found.windows - 1
    assert found.text == "dora" and context[found.start:found.end] == "dora" and found.start == context.index("dora")
    first, last = found.first_last
    assert "".join(t.removeprefix("##") for t in found.tokens[first:last + 1]) == "dora" and found.in_context[first]
    assert abs(sum(found.start_probabilities) - 1) < 1e-4 and abs(sum(found.end_probabilities) - 1) < 1e-4
    assert found.start_probabilities[first] == max(p for p, c in zip(found.start_probabilities, found.in_context) if c)
    with pytest.raises(UserError, match="too long"):
        answer_question(reader, " ".join(["who"] * 200), context)
    with pytest.raises(UserError, match="paragraph and a question"):
        answer_question(reader, "", context)


def test_a_pair_classifier_reads_both_sentences(models):
    pairs = models["pairs"]
    assert head_kind(pairs) == "classifier"
    same, scores, _ = classify(pairs, "the cat sat", "the cat sat")
    different, _, _ = classify(pairs, "the cat sat", "the dog ran")
    assert (same, different) == ("same", "different") and abs(sum(scores.values()) - 1) < 1e-5
    assert predict_record(pairs, {"text_a": "the cat sat", "text_b": "the cat sat"})["label"] == "same"


def test_a_model_is_refused_for_a_head_it_lacks(trained):
    with pytest.raises(UserError, match="not a fine-tuned classifier"):
        load_classifier(trained["tokens"])
    with pytest.raises(UserError, match="not a fine-tuned question answerer"):
        load_classifier(trained["tokens"], ("ForQuestionAnswering",))


def test_a_hub_preset_offline_is_one_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="No internet"):
        open_classifier("dslim/bert-base-NER", ALL)


def predict(capsys, *argv):
    """`python -m core predict ...` in this process: (exit code, stdout, stderr)."""
    code = main(["predict", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_predict_answers_tags_and_pairs(trained, capsys):
    code, out, err = predict(capsys, "bob sat with dora", "--question", "who is it?", "--model", str(trained["qa"]), "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["answer"] in ("bob", "dora") and "bob sat with dora"[answer["start"]:answer["end"]] == answer["answer"]
    code, out, _ = predict(capsys, "bob sat", "--model", str(trained["tokens"]))
    assert code == 0 and out.splitlines() == ["bob/B-PER sat", "  PER: bob (0–3)"]
    code, out, _ = predict(capsys, "the cat sat", "--pair", "the cat sat", "--model", str(trained["pairs"]), "--json")
    assert json.loads(out)["label"] == "same"
    code, _, err = predict(capsys, "text", "--file", "x.jsonl", "--model", str(trained["tokens"]))
    assert code == 2 and "either a TEXT or --file" in err
    code, _, err = predict(capsys, "hello", "--model", "/nonexistent/folder")
    assert code == 2 and err.count("\n") == 1


def test_cli_predict_file_streams_lines_and_names_the_bad_one(trained, tmp_path):
    """One JSON line per input line, and a bad line is one line on stderr."""
    lines = [{"tokens": ["bob", "sat"]}, {"text": "carl ran"}, {"tokens": []}, {"text": "never reached"}]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    code, stdout, err = run(["predict", "--file", str(tmp_path / "in.jsonl"), "--model", str(trained["tokens"])])
    out = [json.loads(line) for line in stdout.splitlines()]
    assert [e["text"] for e in out[0]["entities"]] == ["bob"] and out[0]["words"][1] == \
        {"word": "sat", "tag": "O", "start": 4, "end": 7}
    assert len(out) == 2  # the lines before the bad one are kept
    assert code == 2 and err.count("\n") == 1 and "line 3" in err


@pytest.mark.parametrize("name", HOSTILE_TEXTS)
def test_predict_survives_hostile_text_on_every_head(trained, capsys, name):
    text = HOSTILE_TEXTS[name]
    for argv in ([text, "--model", str(trained["tokens"])], [text, "--question", text, "--model", str(trained["qa"])],
                 ["the cat sat", "--pair", text, "--model", str(trained["pairs"])]):
        code, out, err = predict(capsys, *argv, "--json")
        assert code in (0, 2) and "Traceback" not in out + err, (argv, err)
        if code == 0:
            json.loads(out)
        else:
            assert err.count("\n") == 1 and err.startswith("error:"), err


def test_a_record_with_text_of_the_wrong_type_is_one_message(models):
    with pytest.raises(UserError, match='"question" must be text'):
        predict_record(models["qa"], {"context": "bob sat", "question": 3})
    with pytest.raises(UserError, match='"text" must be text'):
        predict_record(models["pairs"], {"text": ["a"]})
    word = predict_record(models["tokens"], {"tokens": ["bob", 7]})["words"][1]
    assert (word["word"], word["start"], word["end"]) == ("7", 4, 5)  # pre-split words keep their offsets
