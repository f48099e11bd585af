"""Concurrent requests merged into one forward pass: the same numbers as one by one, fewer passes,
and one bad request never fails the others."""
from __future__ import annotations

import threading

import pytest

from core.errors import UserError
from core.explain import masked as M
from core.explain.batching import Batcher
from core.models.loading import get_model

TEXTS = ["The cat sat on the [MASK].", "Paris is the [MASK] of France.", "I [MASK] this film.",
         "She went to the [MASK] to buy [MASK].", "A [MASK] day.", "The doctor said that [MASK] was ill.",
         "We walked along the [MASK] of the river.", "[MASK] is my favourite colour."]


def at_once(fn, args: list) -> list:
    """Call fn(*a) for every a in `args` from its own thread, released together."""
    start, results = threading.Barrier(len(args)), [None] * len(args)

    def call(i):
        start.wait()
        try:
            results[i] = fn(*args[i])
        except Exception as err:  # noqa: BLE001 - returned for the test to inspect
            results[i] = err

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_fill_masks_equal_one_by_one_in_fewer_forward_passes():
    loaded = get_model("embedded")
    alone = [M.fill_mask(loaded, t, top_k=3 + i % 3) for i, t in enumerate(TEXTS)]
    M._BATCHERS.pop(loaded.model, None)
    together = at_once(M.fill_mask_shared, [(loaded, t, 3 + i % 3) for i, t in enumerate(TEXTS)])
    for one, merged in zip(alone, together):
        assert [[p.token for p in preds] for preds in one.predictions] == \
               [[p.token for p in preds] for preds in merged.predictions]
        for a, b in zip(one.predictions, merged.predictions):
            assert max(abs(x.score - y.score) for x, y in zip(a, b)) <= 1e-5
        assert merged.filled == one.filled
    batcher = M._BATCHERS[loaded.model]
    assert batcher.items == len(TEXTS) and batcher.batches < len(TEXTS)


def test_a_bad_sentence_fails_alone():
    loaded = get_model("embedded")
    found = at_once(M.fill_mask_shared, [(loaded, "no mask here", 5), (loaded, "A [MASK] day.", 5)])
    assert isinstance(found[0], UserError) and found[1].predictions


def test_a_failing_batch_is_retried_item_by_item():
    calls = []

    def run(items):
        calls.append(list(items))
        if "poison" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]

    batcher = Batcher(run, wait_s=0.05)
    found = at_once(batcher, [("a",), ("poison",), ("b",)])
    assert found[0] == "A" and found[2] == "B" and isinstance(found[1], ValueError)
    assert len(calls[0]) == 3  # they did arrive together
    assert Batcher(run)("x") == "X"  # a lone caller is served at once, by itself


def test_top_k_is_checked_before_joining_a_batch():
    with pytest.raises(UserError, match="top-k"):
        M.fill_mask_shared(get_model("embedded"), "A [MASK] day.", 0)
