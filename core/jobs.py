"""Long work (fine-tunes, dataset augmentation, pretraining) off the Streamlit script thread.

A page submits a function; it runs in a worker thread that outlives reruns, reports progress and
events the page polls (e.g. with `st.fragment(run_every=1)`), and stops when cancelled. A cap on
running jobs keeps one classroom's fine-tunes from starving everyone else, and a job whose browser
tab has been closed for a while stops by itself, so it does not hold one of those slots.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from core.errors import UserError
from core.memory import give_back


class JobCancelled(Exception):
    """Raised inside a job's function by `Job.check_cancelled()` once the user cancelled."""


@dataclass
class Job:
    id: int
    kind: str
    owner: str
    status: str = "queued"  # queued | running | done | failed | cancelled
    progress: float = 0.0  # 0..1
    message: str = ""
    events: list[dict] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    alive: Callable[[], bool] | None = field(default=None, repr=False)  # is the page that started it open?
    abandon_after: float = 120.0  # seconds without that page before the job stops itself
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _gone_since: float | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Called by the job's function between steps: stop if cancelled or long abandoned.

        A closed tab is given `abandon_after` seconds (a reload or a dropped connection comes
        back within them) before the job counts as abandoned.
        """
        if self._cancel.is_set():
            raise JobCancelled()
        if self.alive is None or self.alive():
            self._gone_since = None
            return
        self._gone_since = self._gone_since or time.monotonic()
        if time.monotonic() - self._gone_since >= self.abandon_after:
            self.message = "Stopped: the browser tab that started it was closed; nothing from this run was kept."
            self._cancel.set()
            raise JobCancelled()

    def report(self, progress: float | None = None, message: str | None = None, **event) -> None:
        """Called by the job's function: update progress/message and append an event (a dict)."""
        if progress is not None:
            self.progress = min(max(float(progress), 0.0), 1.0)
        if message is not None:
            self.message = message
        if event:
            self.events.append(event)

    def eta_seconds(self) -> float | None:
        if self.progress <= 0 or self.done:
            return None
        return self.elapsed * (1 - self.progress) / self.progress


class JobManager:
    """Runs at most `max_running` jobs at once, one thread each; keeps finished jobs for display."""

    def __init__(self, max_running: int = 2, max_per_owner: int = 1, abandon_after: float = 120.0):
        self.max_running = max_running
        self.max_per_owner = max_per_owner
        self.abandon_after = abandon_after
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def running(self, owner: str | None = None) -> list[Job]:
        return [j for j in self._jobs.values() if not j.done and owner in (None, j.owner)]

    def submit(self, kind: str, owner: str, fn: Callable[[Job], Any], alive: Callable[[], bool] | None = None) -> Job:
        """Start `fn(job)` in a thread. Raises UserError when the server or this user is at the cap.

        `alive` tells whether the owner's page is still open (see Job.check_cancelled).
        """
        with self._lock:
            if len(self.running(owner)) >= self.max_per_owner:
                raise UserError("You already have a job running: wait for it or cancel it first.")
            if len(self.running()) >= self.max_running:
                raise UserError(
                    f"The server is busy with {self.max_running} jobs from other users; try again in a minute."
                )
            job = Job(next(self._ids), kind, owner, status="running", alive=alive, abandon_after=self.abandon_after)
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, fn), name=f"job-{job.id}-{kind}", daemon=True).start()
        return job

    def _run(self, job: Job, fn: Callable[[Job], Any]) -> None:
        try:
            job.result = fn(job)
            job.status, job.progress = "done", 1.0
        except JobCancelled:
            job.status = "cancelled"
            if not job.message.startswith("Stopped"):
                job.message = "Cancelled: nothing from this run was kept."
        except UserError as err:
            job.status, job.error = "failed", str(err)
        except MemoryError:
            job.status, job.error = "failed", "Out of memory: try a smaller batch size or max length."
        except Exception as err:  # noqa: BLE001 - a job's crash must not take the server down
            job.status = "failed"
            job.error = _friendly_crash(err)
            traceback.print_exc()
        finally:
            job.finished = time.time()
            give_back()  # what the job freed goes back to the system, not to the server's high-water mark

    def get(self, job_id: int | None) -> Job | None:
        return self._jobs.get(job_id) if job_id is not None else None

    def wait(self, job: Job, timeout: float | None = None) -> Job:
        """Block until `job` ends (tests and the CLI)."""
        deadline = None if timeout is None else time.time() + timeout
        while not job.done and (deadline is None or time.time() < deadline):
            time.sleep(0.05)
        return job


def _friendly_crash(err: Exception) -> str:
    text = str(err)
    if any(sign in text.lower() for sign in ("out of memory", "can't allocate memory", "cannot allocate memory")):
        return "Out of memory: try a smaller batch size or max length."
    return f"The job stopped with an unexpected error ({type(err).__name__}): {text.splitlines()[0] if text else ''}"


JOBS = JobManager(max_running=int(os.environ.get("BERT_PLAYGROUND_MAX_JOBS", "2")),
                  abandon_after=float(os.environ.get("BERT_PLAYGROUND_ABANDON_S", "120")))
"""The process-wide manager every page uses (caps and grace period set by environment variables)."""
