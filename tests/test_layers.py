"""What the layers know: token tables, the aligned projector, sense similarity, probes, neighbours, query-key maps."""
from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import ortho_group

from conftest import tiny_choice
from in_process import run
from core.errors import UserError
from core.explain.words import split_words
from core.jobs import JobManager
from core.layers import neighbours, pos
from core.layers.neighbours import build_index, nearest, open_index
from core.layers.probes import control_tags, run_probes, selectivity, sentence_split
from core.layers.projector import align, project
from core.layers.query_key import attentionviz_transform, query_key_map, softmax_rows, spread
from core.layers.senses import SENSES, sense_sentences, sense_similarity
from core.layers import states
from core.layers.states import clean_sentences, first_token_vectors, sentence_rows, token_table
from core.models.loading import get_model

SENTENCES = ["The cat sat on the unbelievably warm mat.", "She ran to the station.", "Dogs bark loudly at night."]


@pytest.fixture(scope="module")
def embedded():
    return get_model("embedded")


@pytest.fixture(scope="module")
def sense_table(embedded):
    return token_table(embedded, sense_sentences())


def test_token_table_rows_are_the_tokens_without_specials_and_match_one_sentence_at_a_time(tiny_any):
    loaded = get_model(tiny_any)
    table = token_table(loaded, SENTENCES)
    assert table.n_layers == loaded.config.num_hidden_layers + 1
    assert table.states.shape[:2] == (table.n_layers, len(table.tokens))
    assert not {"[CLS]", "[SEP]", "<s>", "</s>", "[PAD]", "<pad>"} & set(table.tokens)
    assert sorted(set(table.sentence.tolist())) == [0, 1, 2]
    assert table.word_text(int(np.flatnonzero(table.sentence == 0)[-2])) == "mat"
    for s, text in enumerate(SENTENCES):  # batched with padding == one sentence alone
        alone = token_table(loaded, [text])
        np.testing.assert_allclose(table.states[:, table.sentence == s], alone.states, atol=1e-4)
    assert "⟦" in table.context(0) and table.first[0]


def test_first_token_vectors_are_the_tables_and_no_row_keeps_its_batch_alive(tiny_bert):
    loaded = get_model(tiny_bert)
    np.testing.assert_allclose(first_token_vectors(loaded, SENTENCES), token_table(loaded, SENTENCES).cls, atol=1e-6)
    for rows in sentence_rows(loaded, SENTENCES):  # a view would hold the whole padded batch in memory
        for array in (rows.cls, rows.states):
            assert array.base is None or array.base.nbytes == array.nbytes  # its own memory, nothing more


def test_long_sentences_come_in_batches_of_at_most_the_token_budget(tiny_bert, monkeypatch):
    loaded = get_model(tiny_bert)
    monkeypatch.setattr(states, "BATCH_TOKENS", 64)
    texts = [" ".join(["word"] * n) for n in (3, 5, 20, 22, 24, 25, 26)]
    batches, lengths = states._batches(loaded, texts, batch_size=32)
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))
    assert all(len(b) * max(lengths[i] for i in b) <= 64 for b in batches if len(b) > 1)
    assert len(batches) >= 3  # the long ones could not all share one batch


def test_tagging_leaves_no_tagger_in_memory():
    if pos.tagger_missing():
        pytest.skip(pos.tagger_missing())
    import nltk.tag

    nltk.tag._get_tagger.cache_clear()  # another caller (nlpaug's synonyms) may have filled it
    assert pos.tag_words([["The", "cat", "sat", "."]]) == [["DET", "NOUN", "VERB", "."]]
    assert nltk.tag._get_tagger.cache_info().currsize == 0  # nltk.pos_tag's tagger would stay for good


def test_procrustes_alignment_leaves_distances_and_recovers_a_rotation():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(50, 3))
    rotated = first @ ortho_group.rvs(3, random_state=1) + 5.0  # the same cloud, turned, mirrored and moved
    aligned = align([first, rotated, rng.normal(size=(50, 3))])
    for before, after in zip([first, rotated], aligned):
        np.testing.assert_allclose(pdist(before), pdist(after), atol=1e-9)
    np.testing.assert_allclose(aligned[1], aligned[0], atol=1e-9)  # the turn is undone exactly


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_projection_keeps_each_layers_distances(method, embedded):
    table = token_table(embedded, SENTENCES)
    shown = project(table, method, 2)
    assert shown.points.shape == (table.n_layers, len(table.tokens), 2) and np.isfinite(shown.points).all()
    if method == "pca":
        from sklearn.decomposition import PCA

        for layer in range(table.n_layers):
            alone = PCA(n_components=2).fit_transform(table.states[layer])
            np.testing.assert_allclose(pdist(shown.points[layer]), pdist(alone), rtol=1e-4, atol=1e-4)
        assert all(0 < sum(e) <= 1 for e in shown.explained)


def test_projection_refuses_too_few_tokens_and_bad_settings(tiny_bert):
    table = token_table(get_model(tiny_bert), ["a b"])
    with pytest.raises(UserError, match="at least 5 tokens"):
        project(table)
    with pytest.raises(UserError, match="pca, umap"):
        project(table, "tsne")
    with pytest.raises(UserError, match="one per line"):
        clean_sentences(["", "  "], 10)
    assert clean_sentences(["a"] * 5, 3) == (["a"] * 3, ["Only the first 3 of your 5 sentences are used."])


def test_the_two_banks_part_ways_with_depth(sense_table):
    similarity = sense_similarity(sense_table)
    assert similarity.words == list(SENSES)
    bank = similarity.words.index("bank")
    assert similarity.across[bank][0] > 0.9 and similarity.across[bank][-1] < similarity.across[bank][0] - 0.2
    # Across senses drops below within one sense at the top, for every word.
    assert (similarity.across[:, -1] < similarity.within[:, -1]).all()


def test_control_tags_are_fixed_per_word_type_and_follow_the_real_distribution():
    words = ["The", "the", "cat", "runs", "Cat"] * 200
    tags = np.array(["DET", "DET", "NOUN", "VERB", "NOUN"] * 200, dtype=object)
    drawn = control_tags(words, tags)
    by_type = {}
    for w, t in zip(words, drawn):
        by_type.setdefault(w.lower(), set()).add(t)
    assert all(len(v) == 1 for v in by_type.values())
    assert set(drawn) <= set(tags)
    many = control_tags([f"w{i}" for i in range(3000)], np.array(["A"] * 2700 + ["B"] * 300, dtype=object))
    assert 0.85 < np.mean(many == "A") < 0.95


def test_pos_probe_beats_the_majority_at_every_layer_and_is_more_selective_than_control_in_the_middle(embedded):
    results = run_probes(embedded, ("pos", "control"), 3000)
    pos_, control = results["pos"], results["control"]
    assert len(pos_.accuracy) == 7 and pos_.classes >= 10
    assert all(a > pos_.majority + 0.4 for a in pos_.accuracy)
    middle = range(2, 5)
    assert all(control.accuracy[l] < pos_.accuracy[l] - 0.2 for l in middle)
    assert max(range(7), key=selectivity(results).__getitem__) in middle
    assert control.accuracy[0] > control.accuracy[4]  # memorising word types is easiest from the embeddings


def test_sentiment_probe_reads_cls_better_than_chance(embedded):
    result = run_probes(embedded, ("sentiment",))["sentiment"]
    assert result.n_test == 140 and abs(result.majority - 0.5) < 0.05
    assert max(result.accuracy) > result.majority + 0.1
    assert result.accuracy.index(max(result.accuracy)) > 0  # layer 0 is a bag of embeddings


def test_probe_job_cancels(tiny_bert):
    jobs = JobManager()
    job = jobs.submit("probes", "me", lambda j: run_probes(get_model(tiny_bert), ("pos",), 3000, reporter=j))
    job.cancel()
    deadline = time.time() + 60
    while not job.done and time.time() < deadline:
        time.sleep(0.05)
    assert job.status == "cancelled"


def test_probe_settings_and_missing_tagger(tiny_bert, monkeypatch):
    loaded = get_model(tiny_bert)
    with pytest.raises(UserError, match="Probe tasks"):
        run_probes(loaded, ("syntax",))
    with pytest.raises(UserError, match="100 to"):
        run_probes(loaded, ("pos",), 5)
    with pytest.raises(UserError, match="needs labels"):
        run_probes(loaded, ("sentiment",), sentences=["a b c"])
    with pytest.raises(UserError, match="Too little data"):
        run_probes(loaded, ("pos",), sentences=["One sentence only."])
    monkeypatch.setattr(pos.nltk_data, "missing", lambda root=None: ["the POS tagger"])
    with pytest.raises(UserError, match="setup-nltk"):
        run_probes(loaded, ("pos",))


@pytest.fixture(scope="module")
def embedded_index(embedded, tmp_path_factory):
    return build_index(embedded, tmp_path_factory.mktemp("runs"))


def test_neighbours_at_layer_0_are_the_same_word_and_carry_pos(embedded, embedded_index):
    assert len(embedded_index.sentences) == neighbours.CORPUS_SENTENCES and embedded_index.pos
    query = token_table(embedded, ["We sat on the bank of the river."])
    found = nearest(embedded_index, query, query.tokens.index("bank"), 0, 10)
    assert [n.word.lower() for n in found.neighbours[:5]] == ["bank"] * 5
    assert found.counts("pos").most_common(1)[0][0] == "NOUN"
    assert all(a.similarity >= b.similarity for a, b in zip(found.neighbours, found.neighbours[1:]))
    first = found.neighbours[0]
    assert first.sentence[first.span[0]:first.span[1]].lower() == "bank"
    with pytest.raises(UserError, match="tokens 0 to"):
        nearest(embedded_index, query, 99, 0)
    with pytest.raises(UserError, match="layers 0"):
        nearest(embedded_index, query, 0, 7)
    with pytest.raises(UserError, match="1 to 50"):
        nearest(embedded_index, query, 0, 0, 0)


def test_index_is_reused_and_its_int8_ranks_match_float32(tiny_bert, tmp_path, monkeypatch):
    loaded = get_model(tiny_bert)
    monkeypatch.setattr(neighbours, "CORPUS_SENTENCES", 1500)
    index = build_index(loaded, tmp_path)
    again = open_index(loaded, tmp_path)
    assert again.folder == index.folder and len(list((tmp_path / "neighbours").iterdir())) == 1
    exact = token_table(loaded, index.sentences)
    wordy = [i for i, (s, (a, b)) in enumerate(zip(exact.sentence, exact.spans))
             if any(c.isalnum() for c in exact.sentences[s][a:b])]
    assert len(wordy) == len(index.tokens)
    vectors = exact.states[-1, wordy]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = token_table(loaded, ["The cat sat on the mat."])
    found = nearest(index, query, 1, exact.n_layers - 1, 10)
    unit = query.states[-1, 1] / np.linalg.norm(query.states[-1, 1])
    best = {(int(exact.sentence[wordy[i]]), int(exact.spans[wordy[i]][0])) for i in np.argsort(-(vectors @ unit))[:10]}
    got = {(int(index.sentence[n.row]), n.span[0]) for n in found.neighbours}  # the index keeps its own row order
    assert len(best & got) >= 9


def test_two_sessions_building_one_index_at_once_get_the_same_complete_index(tmp_path, monkeypatch):
    loaded = get_model(tiny_choice("roberta"))
    monkeypatch.setattr(neighbours, "CORPUS_SENTENCES", 1400)
    built = []
    threads = [threading.Thread(target=lambda: built.append(build_index(loaded, tmp_path))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 3 and len({b.folder for b in built}) == 1
    assert [p.name for p in (tmp_path / "neighbours").iterdir()] == [built[0].folder.name]  # no temp left
    index = built[0]
    texts = [index.sentences[s][a:b] for s, (a, b) in zip(index.sentence, index.spans)]
    assert all(any(c.isalnum() for c in t) for t in texts)  # RoBERTa's "Ġ," is not a word token
    assert index.word(0) == split_words(index.sentences[index.sentence[0]]).words[index.words[0]]


def test_probe_split_keeps_equal_sentences_together():
    sentences = ["a b", "c d", "a b", "e f", "a b", "g h", "i j", "k l"]
    test = sentence_split(sentences)
    assert len({bool(test[i]) for i, s in enumerate(sentences) if s == "a b"}) == 1 and 0 < test.sum() < len(test)


def test_query_key_transform_changes_no_attention_weight():
    rng = np.random.default_rng(0)
    q, k = rng.normal(2, 1, size=(30, 16)), rng.normal(-3, 4, size=(30, 16))
    q2, k2 = attentionviz_transform(q, k)
    assert np.abs(softmax_rows(q2, k2) - softmax_rows(q, k)).max() <= 1e-6
    np.testing.assert_allclose(k2.mean(axis=0), q2.mean(axis=0), atol=1e-9)
    assert np.isclose(spread(q2), spread(k2))


def test_query_key_map_reproduces_the_models_attention(tiny_any):
    loaded = get_model(tiny_any)
    qk = query_key_map(loaded, SENTENCES, 1, 1)
    assert qk.attention_error <= 1e-5 and qk.transform_error <= 1e-6
    assert qk.queries.shape == qk.keys.shape == (len(qk.tokens), 2)
    with pytest.raises(UserError, match="layers 0 to"):
        query_key_map(loaded, SENTENCES, 5, 0)
    with pytest.raises(UserError, match="heads 0 to"):
        query_key_map(loaded, SENTENCES, 0, 99)


def cli(*argv) -> tuple[int, dict | str, str]:
    code, out, err = run(list(argv))
    text = out.strip()
    return code, json.loads(text.splitlines()[-1]) if code == 0 and "--json" in argv else text, err


def test_cli_project_probe_and_neighbors(tmp_path, monkeypatch, embedded_index):
    code, out, _ = cli("project", *SENTENCES, "--senses", "--layer", "3", "--json")
    assert code == 0 and list(out["layers"]) == ["3"] and len(out["layers"]["3"]) == len(out["tokens"])
    assert out["similarity"]["bank"]["across"][0] > out["similarity"]["bank"]["across"][-1]
    code, out, _ = cli("probe", "--task", "pos", "--n", "500", "--model", tiny_choice("bert"), "--json", "--quiet")
    assert code == 0 and out["task"] == "pos" and out["layers"] == [0, 1, 2] and 0 < out["majority"] < 1
    monkeypatch.setattr(neighbours, "RUNS_DIR", embedded_index.folder.parent.parent)
    code, out, _ = cli("neighbors", "We sat on the bank.", "--token", "4", "--layer", "0", "--k", "3", "--json")
    assert code == 0 and out["tokens"][4] == "bank" and [n["word"] for n in out["neighbors"]] == ["bank"] * 3
    own = tmp_path / "mine.txt"
    own.write_text("The dog ran home.\nA cat slept.\nBirds sing songs.\nWe ate green apples.\n")
    code, out, _ = cli("probe", "--file", str(own), "--model", tiny_choice("bert"), "--json", "--quiet")
    assert code == 0 and set(out["results"]) == {"pos", "control"} and len(out["selectivity"]) == 3
    for argv, message in [(("project", "a b", "--layer", "x"), "--layer takes"),
                          (("project",), "at least one sentence"),
                          (("probe", "--task", "sentiment", "--file", str(own)), "needs labels")]:
        code, _out, err = cli(*argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1

