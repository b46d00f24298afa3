"""The one retry and poll loop: a policy as data, the context's sleep and clock, a span per pause.

Chalice's deployer serves every retry from one method (`_call_client_method_with_retries`);
here `keep_trying` is that loop, `call_with_retries` retries an AWS call on what its policy
names, and every pause goes through `Context.waiting`, so it is slept with the injected sleep,
recorded as a span of its loop (bench/critical.py) and said to users once it lasts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn, TypeVar

from botocore.exceptions import ClientError

from pocctl.core.reporting import Why

if TYPE_CHECKING:
    from pocctl.core.context import Context

T = TypeVar("T")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", str(exc)))


def never(exc: ClientError) -> bool:
    return False


@dataclass(frozen=True)
class Policy:
    """How a loop waits: pauses from `first`, each `growth` times the last, at most `cap`. It
    gives up once its pauses add up to `limit` seconds, once `within` seconds have passed on
    the context's clock since it began, or after `attempts` tries (None: no such bound). An AWS
    call is tried again when AWS refuses it with one of `codes`, or as `retry_if` says."""

    first: float
    growth: float
    cap: float
    limit: float | None = None
    within: float | None = None
    attempts: int | None = None
    codes: frozenset[str] = frozenset()
    retry_if: Callable[[ClientError], bool] = field(default=never)

    def retries(self, exc: ClientError) -> bool:
        return error_code(exc) in self.codes or self.retry_if(exc)

    def pauses(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * self.growth, self.cap)


@dataclass(frozen=True)
class Again:
    """An attempt's answer "not yet": try again after a pause. `why`: what the loop waits for
    from now on (None: as before); `refused`: the refusal to raise if the loop gives up."""

    why: Why | None = None
    refused: ClientError | None = None


def keep_trying(
    ctx: Context,
    attempt: Callable[[], T | Again],
    policy: Policy,
    *,
    gave_up: Callable[[Again], T],
    why: Why | None = None,
    began: float | None = None,
) -> T:
    """Call `attempt` until it answers other than `Again`, pausing between as `policy` says;
    once the policy's time is spent, what `gave_up` makes of the last `Again` (it may raise).
    The loop's pauses are one `Context.waiting` loop: `why` is what users are told it waits
    for, `began` when the wait started, if before now."""
    started = ctx.clock()
    waited, tries = 0.0, 0
    pauses = policy.pauses()
    with ctx.waiting(why, began=began) as waiting:
        while True:
            # Each try after the first wants what AWS says now, not a pass's answers.
            with ctx.shared_reads.fresh(on=tries > 0):
                answer = attempt()
            tries += 1
            if not isinstance(answer, Again):
                return answer
            if answer.why is not None:
                waiting.because(answer.why)
            if spent(policy, waited, ctx.clock() - started, tries):
                return gave_up(answer)
            delay = next(pauses)
            waiting.pause(delay, refused=answer.refused is not None)
            waited += delay


def spent(policy: Policy, waited: float, elapsed: float, tries: int) -> bool:
    """Whether a loop that paused `waited` seconds, began `elapsed` ago and tried `tries`
    times has used what its policy gives it."""
    return (
        (policy.limit is not None and waited >= policy.limit)
        or (policy.within is not None and elapsed >= policy.within)
        or (policy.attempts is not None and tries >= policy.attempts)
    )


def raise_refusal(again: Again) -> NoReturn:
    if again.refused is not None:
        raise again.refused
    raise RuntimeError("a retry gave up without a refusal to raise")


def call_with_retries(
    ctx: Context,
    call: Callable[[], T],
    policy: Policy,
    *,
    why: Why | None = None,
    why_refused: Callable[[ClientError], Why | None] = lambda exc: None,
) -> T:
    """`call`'s result, trying again while AWS refuses it as `policy` says it may; once the
    policy's time is spent, its last refusal is raised. `why_refused` says what a refusal
    means the loop waits for (None: what it waited for before)."""

    def attempt() -> T | Again:
        try:
            return call()
        except ClientError as exc:
            if not policy.retries(exc):
                raise
            return Again(why_refused(exc), exc)

    return keep_trying(ctx, attempt, policy, gave_up=raise_refusal, why=why)
