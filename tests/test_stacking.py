"""Stacking: out-of-fold by construction, a noisy member ignored, a memorising member not trusted."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from core.errors import UserError
from core.inputs.datasets import LabelledTexts
from core.training.ensemble import report
from core.training.stacking import Stacker, out_of_fold, stack

NAMES = ["negative", "positive"]


def toy(n: int, start: int = 0, seed: int = 0) -> LabelledTexts:
    rng = np.random.default_rng(seed)
    return LabelledTexts([f"text {i}" for i in range(start, start + n)], rng.integers(0, 2, n).tolist(), NAMES, "toy")


TRUTH = {t: y for data in (toy(300), toy(200, 300, 1)) for t, y in zip(data.texts, data.labels)}


def _rng(text: str, salt: int) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{salt}:{text}".encode()))


def member(kind: str, seen: list | None = None):
    """A toy member. `informative`: right 80% of the time; `noise`: random probabilities;
    `memoriser`: perfect on the texts it was trained on, a coin flip elsewhere. Every member refuses
    to score a text it was trained on, so stacking's out-of-fold promise is checked on every call."""
    def fit(train: LabelledTexts, reporter=None):
        trained_on = set(train.texts)
        if seen is not None:
            seen.append(len(trained_on))

        def predict(data: LabelledTexts, check: bool = True) -> np.ndarray:
            assert not (check and trained_on & set(data.texts)), "a member scored its own training rows"
            rows = []
            for text in data.texts:
                rng, y = _rng(text, {"informative": 1, "noise": 2, "memoriser": 3}[kind]), TRUTH[text]
                if kind == "informative":
                    p = 0.75 if rng.random() < 0.8 else 0.25
                    rows.append([1 - p, p] if y == 1 else [p, 1 - p])
                elif kind == "noise":
                    p = rng.random()
                    rows.append([1 - p, p])
                else:
                    p = float(y) if text in trained_on else rng.random()
                    rows.append([1 - p, p])
            return np.asarray(rows)
        predict.in_sample = lambda data: predict(data, check=False)
        return predict
    return fit


def test_out_of_fold_predictions_never_come_from_a_model_that_saw_the_row():
    seen = []
    oof = out_of_fold({"a": member("informative", seen), "b": member("noise")}, toy(300), folds=5)
    assert seen == [240] * 5  # five fits, each on the other four folds
    assert oof["a"].shape == (300, 2) and np.allclose(oof["a"].sum(1), 1) and (oof["a"].sum(1) > 0).all()


def test_stacking_gives_a_noise_member_near_zero_weight_and_beats_it():
    train, test = toy(300), toy(200, 300, 1)
    stacker, test_probs, stacked = stack({"good": member("informative"), "noise": member("noise")}, train, test, folds=5)
    weights = {w["member"]: w for w in stacker.weights()}
    assert weights["noise"]["share"] < 0.1 < 0.9 < weights["good"]["share"]
    assert weights["good"]["trust for positive"] > 0 and weights["good"]["trust for negative"] > 0
    result = report(test_probs, test.labels, stacked)
    assert result["stack"]["accuracy"] >= result["mean"]["accuracy"] and result["stack"]["accuracy"] > 0.75
    assert set(result) >= {"mean", "vote", "stack", "oracle", "best_member"}


def test_in_sample_predictions_would_make_stacking_trust_the_memoriser():
    """Why out-of-fold matters: trained on a member's predictions for its own training rows, the
    meta-classifier trusts the memoriser; out of fold it learns that it knows nothing."""
    train = toy(300)
    members = {"good": member("informative"), "memoriser": member("memoriser")}
    leaked = {name: fit(train).in_sample(train) for name, fit in members.items()}
    honest = out_of_fold(members, train, folds=5)
    share = {name: {w["member"]: w["share"] for w in Stacker.fit(probs, train.labels, NAMES).weights()}
             for name, probs in (("leaked", leaked), ("honest", honest))}
    assert share["honest"]["memoriser"] < 0.25 < 0.5 < share["leaked"]["memoriser"]


def test_bad_stacking_requests_are_user_errors():
    with pytest.raises(UserError, match="at least two members"):
        stack({"a": member("noise")}, toy(20), toy(5, 20))
    with pytest.raises(UserError, match="folds"):
        out_of_fold({"a": member("noise"), "b": member("noise")}, toy(20), folds=1)


def test_cli_stacks_small_members_and_reports_their_weights(capsys):
    import json

    from core.cli import main
    from test_trainer import tiny_words_choice

    code = main(["ensemble", "--train-members", "2", "--method", "stack", "--folds", "2", "--layers", "1",
                 "--epochs", "1", "--base", tiny_words_choice(), "--json", "--quiet"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and {m["model"] for m in result["members"]} == {"member-0", "member-1"}
    assert 0 <= result["stack"]["accuracy"] <= 1 and result["oracle"] >= max(m["accuracy"] for m in result["members"])
    shares = [w["share"] for w in result["weights"]]  # the tiny members barely learn: all 0 is possible
    assert [w["member"] for w in result["weights"]] == ["member-0", "member-1"] and sum(shares) <= 1 + 1e-3


def test_cli_refuses_to_stack_saved_models(capsys):
    from core.cli import main

    code = main(["ensemble", "--models", "a,b", "--method", "stack"])
    assert code == 2 and "never saw" in capsys.readouterr().err
