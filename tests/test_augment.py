"""Augmentation: each technique changes text the way it claims, seeds reproduce, datasets keep labels."""
from __future__ import annotations

import difflib
import json
import pickle
import time
from importlib.util import find_spec
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.offline import nltk_data
from core.augment.techniques import (MAX_WORDS, TECHNIQUES, augment_sentence, augment_texts, list_techniques,
                                     parse_recipe, unavailable_reason)
from core.augment.diff import change_summary, diff, diff_html
from core.augment.contextual import contextual_augment, word_vocabulary
from core.augment.dataset import augment_csv, augment_dataset, builtin_dataset
from core.cli import main
from core.inputs.csv_input import read_text_csv
from core.errors import UserError
from core.jobs import JOBS
from core.models.loading import get_model

TEXT = "The hotel room was clean and the staff were friendly but breakfast was cold"
NO_MLM = SimpleNamespace(has_mlm=False, choice="no-head-model")
WORDNET = nltk_data.unavailable_reason() is None


def one(method: str, text: str = TEXT, seed: int = 0, strength: float = 0.3, loaded=None) -> str:
    return augment_texts([text], method, n=1, strength=strength, seed=seed, loaded=loaded)[0][0]


def replaced_pairs(a: str, b: str) -> list[tuple[str, str]]:
    """(old word, new words) for every single word the augmenter replaced."""
    x, y = a.split(), b.split()
    if len(x) == len(y):
        return [(u, v) for u, v in zip(x, y) if u != v]
    return [(x[i1], " ".join(y[j1:j2])) for op, i1, i2, j1, j2 in
            difflib.SequenceMatcher(None, x, y).get_opcodes() if op == "replace" and i2 - i1 == 1]


# --------------------------------------------------------------------------- nlpaug techniques

def test_keyboard_changes_characters_not_word_count():
    out = one("keyboard")
    assert out != TEXT
    assert len(out.split()) == len(TEXT.split())
    changed = [(a, b) for a, b in zip(TEXT.split(), out.split()) if a != b]
    assert changed and all(len(a) == len(b) for a, b in changed)  # letters replaced, not added


@pytest.mark.parametrize("method, check", [
    ("char-insert", lambda a, b: len(b) > len(a) and len(b.split()) == len(a.split())),
    ("char-delete", lambda a, b: len(b) < len(a) and len(b.split()) == len(a.split())),
    ("char-substitute", lambda a, b: len(b) == len(a) and b != a),
    ("char-swap", lambda a, b: sorted(b) == sorted(a) and b != a),
    ("ocr", lambda a, b: len(b) == len(a) and b != a),
    ("word-swap", lambda a, b: sorted(b.split()) == sorted(a.split()) and b != a),
    ("word-delete", lambda a, b: len(b.split()) < len(a.split()) and _subsequence(b.split(), a.split())),
    ("word-crop", lambda a, b: len(b.split()) < len(a.split()) and _subsequence(b.split(), a.split())),
    ("split", lambda a, b: len(b.split()) > len(a.split()) and b.replace(" ", "") == a.replace(" ", "")),
    ("spelling", lambda a, b: b != a and len(replaced_pairs(a, b)) >= 1),
])
def test_each_offline_technique_does_what_it_claims(method, check):
    out = one(method)
    assert check(TEXT, out), out


def _subsequence(short: list[str], long: list[str]) -> bool:
    it = iter(long)
    return all(word in it for word in short)


def test_seeds_reproduce_and_differ():
    for method in ("keyboard", "word-swap", "spelling"):
        assert one(method, seed=7) == one(method, seed=7)
    assert len({one("keyboard", seed=s) for s in range(5)}) == 5


def test_a_row_gets_the_same_output_alone_or_in_a_batch():
    texts = ["First sentence is here", TEXT, "Another short one to change"]
    batch = augment_texts(texts, "keyboard", n=2, seed=3)
    alone = augment_texts([TEXT], "keyboard", n=2, seed=3, first_row=1)
    assert batch[1] == alone[0] and len(batch) == 3 and all(len(r) == 2 for r in batch)


def test_contractions_and_hyphens_survive_nlpaug_tokenization():
    out = one("word-swap", "I didn't like the well-known actor at all", strength=0.2)
    assert "didn't" in out.split() and "well-known" in out.split()


@pytest.mark.skipif(not WORDNET, reason="needs `python -m core setup-nltk`")
def test_synonyms_are_wordnet_synonyms():
    from nltk.corpus import wordnet

    pairs = []
    for seed in range(3):
        pairs += replaced_pairs(TEXT, one("synonym", seed=seed))
    assert len(pairs) >= 3
    for old, new in pairs:
        lemmas = {lemma.name().lower() for s in wordnet.synsets(old.lower()) for lemma in s.lemmas()}
        assert new.lower().replace(" ", "_") in lemmas, (old, new)


@pytest.mark.skipif(not WORDNET, reason="needs `python -m core setup-nltk`")
def test_antonyms_flip_meaning_with_wordnet_antonyms():
    from nltk.corpus import wordnet

    text = "The food was good and the room was clean"
    pairs = replaced_pairs(text, one("antonym", text=text, strength=0.5))
    assert pairs
    for old, new in pairs:
        antonyms = {a.name().lower() for s in wordnet.synsets(old.lower()) for lemma in s.lemmas()
                    for a in lemma.antonyms()}
        assert new.lower().replace(" ", "_") in antonyms, (old, new)


def test_wordnet_techniques_say_how_to_enable_them_when_data_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(nltk_data, "NLTK_DATA", tmp_path)
    reason = unavailable_reason("synonym")
    assert "setup-nltk" in reason and "WordNet" in reason and "tagger" in reason
    with pytest.raises(UserError, match="unavailable"):
        augment_texts([TEXT], "antonym")


@pytest.mark.skipif(not WORDNET, reason="needs `python -m core setup-nltk`")
def test_built_wordnet_has_the_right_lexnames_and_tagger():
    import nltk
    from nltk.corpus import wordnet

    nltk_data.use_project_data()
    assert wordnet.synset("dog.n.01").lexname() == "noun.animal"
    assert wordnet.synset("run.v.01").lexname() == "verb.motion"
    assert [t for _, t in nltk.pos_tag("She runs quickly to the bank".split())] == \
        ["PRP", "VBZ", "RB", "TO", "DT", "NN"]


@pytest.mark.skipif(not (nltk_data.DEBIAN_WORDNET / "index.sense").is_file()
                    or find_spec("textblob_aptagger") is None,
                    reason="needs apt wordnet-base wordnet-sense-index and pip textblob-aptagger")
def test_setup_nltk_command_builds_a_working_folder(tmp_path, monkeypatch, capsys):
    import nltk

    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))
    assert nltk_data.missing(tmp_path) == ["WordNet", "the POS tagger"]
    assert main(["setup-nltk", "--target", str(tmp_path)]) == 0
    assert nltk_data.missing(tmp_path) == []
    assert not (tmp_path / "corpora" / "wordnet" / "data.noun").is_symlink()
    assert "'The quick fox jumps' is tagged DT JJ NN" in capsys.readouterr().out


def test_tagger_conversion_refuses_pickles_that_run_code(tmp_path):
    evil = tmp_path / "evil.pickle"
    evil.write_bytes(pickle.dumps(time.sleep, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        nltk_data.install_tagger(tmp_path / "out", evil)
    good = tmp_path / "good.pickle"
    good.write_bytes(pickle.dumps(({"bias": {"NN": 1.0}}, {"the": "DT"}, {"NN", "DT"}), protocol=2))
    target = nltk_data.install_tagger(tmp_path / "out", good)
    assert json.loads((target / "averaged_perceptron_tagger_eng.classes.json").read_text()) == ["DT", "NN"]


def test_lexnames_file_matches_wordnet_numbering(tmp_path):
    nltk_data.write_lexnames(tmp_path / "lexnames")
    lines = (tmp_path / "lexnames").read_text().splitlines()
    assert len(lines) == 45
    assert lines[0].split() == ["00", "adj.all", "3"] and lines[5].split() == ["05", "noun.animal", "1"]
    assert lines[44].split() == ["44", "adj.ppl", "3"]


# ------------------------------------------------------------------------- contextual (batched)

def test_contextual_substitute_keeps_word_count_and_uses_real_words(tiny_any):
    loaded = get_model(tiny_any)
    _, words = word_vocabulary(loaded)
    vocab = {w.lower() for w in words if w}
    texts = ["the cat sat on the mat .", "i loved this film , it was wonderful .", "paris is the capital of france ."]
    outs = contextual_augment(loaded, texts, "substitute", n=3, strength=0.4, seed=1)
    changed = 0
    for text, variants in zip(texts, outs):
        for out in variants:
            assert len(out.split()) == len(text.split())
            for old, new in zip(text.split(), out.split()):
                if old != new:
                    changed += 1
                    assert new.lower() in vocab and new.isalpha(), new
            for special in ("[CLS]", "[SEP]", "[UNK]", "[MASK]", "<s>", "<mask>", "<unk>", "##"):
                assert special not in out
    assert changed >= 9  # every variation changed at least one word


def test_contextual_insert_adds_words_and_keeps_the_original(tiny_bert):
    loaded = get_model(tiny_bert)
    text = "the quick brown fox jumps over the lazy dog"
    for out in contextual_augment(loaded, [text], "insert", n=3, strength=0.3, seed=2)[0]:
        words = out.split()
        assert len(words) == len(text.split()) + 3  # ceil(0.3 * 9)
        assert _subsequence(text.split(), words)


def test_contextual_is_seeded_and_independent_of_batching(tiny_bert):
    loaded = get_model(tiny_bert)
    texts = ["the cat sat on the mat .", "the dog ran in the park ."]
    a = contextual_augment(loaded, texts, "substitute", n=2, seed=5, batch_size=1)
    b = contextual_augment(loaded, texts, "substitute", n=2, seed=5, batch_size=64)
    assert a == b
    assert contextual_augment(loaded, texts[1:], "substitute", n=2, seed=5, first_row=1)[0] == a[1]
    assert a != contextual_augment(loaded, texts, "substitute", n=2, seed=6)


def test_contextual_leaves_words_past_the_model_limit_alone(tiny_bert):
    loaded = get_model(tiny_bert)  # tiny models read 64 tokens
    text = " ".join(["cat"] * 300)
    out = contextual_augment(loaded, [text], "substitute", n=1, strength=0.5, seed=0)[0][0]
    words = out.split()
    assert len(words) == 300 and words[100:] == ["cat"] * 200 and words[:60] != ["cat"] * 60


def test_contextual_refuses_a_model_without_an_mlm_head():
    assert "no trained masked-word (MLM) head" in unavailable_reason("contextual-substitute", NO_MLM)
    with pytest.raises(UserError, match="MLM"):
        augment_texts([TEXT], "contextual-insert", loaded=NO_MLM)


def test_back_translation_is_disabled_offline_with_the_reason():
    row = next(r for r in list_techniques(NO_MLM) if r["name"] == "back-translation")
    assert row["offline"] is False and "internet" in row["reason"]
    with pytest.raises(UserError, match="internet"):
        augment_sentence(TEXT, "back-translation")


# ------------------------------------------------------------------------------- recipes, input

def test_pipelines_run_every_step_or_sometimes():
    seq = augment_texts([TEXT], "keyboard+split", n=5, strength=0.3, seed=0)[0]
    for out in seq:
        assert len(out.split()) > len(TEXT.split())  # split ran
        assert out.replace(" ", "") != TEXT.replace(" ", "")  # keyboard ran
    counts = {len(o.split()) > len(TEXT.split()) for o in augment_texts([TEXT], "sometimes:split", n=20, seed=1)[0]}
    assert counts == {True, False}  # split ran in some variations only
    assert parse_recipe("sometimes:keyboard+synonym").name == "sometimes:keyboard+synonym"
    with pytest.raises(UserError, match="on its own"):
        parse_recipe("keyboard+contextual-substitute")
    with pytest.raises(UserError, match="Unknown technique"):
        parse_recipe("keyboard+nope")


@pytest.mark.parametrize("text, method, message", [
    ("", "keyboard", "Type a sentence"),
    ("   ", "keyboard", "Type a sentence"),
    ("hello", "word-swap", "at least 2 words"),
    ("word " * 5000, "keyboard", "5,000 words"),
])
def test_bad_text_gets_a_clear_message(text, method, message):
    with pytest.raises(UserError, match=message):
        augment_sentence(text, method)


@pytest.mark.parametrize("options, message", [
    (dict(n=0), "between 1 and 20"), (dict(n=21), "between 1 and 20"),
    (dict(strength=0), "between 0 and 1"), (dict(strength=1.5), "between 0 and 1"),
    (dict(seed=-1), "0 or more"),
])
def test_bad_settings_get_a_clear_message(options, message):
    with pytest.raises(UserError, match=message):
        augment_texts([TEXT], "keyboard", **options)


def test_one_word_text_works_where_it_can():
    assert augment_sentence("wonderful", "keyboard", n=1, strength=0.5)[0] != "wonderful"
    assert MAX_WORDS == 1000


def test_every_technique_has_a_lesson_and_unique_name():
    assert len(TECHNIQUES) == 16
    assert all(t.lesson.endswith(".") and t.amount for t in TECHNIQUES.values())


# ------------------------------------------------------------------------------------------ diff

@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_diff_rebuilds_both_texts(a, b):
    segs = diff(a, b)
    assert "".join(t for op, t in segs if op != "insert") == a
    assert "".join(t for op, t in segs if op != "delete") == b


def test_diff_marks_only_changed_letters_and_escapes_html():
    segs = diff("I love <b>cats</b>", "I lvoe <b>cats</b>!")
    assert ("equal", "I l") in segs and ("insert", "!") in segs
    html = diff_html("<script>alert(1)</script> hi", "<script>alert(2)</script> hi")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert change_summary("a b c", "a x c") == "1 word changed · 3 -> 3 words"
    assert change_summary("a b", "a b") == "unchanged"


# ------------------------------------------------------------------------------------- datasets

def test_dataset_keeps_labels_and_counts_rows():
    frame = read_text_csv(b"text,label\nthe food was great and warm,pos\nthe room was dirty and cold,neg\n"
                          b"ok,neg\n", "text", "label")
    result = augment_dataset(frame, "text", "label", "word-swap", n=3, seed=0)
    s = result.summary()
    assert s["original_rows"] == 3 and s["generated"] == 9
    assert s["duplicates_dropped"] >= 3  # "ok" cannot be swapped: its 3 copies equal the original
    assert s["output_rows"] == 3 + 9 - s["duplicates_dropped"] == len(result.frame)
    out = result.frame
    new = out[out["augmentation"] == "word-swap"]
    assert (new["label"].to_numpy() == frame.loc[new["source_row"], "label"].to_numpy()).all()
    assert not out.duplicated(["text", "label"]).any()
    assert list(out["text"][:3]) == list(frame["text"])  # originals first, untouched


def test_builtin_dataset_augments_only_the_training_split():
    frame = builtin_dataset()
    small = frame.groupby("split").head(5).reset_index(drop=True)
    result = augment_dataset(small, "text", "label", "keyboard", n=2, seed=0)
    new = result.frame[result.frame["augmentation"] != ""]
    assert result.n_augmented_rows == 5 and set(new["split"]) == {"train"}
    assert len(result.frame) == 15 + 10 - result.n_duplicates
    everything = augment_dataset(small, "text", "label", "keyboard", n=1, train_only=False)
    assert everything.n_augmented_rows == 15


def test_augment_csv_reports_a_missing_column(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("sentence,y\nhello there,1\n")
    with pytest.raises(UserError, match="no column 'text'.*'sentence', 'y'"):
        augment_csv(path, "text", None, "keyboard")


def test_dataset_job_can_be_cancelled():
    frame = read_text_csv(("text\n" + "a fine sentence to change\n" * 200).encode(), "text")

    def work(job):
        def progress(done, total):
            job.cancel() if done == 10 else None
            job.check_cancelled()
            job.report(done / total)
        return augment_dataset(frame, "text", None, "keyboard", n=1, progress=progress)

    job = JOBS.wait(JOBS.submit("augment", "test-cancel", work), timeout=60)
    assert job.status == "cancelled" and job.result is None and job.progress < 0.1


# ----------------------------------------------------------------------------------------- CSV

@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"text,label\n", "no rows"),
    (b"PK\x03\x04\x00\x00\x08\x00binary", "binary file"),
    ("text\ncafé crème\n".encode("latin-1"), "not UTF-8.*line 2"),
    (b"text,label\n,pos\n", "No row has text"),
    (b'text\n"never closed\n', "not a well-formed CSV"),
])
def test_bad_csv_gets_a_clear_message(data, message):
    with pytest.raises(UserError, match=message):
        read_text_csv(data, "text", "label" if b"label" in data else None)


def test_csv_caps_rows_and_counts_skipped_ones(tmp_path):
    with pytest.raises(UserError, match="more than 10 rows"):
        read_text_csv(b"text\n" + b"a\n" * 11, "text", max_rows=10)
    path = tmp_path / "in.csv"
    path.write_bytes("\ufefftext,label\n  hi  ,pos\nno label,\n,neg\n\"a, b\",neg\n".encode())
    frame = read_text_csv(path, "text", "label")
    assert list(frame["text"]) == ["hi", "a, b"] and frame.attrs["dropped"] == 2
    with pytest.raises(UserError, match="two different columns"):
        read_text_csv(path, "text", "text")


# ------------------------------------------------------------------------------------------- CLI

def test_cli_augment_json_contract(capsys):
    assert main(["augment", "The staff were friendly and helpful", "--method", "keyboard", "--n", "2",
                 "--seed", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "keyboard" and len(out["outputs"]) == 2
    assert out["outputs"] == augment_sentence("The staff were friendly and helpful", "keyboard", 2, seed=4)


def test_cli_list_and_errors(capsys, tiny_bert):
    assert main(["augment", "--list", "--model", tiny_bert, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(TECHNIQUES) and set(rows[0]) == {"name", "offline", "reason"}
    by_name = {r["name"]: r for r in rows}
    assert by_name["contextual-substitute"]["reason"] is None and by_name["keyboard"]["offline"] is True
    assert main(["augment", "", "--method", "keyboard"]) == 2
    assert main(["augment", "hi", "--method", "nope"]) == 2
    assert "Unknown technique" in capsys.readouterr().err


def test_cli_augment_csv(tmp_path, capsys, tiny_bert):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("text,label\nthe cat sat on the mat,a\nthe dog ran in the park,b\n")
    assert main(["augment-csv", str(src), str(dst), "--method", "contextual-substitute", "--n", "2",
                 "--label-column", "label", "--model", tiny_bert, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    written = read_text_csv(dst, "text", "label")
    assert summary["output_rows"] == len(written) == 2 + 4 - summary["duplicates_dropped"]
    assert set(written["label"]) == {"a", "b"}
    assert main(["augment-csv", str(tmp_path / "missing.csv"), str(dst), "--method", "keyboard"]) == 2
