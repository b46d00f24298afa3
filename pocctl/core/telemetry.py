"""What a command did, as it did it: every AWS call its clients made, and the time each call and
each pause in a retry or poll loop took (spans), for `-v`, the tests and the benchmark."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The operations that read and change nothing, by their names' first word.
READ_PREFIXES = ("Get", "List", "Describe", "Head", "Filter", "Query", "Scan", "BatchGet")

# Which engine pass ("plan", "up", "down") and step a thread works on, and its lane within the
# step (Context.together): (phase, step, lane), each None outside.
Label = tuple[str | None, str | None, str | None]


@dataclass(frozen=True)
class RecordedCall:
    """An AWS call pocctl made (the emulator's `local.calls.Call` is a request it received)."""

    service: str
    operation: str
    # Which engine pass ("plan", "up", "down") and step made the call; None outside steps.
    phase: str | None = None
    step: str | None = None
    # Set for calls made side by side within a step (Context.together): "group/branch".
    lane: str | None = None
    # A write call made as a read that can't be stale, which changes nothing (Context.confirming).
    confirms: bool = False

    @property
    def mutating(self) -> bool:
        return not self.operation.startswith(READ_PREFIXES) and not self.confirms


@dataclass(frozen=True)
class Span:
    """A stretch of time a step spent: an AWS call ("call"), or a pause in a retry or poll loop
    ("pause"). `loop` numbers a loop's pauses: its last one began after AWS's last "not yet"."""

    kind: str
    name: str
    phase: str | None
    step: str | None
    lane: str | None
    started: float
    ended: float
    loop: int | None = None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class CallLog:
    """Every AWS call made through the context, for `-v`, tests and benchmarks, and the time
    each call and each pause took (`spans`), for the benchmark's critical path."""

    calls: list[RecordedCall] = field(default_factory=list)
    listeners: list[Callable[[RecordedCall], None]] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    def record(self, call: RecordedCall) -> None:
        self.calls.append(call)
        for listener in self.listeners:
            listener(call)

    @property
    def mutating(self) -> list[RecordedCall]:
        return [c for c in self.calls if c.mutating]


class Telemetry:
    """Records into `log` what watched clients call, labelled with what the calling thread works
    on (`label`), and the spans the context reports, timed by `clock`."""

    def __init__(
        self,
        log: CallLog,
        clock: Callable[[], float],
        label: Callable[[], Label],
        confirming: Callable[[], bool],
    ) -> None:
        self.log, self._clock, self._label, self._confirming = log, clock, label, confirming

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._record_call)
        client.meta.events.register("after-call.*.*", self._call_done)
        client.meta.events.register("after-call-error.*.*", self._call_done)

    def unwatch(self, client: Any) -> None:
        client.meta.events.unregister("before-call.*.*", self._record_call)
        client.meta.events.unregister("after-call.*.*", self._call_done)
        client.meta.events.unregister("after-call-error.*.*", self._call_done)

    def span(
        self, kind: str, name: str, started: float, ended: float, loop: int | None = None
    ) -> None:
        phase, step, lane = self._label()
        self.log.spans.append(Span(kind, name, phase, step, lane, started, ended, loop))

    def _record_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        phase, step, lane = self._label()
        service = model.service_model.service_name
        call = RecordedCall(service, model.name, phase, step, lane, self._confirming())
        context["pocctl_call"] = (f"{call.service} {call.operation}", self._clock())
        self.log.record(call)

    def _call_done(self, context: dict[str, Any], **_: Any) -> None:
        """After the response, or after the exception (no connection): the call's span."""
        if "pocctl_call" in context:
            name, started = context["pocctl_call"]
            self.span("call", name, started, self._clock())
