"""The one retry and poll loop (pocctl/core/retry.py): its policy is data, it sleeps with the
context's sleep, reads the context's clock, and records every pause as a span of its loop."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.reporting import RecordingReporter, Why
from pocctl.core.retry import Again, Policy, call_with_retries, error_code, keep_trying
from pocctl.core.session import new_session
from pocctl.ops.smoke import wait_for

from .conftest import REGION, Sleeps


class Clock:
    """A clock that moves only when the context sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps = Sleeps()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(clock: Clock) -> Context:
    return Context(
        Config(region=REGION),
        RecordingReporter(),
        session=new_session(region_name=REGION),
        sleep=clock.sleep,
        clock=clock,
    )


def refusal(code: str, message: str = "not now") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "PutMethod")


def refused(codes: list[str], answer: str = "done") -> Callable[[], str]:
    """A call refused with each of `codes` in turn, then answering."""
    left = list(codes)

    def call() -> str:
        if left:
            raise refusal(left.pop(0))
        return answer

    return call


CONFLICTS = Policy(0.5, 2.0, 2.0, limit=60.0, codes=frozenset({"ConflictException"}))


def pauses(ctx: Context) -> list[tuple[float, int | None]]:
    return [(s.seconds, s.loop) for s in ctx.calls.spans if s.kind == "pause"]


def test_a_refusal_the_policy_names_is_tried_again_with_growing_capped_pauses(
    ctx: Context, clock: Clock
) -> None:
    call = refused(["ConflictException"] * 5)
    assert call_with_retries(ctx, call, CONFLICTS) == "done"
    assert clock.sleeps == [0.5, 1.0, 2.0, 2.0, 2.0]  # the injected sleep, nothing slept


def test_a_refusal_the_policy_does_not_name_is_raised_at_once(ctx: Context, clock: Clock) -> None:
    with pytest.raises(ClientError) as raised:
        call_with_retries(ctx, refused(["AccessDenied"]), CONFLICTS)
    assert error_code(raised.value) == "AccessDenied"
    assert clock.sleeps == [] and pauses(ctx) == []


def test_a_predicate_names_what_to_retry_too(ctx: Context, clock: Clock) -> None:
    pending = Policy(0.25, 1.5, 0.5, limit=60.0, retry_if=lambda exc: "Pending" in str(exc))
    call = refused(["ResourceConflictException"] * 3)
    with pytest.raises(ClientError):
        call_with_retries(ctx, call, pending)  # its message does not say Pending
    assert clock.sleeps == []

    def pending_twice() -> str:
        if len(clock.sleeps) < 2:
            raise refusal("ResourceConflictException", "The function is Pending")
        return "done"

    assert call_with_retries(ctx, pending_twice, pending) == "done"
    assert clock.sleeps == [0.25, 0.375]


def test_once_its_pauses_reach_the_limit_the_last_refusal_is_raised(
    ctx: Context, clock: Clock
) -> None:
    policy = Policy(0.5, 2.0, 8.0, limit=5.0, codes=frozenset({"ConflictException"}))
    calls: list[int] = []

    def call() -> str:
        calls.append(len(calls))
        raise refusal("ConflictException", f"refusal {len(calls)}")

    with pytest.raises(ClientError, match="refusal 5"):
        call_with_retries(ctx, call, policy)
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]  # 7.5 s paused: past 5, no fifth pause
    assert len(calls) == 5


def test_a_loop_bounded_by_the_clock_gives_up_as_its_caller_says(
    ctx: Context, clock: Clock
) -> None:
    never_true = Policy(1.0, 1.0, 1.0, within=3.5)
    answer = keep_trying(ctx, lambda: Again(), never_true, gave_up=lambda again: "gave up")
    assert answer == "gave up"
    assert clock.sleeps == [1.0, 1.0, 1.0, 1.0]  # at 4 s the clock is past 3.5


def test_a_loop_bounded_by_attempts_tries_that_many_times(ctx: Context, clock: Clock) -> None:
    thrice = Policy(0.1, 2.0, 1.0, attempts=3, codes=frozenset({"ConflictException"}))
    with pytest.raises(ClientError):
        call_with_retries(ctx, refused(["ConflictException"] * 5), thrice)
    assert clock.sleeps == [0.1, 0.2]
    assert call_with_retries(ctx, refused(["ConflictException"] * 2), thrice) == "done"


def test_every_pause_is_a_span_of_its_own_loop(ctx: Context, clock: Clock) -> None:
    call_with_retries(ctx, refused(["ConflictException"] * 2), CONFLICTS)
    call_with_retries(ctx, refused(["ConflictException"] * 3), CONFLICTS)
    spans = pauses(ctx)
    assert [seconds for seconds, _ in spans] == [0.5, 1.0, 0.5, 1.0, 2.0]  # timed by the clock
    first, second = {loop for _, loop in spans[:2]}, {loop for _, loop in spans[2:]}
    assert len(first) == 1 and len(second) == 1 and first != second


def test_what_a_refusal_means_is_said_to_users_once_the_wait_lasts(
    ctx: Context, clock: Clock
) -> None:
    reporter = RecordingReporter()
    ctx.reporter = reporter
    call_with_retries(
        ctx,
        refused(["ConflictException"] * 3),
        CONFLICTS,
        why=Why("the API"),
        why_refused=lambda exc: Why("the API", f"it answered {error_code(exc)}"),
    )
    assert [w.why.reason for w in reporter.waits] == ["it answered ConflictException"] * 2
    assert [w.refusals for w in reporter.waits] == [2, 3]  # AWS's refusals so far, counted
    assert reporter.waits_over == [reporter.waits[0].loop]  # taken down when the loop ends


def test_test_orders_pauses_are_in_the_span_log(ctx: Context, clock: Clock) -> None:
    answers = iter([False, False, False, True])
    assert wait_for(ctx, lambda: next(answers), clock() + 30.0) is True
    spans = pauses(ctx)
    assert [round(seconds, 4) for seconds, _ in spans] == [0.02, 0.03, 0.045]
    assert len({loop for _, loop in spans}) == 1


def test_test_orders_wait_past_its_deadline_is_false_and_asks_why_blocked_on_the_way(
    ctx: Context, clock: Clock
) -> None:
    asked: list[float] = []

    def blocked() -> None:
        asked.append(clock())

    assert wait_for(ctx, lambda: False, clock() + 5.0, blocked=blocked) is False
    assert clock() >= 1005.0
    assert asked and asked[0] >= 1001.0  # first asked after BLOCKED_FIRST
    assert sum(clock.sleeps) == pytest.approx(sum(s for s, _ in pauses(ctx)))


def test_a_hop_that_passed_after_a_said_wait_takes_its_wait_down(
    ctx: Context, clock: Clock
) -> None:
    reporter = RecordingReporter()
    ctx.reporter = reporter
    passes_at = clock() + 2.0
    assert wait_for(ctx, lambda: clock() >= passes_at, clock() + 30.0, why=Why("the order")) is True
    assert reporter.waits and {w.why.subject for w in reporter.waits} == {"the order"}
    assert reporter.waits_over == [reporter.waits[0].loop]  # the hop's wait line goes
