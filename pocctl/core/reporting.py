"""The reporter interface steps and the engine talk to. Only pocctl/cli/ui.py knows about rich."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    NONE = "unchanged"


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    WOULD_CREATE = "would create"
    WOULD_UPDATE = "would update"
    DELETED = "deleted"
    ABSENT = "absent"
    SKIPPED = "skipped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    NOT_RUN = "not run"


@dataclass
class StepResult:
    step: str
    title: str
    outcome: Outcome
    seconds: float = 0.0
    changes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Why:
    """What a pause waits for and why: "waiting for POC-Queue's name (about 40 s left): SQS
    keeps a deleted queue's name for 60 s". `about`: how long AWS usually takes in all, when
    known; `limit`: how long pocctl waits at most (said as "n s of limit")."""

    subject: str
    reason: str = ""
    about: float | None = None
    limit: float | None = None


@dataclass(frozen=True)
class Wait:
    """A wait that has lasted about a second or more, as loops report it while they pause.
    `refusals`: how many times AWS has refused the call the loop retries (IAM propagation, a
    function still Pending, a conflict): those expected refusals are said as this count, once
    per wait, not as an error line each."""

    step: str | None
    loop: int
    why: Why
    waited: float
    refusals: int = 0

    @property
    def text(self) -> str:
        why, waited = self.why, self.waited
        if why.limit is not None:
            progress = f"{waited:.0f} s of {why.limit:.0f} s"
        elif why.about is not None and why.about - waited >= 1:
            progress = f"about {why.about - waited:.0f} s left"
        else:
            progress = f"{waited:.0f} s so far"
        if self.refusals:
            times = "once" if self.refusals == 1 else f"{self.refusals} times"
            progress += f"; refused {times} so far"
        return f"waiting for {why.subject} ({progress})" + (f": {why.reason}" if why.reason else "")


class Reporter(Protocol):
    def step_started(self, step: str, title: str, doing: str) -> None: ...

    def step_finished(self, result: StepResult) -> None: ...

    def note(self, message: str) -> None: ...

    def waiting(self, wait: Wait) -> None: ...

    def wait_over(self, step: str | None, loop: int) -> None:
        """The loop that reported `waiting` has stopped waiting (its step may go on)."""
        ...


class RecordingReporter:
    """Keeps everything it is told; used by tests and by --json runs."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []
        self.results: list[StepResult] = []
        self.notes: list[str] = []
        self.waits: list[Wait] = []
        self.waits_over: list[int] = []

    def step_started(self, step: str, title: str, doing: str) -> None:
        self.started.append((step, doing))

    def step_finished(self, result: StepResult) -> None:
        self.results.append(result)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def waiting(self, wait: Wait) -> None:
        self.waits.append(wait)

    def wait_over(self, step: str | None, loop: int) -> None:
        self.waits_over.append(loop)
