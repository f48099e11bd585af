"""Many sessions asking one model at the same moment, answered by one forward pass.

A class presses Enter together: thirty fill-mask requests arrive within a few milliseconds, and
thirty forward passes one after another cost ~30x one batched pass on a CPU. `Batcher` merges
them without a background thread: the first caller becomes the *leader*, waits `wait_s` for
others to join, runs one batch for everyone who joined and hands each caller its own result; a
caller that arrives while a batch runs joins the next one. A batch that fails is retried item by
item, so one bad request never fails the others.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class _Slot:
    item: Any
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class Batcher:
    """Calls `run_batch(items) -> results` (same order) once for the calls that arrive together."""

    def __init__(self, run_batch: Callable[[list], list], max_items: int = 32, wait_s: float = 0.01):
        self.run_batch, self.max_items, self.wait_s = run_batch, max_items, wait_s
        self._pending: list[_Slot] = []
        self._lock = threading.Lock()
        self._leading = False
        self.batches = 0  # forward passes run (for tests and benchmarks)
        self.items = 0

    def __call__(self, item):
        slot = _Slot(item)
        with self._lock:
            self._pending.append(slot)
            lead = not self._leading
            self._leading = self._leading or lead
        if lead:
            self._lead()
        slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _lead(self) -> None:
        """Run batches until nobody is waiting, then hand the role back."""
        time.sleep(self.wait_s)  # let the others of this moment join
        while True:
            with self._lock:
                batch, self._pending = self._pending[:self.max_items], self._pending[self.max_items:]
                if not batch:
                    self._leading = False
                    return
            self._serve(batch)

    def _serve(self, batch: list[_Slot]) -> None:
        self.batches += 1
        self.items += len(batch)
        try:
            for slot, result in zip(batch, self.run_batch([s.item for s in batch]), strict=True):
                slot.result = result
        except Exception:  # noqa: BLE001 - find the request that failed; the others still get answers
            for slot in batch:
                try:
                    slot.result = self.run_batch([slot.item])[0]
                except Exception as err:  # noqa: BLE001 - handed to its own caller
                    slot.error = err
        for slot in batch:
            slot.done.set()
