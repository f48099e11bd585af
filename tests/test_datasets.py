"""Labelled data for fine-tuning: every way a CSV can be wrong for a classifier gets a clear message."""
from __future__ import annotations

import pandas as pd
import pytest

from core.inputs.datasets import (LabelledTexts, builtin_sentiment, from_frame, load_hub_dataset, read_labelled_csv,
                           split_validation)
from core.errors import UserError


def csv_bytes(rows, header="text,label") -> bytes:
    return (header + "\n" + "\n".join(rows) + "\n").encode()


def test_any_number_of_classes_with_stable_ids():
    data = read_labelled_csv(csv_bytes(["a cat,10", "a dog,2", "a cow,2", "a pig,1", "an owl,10"]), "text", "label")
    assert data.label_names == ["1", "2", "10"]  # numbers in numeric order, not "1, 10, 2"
    assert data.labels == [2, 1, 1, 0, 2] and data.texts[0] == "a cat"
    assert data.class_counts() == {"1": 1, "2": 2, "10": 2}


def test_evaluation_uses_the_training_ids_and_refuses_unseen_labels():
    train = read_labelled_csv(csv_bytes(["good,pos", "bad,neg"]), "text", "label")
    ev = read_labelled_csv(csv_bytes(["fine,pos", "awful,neg"]), "text", "label", train.label_names)
    assert ev.labels == [1, 0] and ev.label_names == ["neg", "pos"]
    with pytest.raises(UserError, match="'meh'.*never shows"):
        read_labelled_csv(csv_bytes(["ok,meh", "bad,neg"]), "text", "label", train.label_names, name="eval.csv")


def test_one_class_only_is_refused():
    with pytest.raises(UserError, match="at least two classes"):
        read_labelled_csv(csv_bytes(["good,pos", "great,pos"]), "text", "label")


def test_missing_values_in_a_frame_point_at_the_row():
    frame = pd.DataFrame({"text": ["a", "b", None, "d"], "label": ["x", None, "y", "x"]})
    with pytest.raises(UserError, match=r"2 row\(s\).*data row 2"):
        from_frame(frame, "text", "label")


def test_csv_rows_without_a_label_are_skipped_and_counted():
    data = read_labelled_csv(csv_bytes(["good,pos", "no label here,", "bad,neg"]), "text", "label")
    assert len(data) == 2 and data.label_names == ["neg", "pos"]


@pytest.mark.parametrize("raw,message", [
    (b"", "empty"),
    (b"text,label\n", "no rows"),
    (b"\x00\x01binary", "binary"),
    (csv_bytes(["good,pos"], header="sentence,label"), "no column 'text'"),
])
def test_broken_files_get_clear_messages(raw, message):
    with pytest.raises(UserError, match=message):
        read_labelled_csv(raw, "text", "label")


def test_huge_files_are_refused_before_training():
    rows = [f"text {i},{i % 2}" for i in range(30)]
    with pytest.raises(UserError, match="more than 20 rows"):
        read_labelled_csv(csv_bytes(rows), "text", "label", max_rows=20)


def test_same_column_for_text_and_label_is_refused():
    with pytest.raises(UserError, match="two different columns"):
        read_labelled_csv(csv_bytes(["good,pos", "bad,neg"]), "text", "text")


def test_validation_split_is_stratified_and_disjoint():
    data = LabelledTexts([f"t{i}" for i in range(100)], [0] * 80 + [1] * 20, ["a", "b"], "d")
    train, val = split_validation(data, 0.2, seed=1)
    assert len(train) == 80 and len(val) == 20
    assert val.class_counts() == {"a": 16, "b": 4}
    assert not set(train.texts) & set(val.texts) and len(set(train.texts) | set(val.texts)) == 100
    assert split_validation(data, 0.2, seed=1)[1].texts == val.texts


def test_too_few_rows_to_hold_out_a_validation_set():
    with pytest.raises(UserError, match="too few"):
        split_validation(LabelledTexts(["a", "b", "c"], [0, 1, 0], ["x", "y"]), 0.2)


def test_builtin_sentiment_splits():
    train = builtin_sentiment("train")
    val = builtin_sentiment("validation", train.label_names)
    test = builtin_sentiment("test", train.label_names)
    assert train.label_names == ["negative", "positive"]
    assert (len(train), len(val), len(test)) == (1090, 140, 140)
    assert train.class_counts() == {"negative": 545, "positive": 545}
    assert not set(train.texts) & set(val.texts)
    with pytest.raises(UserError, match="no 'dev' split"):
        builtin_sentiment("dev")


def test_hub_datasets_offline_and_unknown_names_are_friendly():
    with pytest.raises(UserError, match="No internet.*built-in"):
        load_hub_dataset("rotten_tomatoes")  # the test session is offline (HF_HUB_OFFLINE=1)
    with pytest.raises(UserError, match="Unknown hub dataset"):
        load_hub_dataset("my/secret")
