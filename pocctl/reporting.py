"""The reporter interface steps and the engine talk to. Only pocctl/ui.py knows about rich."""

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


class Reporter(Protocol):
    def step_started(self, step: str, title: str, doing: str) -> None: ...

    def step_finished(self, result: StepResult) -> None: ...

    def note(self, message: str) -> None: ...


class RecordingReporter:
    """Keeps everything it is told; used by tests and by --json runs."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []
        self.results: list[StepResult] = []
        self.notes: list[str] = []

    def step_started(self, step: str, title: str, doing: str) -> None:
        self.started.append((step, doing))

    def step_finished(self, result: StepResult) -> None:
        self.results.append(result)

    def note(self, message: str) -> None:
        self.notes.append(message)
