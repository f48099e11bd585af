"""How long work says how far it got: one `Reporter` Protocol and the few reporters the app needs.

A background job (`core.jobs.Job`) is one; scripts and tests use `SilentReporter`, the CLI
`StderrReporter`, and a job made of several trainings hands each a `SubProgress` of its bar.
"""
from __future__ import annotations

import sys
from typing import Protocol


class Reporter(Protocol):
    def report(self, progress: float | None = None, message: str | None = None, **event) -> None:
        """`progress` in 0..1, a line for people, and a structured event (``type="step"``, ...)."""

    def check_cancelled(self) -> None:
        """Raise `core.jobs.JobCancelled` if the user asked to stop; called between steps."""


class SilentReporter:
    """Drops every event (tests, scripts)."""

    def report(self, progress=None, message=None, **event) -> None:
        pass

    def check_cancelled(self) -> None:
        pass


class SubProgress:
    """Maps a sub-task's progress 0..1 onto [start, end] of the whole job's progress bar."""

    def __init__(self, reporter: Reporter, start: float, end: float):
        self.reporter, self.start, self.end = reporter, start, end

    def report(self, progress=None, message=None, **event) -> None:
        if progress is not None:
            progress = self.start + (self.end - self.start) * progress
        self.reporter.report(progress, message, **event)

    def check_cancelled(self) -> None:
        self.reporter.check_cancelled()


class Recorded:
    """Passes everything on to `reporter` and keeps each structured event: the run's history."""

    def __init__(self, reporter: Reporter):
        self.reporter, self.history = reporter, []

    def report(self, progress=None, message=None, **event) -> None:
        if event:
            self.history.append(event)
        self.reporter.report(progress, message, **event)

    def check_cancelled(self) -> None:
        self.reporter.check_cancelled()


class StderrReporter:
    """Progress lines on stderr (stdout stays for the result): every message that is not a step,
    and about ten step lines when a ``type="start"`` event said how many steps there are."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.every = 0  # 0: no step lines

    def report(self, progress=None, message=None, **event) -> None:
        kind = event.get("type")
        if kind == "start" and event.get("steps"):
            self.every = max(1, event["steps"] // 10)
        if kind == "step":
            if not (self.every and event.get("step", 0) % self.every == 0):
                return
        if self.enabled and message:
            print(message, file=sys.stderr, flush=True)

    def check_cancelled(self) -> None:
        pass
