"""The benchmark's critical path (bench/critical.py): what had to follow what, from the spans."""

from __future__ import annotations

import pytest

from bench.critical import critical_path, needed_seconds, one_per_call, phase_chain
from pocctl.core.reporting import Outcome
from pocctl.core.telemetry import Span
from pocctl.resources.base import Plan, Step


class Stub(Step):
    kind = "stub"

    def __init__(self, key: str, depends_on: tuple[str, ...] = ()) -> None:
        self.key = key
        self.depends_on = depends_on

    @property
    def name(self) -> str:
        return self.key

    def plan(self, ctx: object) -> Plan:  # type: ignore[override]
        raise NotImplementedError

    def apply(self, ctx: object, plan: Plan) -> None:  # type: ignore[override]
        raise NotImplementedError

    def destroy(self, ctx: object) -> Outcome:  # type: ignore[override]
        raise NotImplementedError


STEPS = [Stub("dlq"), Stub("queue", ("dlq",)), Stub("topic")]


def call(
    step: str | None,
    seconds: float,
    phase: str | None = "up",
    lane: str | None = None,
    at: float = 0.0,
) -> Span:
    return Span("call", "sqs Op", phase, step, lane, at, at + seconds)


def pause(step: str, seconds: float, loop: int, at: float = 0.0) -> Span:
    return Span("pause", "", "up", step, None, at, at + seconds, loop)


def test_a_step_follows_what_it_depends_on_and_side_by_side_calls_count_once() -> None:
    spans = [call("dlq", 1), call("dlq", 1), call("queue", 1), call("topic", 1), call("topic", 1)]
    spans += [call("topic", 1)]
    assert phase_chain(STEPS, spans, "up", one_per_call).seconds == 3  # dlq, dlq, queue
    spans += [
        call("queue", 1, lane="7/0"),
        call("queue", 1, lane="7/0"),
        call("queue", 1, lane="7/1"),
    ]
    chain = phase_chain(STEPS, spans, "up", one_per_call)
    assert (chain.seconds, chain.steps) == (5, ("dlq", "queue"))  # the longer branch: 2 more
    assert phase_chain(STEPS, spans, "plan", one_per_call).seconds == 0  # another phase


def test_a_loops_last_pause_is_overshoot_and_left_out() -> None:
    # Refused, 1 s pause, refused, 2 s pause, accepted: AWS said "not yet" until the second
    # attempt, so the wait counts up to there and the last pause is the schedule's overshoot.
    spans = [call("topic", 0.1), pause("topic", 1.0, loop=1), call("topic", 0.1)]
    spans += [pause("topic", 2.0, loop=1), call("topic", 0.1)]
    assert phase_chain(STEPS, spans, "up", needed_seconds(spans)).seconds == pytest.approx(1.3)


def test_outside_steps_and_phases_add_up_in_turn() -> None:
    spans = [call(None, 0.5, phase=None), call(None, 0.2, phase=None, lane="3/0")]
    spans += [call(None, 0.4, phase=None, lane="3/1"), call("dlq", 1.0, "plan"), call("queue", 2.0)]
    chain = critical_path(STEPS, spans, ("plan", "up"))
    assert chain.seconds == pytest.approx(0.5 + 0.4 + 1.0 + 2.0)
    assert chain.steps == ("dlq", "queue")


def test_on_down_only_the_deletions_wait_for_their_turn() -> None:
    # queue is deleted before dlq: dlq's look (1 s) runs meanwhile, its deletion follows.
    turn = Span("turn", "", "down", "dlq", None, 2.0, 2.0)
    spans = [call("queue", 2.0, "down"), call("dlq", 1.0, "down", at=0.0), turn]
    spans += [call("dlq", 0.5, "down", at=2.0)]
    chain = phase_chain(STEPS, spans, "down", lambda s: s.seconds)
    assert (chain.seconds, chain.steps) == (2.5, ("queue", "dlq"))
    # A step that never waited for its turn (nothing to delete) follows nothing.
    looks_only = [call("queue", 0.2, "down"), call("dlq", 1.0, "down")]
    assert phase_chain(STEPS, looks_only, "down", lambda s: s.seconds).steps == ("dlq",)
