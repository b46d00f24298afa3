"""The engine: dependency order, plan-before-apply, reverse teardown, keeping going."""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest

from pocctl.core.context import Context
from pocctl.core.errors import ForeignResourceError, StepError
from pocctl.core.reporting import Outcome
from pocctl.pipeline.engine import DependencyError, Engine, ordered
from pocctl.pipeline.stack import build_steps
from pocctl.resources.base import Plan, Step
from tests.conftest import MakeContext


def blocked_in_turn(thread: int) -> bool:
    """The thread is parked in threading's wait inside `ctx.wait_turn`: it waits for its turn
    (a snapshot of its stack, so passing through `wait_turn` without blocking never counts)."""
    frame = sys._current_frames().get(thread)
    if frame is None or frame.f_code.co_filename != threading.__file__:
        return False
    while frame is not None:
        if frame.f_code.co_name == "wait_turn":
            return True
        frame = frame.f_back
    return False


class Teardown:
    """Watches a `down` from the steps' threads. A step may hold its deletion until the steps
    that must be deleted after it are parked waiting for their turn (or done): without turns
    they would then delete first, so a wrong order shows every time, not by chance."""

    def __init__(self) -> None:
        self.threads: dict[str, int] = {}
        self.done: set[str] = set()
        self.changed = threading.Condition()

    def started(self, key: str) -> None:
        with self.changed:
            self.threads[key] = threading.get_ident()
            self.changed.notify_all()

    def finished(self, key: str) -> None:
        with self.changed:
            self.done.add(key)
            self.changed.notify_all()

    def hold_until_waiting(self, keys: Iterable[str], deadline: float = 10.0) -> None:
        def settled(key: str) -> bool:
            thread = self.threads.get(key)
            return key in self.done or (thread is not None and blocked_in_turn(thread))

        until = time.monotonic() + deadline
        with self.changed:
            while not all(settled(key) for key in keys):
                assert time.monotonic() < until, f"{sorted(keys)} neither waited nor finished"
                self.changed.wait(0.01)  # blocking shows in no notification: look again


class FakeStep(Step):
    kind = "fake"

    def __init__(self, key: str, log: list[str], depends_on: tuple[str, ...] = ()) -> None:
        self.key = key
        self.log = log
        self.depends_on = depends_on
        self.exists = False
        self.fail_apply = False
        self.fail_destroy = False
        self.foreign = False
        self.teardown: Teardown | None = None

    @property
    def name(self) -> str:
        return self.key

    def plan(self, ctx: Context) -> Plan:
        self.log.append(f"plan {self.key}")
        if self.foreign:
            raise ForeignResourceError(self.kind, self.key, "POC")
        return Plan.from_changes([]) if self.exists else Plan.create()

    def apply(self, ctx: Context, plan: Plan) -> None:
        self.log.append(f"apply {self.key}")
        if self.fail_apply:
            raise StepError(self.key, "Create", "Boom", "it broke")
        self.exists = True

    def destroy(self, ctx: Context) -> Outcome:
        if self.teardown:
            self.teardown.started(self.key)
        try:
            self.look()
            ctx.wait_turn()  # as every deletion does (pocctl.core.aws.delete)
            if self.teardown:  # those deleted after this step: dependencies
                self.teardown.hold_until_waiting(self.depends_on)
            self.delete()
            self.log.append(f"destroy {self.key}")
            if self.fail_destroy:
                raise StepError(self.key, "Delete", "Boom", "it broke")
            if not self.exists:
                return Outcome.ABSENT
            self.exists = False
            return Outcome.DELETED
        finally:
            if self.teardown:
                self.teardown.finished(self.key)

    def look(self) -> None:
        """Is it there, is it ours: runs before the step's turn."""

    def delete(self) -> None:
        """The deletion itself, once it is the step's turn."""


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def chain(log: list[str]) -> list[FakeStep]:
    # Declared out of order on purpose: the engine must sort them.
    return [
        FakeStep("api", log, ("queue", "role")),
        FakeStep("queue", log, ("dlq",)),
        FakeStep("role", log),
        FakeStep("dlq", log),
    ]


def test_steps_come_after_what_they_depend_on(chain: list[FakeStep]) -> None:
    keys = [s.key for s in ordered(chain)]
    assert keys.index("dlq") < keys.index("queue") < keys.index("api")
    assert keys.index("role") < keys.index("api")


def test_cycles_and_unknown_dependencies_are_refused(log: list[str]) -> None:
    with pytest.raises(DependencyError, match="cycle"):
        ordered([FakeStep("a", log, ("b",)), FakeStep("b", log, ("a",))])
    with pytest.raises(DependencyError, match="unknown"):
        ordered([FakeStep("a", log, ("nope",))])


def test_up_plans_everything_before_applying_anything(
    ctx: Context, chain: list[FakeStep], log: list[str]
) -> None:
    report = Engine(ctx, chain).up()
    assert report.ok
    first_apply = next(i for i, entry in enumerate(log) if entry.startswith("apply"))
    assert all(entry.startswith("plan") for entry in log[:first_apply])
    assert len(log[:first_apply]) == 4


def test_a_conflict_anywhere_stops_up_before_any_apply(
    ctx: Context, chain: list[FakeStep], log: list[str]
) -> None:
    chain[0].foreign = True  # the last step in dependency order
    report = Engine(ctx, chain).up()
    assert not report.ok
    assert [c.name for c in report.conflicts] == ["api"]
    assert not any(entry.startswith("apply") for entry in log)


def test_a_failed_step_stops_up_and_reports_what_did_not_run(
    ctx: Context, chain: list[FakeStep]
) -> None:
    queue = next(s for s in chain if s.key == "queue")
    queue.fail_apply = True
    report = Engine(ctx, chain).up()
    outcomes = {r.step: r.outcome for r in report.results}
    assert outcomes["queue"] is Outcome.FAILED
    assert outcomes["api"] is Outcome.NOT_RUN
    assert outcomes["dlq"] is Outcome.CREATED
    assert isinstance(report.error, StepError)
    assert "Boom" in (next(r for r in report.results if r.step == "queue").error or "")


def test_down_runs_in_reverse_and_keeps_going_past_a_failure(
    ctx: Context, chain: list[FakeStep], log: list[str]
) -> None:
    assert Engine(ctx, chain).up().ok
    log.clear()
    queue = next(s for s in chain if s.key == "queue")
    queue.fail_destroy = True
    teardown = Teardown()
    for step in chain:
        step.teardown = teardown
    report = Engine(ctx, chain).down()
    order = [entry.split()[1] for entry in log]
    assert order.index("api") < order.index("queue") < order.index("dlq")
    outcomes = {r.step: r.outcome for r in report.results}
    assert outcomes == {
        "api": Outcome.DELETED,
        "queue": Outcome.FAILED,
        "role": Outcome.DELETED,
        "dlq": Outcome.DELETED,
    }
    assert not report.ok


def test_dry_run_applies_nothing(ctx: Context, chain: list[FakeStep], log: list[str]) -> None:
    report = Engine(ctx, chain).up(dry_run=True)
    assert {r.outcome for r in report.results} == {Outcome.WOULD_CREATE}
    assert not any(entry.startswith("apply") for entry in log)


def test_a_step_is_planned_again_when_what_it_depends_on_changed(
    ctx: Context, chain: list[FakeStep], log: list[str]
) -> None:
    for step in chain:
        step.exists = step.key != "dlq"
    assert Engine(ctx, chain).up().ok
    assert log.count("plan queue") == 2  # dlq was created, so queue looks again
    assert log.count("plan role") == 1


class Meeting:
    """Holds each of `count` steps at one point until all of them are there at once, or until a
    generous deadline: run one after the other, they never meet, however loaded the machine."""

    def __init__(self, count: int, deadline: float = 10.0) -> None:
        self.barrier = threading.Barrier(count)
        self.deadline = deadline
        self.met: list[str] = []

    def arrive(self, key: str) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=self.deadline)
            self.met.append(key)


class TimedStep(FakeStep):
    """Takes a while to apply and to destroy, and records when it ran."""

    def __init__(
        self,
        key: str,
        log: list[str],
        spans: dict[str, tuple[float, float]],
        depends_on: tuple[str, ...] = (),
    ) -> None:
        super().__init__(key, log, depends_on)
        self.spans = spans
        self.looks: dict[str, tuple[float, float]] = {}
        self.looking: Meeting | None = None  # where the looks meet, if they must
        self.applying: Meeting | None = None  # where the applies meet, if they must

    def _timed(self, spans: dict[str, tuple[float, float]]) -> None:
        began = time.monotonic()
        time.sleep(0.2)
        spans[self.key] = (began, time.monotonic())

    def apply(self, ctx: Context, plan: Plan) -> None:
        if self.applying is not None:
            self.applying.arrive(self.key)
        self._timed(self.spans)
        super().apply(ctx, plan)

    def look(self) -> None:
        if self.looking is not None:
            self.looking.arrive(self.key)
        self._timed(self.looks)

    def delete(self) -> None:
        self._timed(self.spans)


def timed_chain(log: list[str], spans: dict[str, tuple[float, float]]) -> list[FakeStep]:
    return [
        TimedStep("api", log, spans, ("queue", "role")),
        TimedStep("queue", log, spans, ("dlq",)),
        TimedStep("role", log, spans),
        TimedStep("dlq", log, spans),
        TimedStep("topic", log, spans),
    ]


def test_independent_steps_run_together_and_dependencies_still_come_first(
    ctx: Context, log: list[str]
) -> None:
    spans: dict[str, tuple[float, float]] = {}
    steps = timed_chain(log, spans)
    first_level = Meeting(3)
    for step in steps:
        if not step.depends_on:
            step.applying = first_level
    assert Engine(ctx, steps).up().ok
    assert spans["dlq"][1] <= spans["queue"][0]
    assert spans["queue"][1] <= spans["api"][0] and spans["role"][1] <= spans["api"][0]
    # 3 levels, not 5 steps: role, dlq and topic were all in flight at once.
    assert sorted(first_level.met) == ["dlq", "role", "topic"]


@pytest.mark.parametrize("workers", [16, 1])
def test_down_deletes_dependents_first_and_looks_at_everything_at_once(
    ctx: Context, log: list[str], workers: int
) -> None:
    spans: dict[str, tuple[float, float]] = {}
    steps = timed_chain(log, spans)
    assert Engine(ctx, steps).up().ok
    spans.clear()
    looks: dict[str, tuple[float, float]] = {}
    teardown = Teardown()
    looking = Meeting(len(steps))
    for step in steps:
        step.looks = looks
        # One worker starts them one by one in order: what follows has not started yet.
        step.teardown = teardown if workers > 1 else None
        step.looking = looking if workers > 1 else None
    assert Engine(ctx, steps, workers=workers).down().ok
    assert spans["api"][1] <= spans["queue"][0] <= spans["queue"][1] <= spans["dlq"][0]
    assert spans["api"][1] <= spans["role"][0]
    assert len(looks) == 5
    if workers > 1:  # the looks don't wait for anything: all five are in flight at once
        assert sorted(looking.met) == sorted(s.key for s in steps)


def test_interrupting_down_leaves_the_steps_waiting_for_their_turn_undeleted(
    ctx: Context, log: list[str]
) -> None:
    steps = [FakeStep("api", log, ("queue",)), FakeStep("queue", log)]
    for step in steps:
        step.exists = True

    class Interrupted(FakeStep):
        def destroy(self, ctx: Context) -> Outcome:
            raise KeyboardInterrupt

    api = Interrupted("api", log, ("queue",))
    api.exists = True
    report = Engine(ctx, [api, steps[1]]).down()
    assert report.interrupted and not report.ok
    assert steps[1].exists  # nothing of the queue was deleted before the API it waited for


def test_serial_runs_one_step_at_a_time(ctx: Context, log: list[str]) -> None:
    spans: dict[str, tuple[float, float]] = {}
    assert Engine(ctx, timed_chain(log, spans), workers=1).up().ok
    ordered_spans = sorted(spans.values())
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ordered_spans))


class SlowPlanStep(FakeStep):
    """Takes a while to plan, and records when."""

    def __init__(self, key: str, log: list[str], spans: dict[str, tuple[float, float]]) -> None:
        super().__init__(key, log)
        self.spans = spans
        self.planning: Meeting | None = None  # where the first plans meet, if they must

    def plan(self, ctx: Context) -> Plan:
        if self.planning is not None and self.key not in self.spans:
            self.planning.arrive(self.key)
        began = time.monotonic()
        time.sleep(0.2)
        self.spans.setdefault(self.key, (began, time.monotonic()))  # the first pass, not re-plans
        return super().plan(ctx)


def test_plans_run_at_once_unless_one_reads_another_plan(ctx: Context, log: list[str]) -> None:
    spans: dict[str, tuple[float, float]] = {}
    steps = [SlowPlanStep(k, log, spans) for k in ("dlq", "queue", "api", "mapping")]
    steps[1].depends_on = ("dlq",)
    steps[2].depends_on = ("queue",)
    steps[3].depends_on = steps[3].plan_after = ("dlq",)
    at_once = Meeting(3)
    for step in steps[:3]:
        step.planning = at_once
    assert Engine(ctx, steps).up().ok
    assert sorted(at_once.met) == ["api", "dlq", "queue"], "plans of dependent steps need not wait"
    assert spans["mapping"][0] >= spans["dlq"][1], "a plan reading another's outputs waits for it"


def test_together_runs_side_by_side_labels_lanes_and_raises_after_all_ran(ctx: Context) -> None:
    finished: list[int] = []

    def slow(n: int) -> int:
        time.sleep(0.2)
        finished.append(n)
        return n

    side_by_side = Meeting(3)

    def meeting(n: int) -> int:
        side_by_side.arrive(str(n))
        return slow(n)

    with ctx.working_on("up", "api"):
        assert ctx.together(lambda: meeting(1), lambda: meeting(2), lambda: meeting(3)) == [1, 2, 3]
    assert sorted(side_by_side.met) == ["1", "2", "3"]  # all three in flight at once

    def boom() -> int:
        raise StepError("api", "PutMethod", "Boom", "it broke")

    with pytest.raises(StepError, match="Boom"):
        ctx.together(boom, lambda: slow(4))
    assert 4 in finished, "the other call still ran to the end"


def test_the_preflight_makes_the_stacks_clients_while_it_waits_for_aws(ctx: Context) -> None:
    wanted = {"iam", "dynamodb", "sqs", "sns", "logs", "lambda", "apigateway"}
    made_meanwhile: list[set[str]] = []

    def while_sts_answers(**_: Any) -> None:
        """Holds the call to AWS until the clients are made (or a deadline passes): made one
        after the other instead, they never are while it waits."""
        until = time.monotonic() + 10
        while not wanted <= set(ctx._clients) and time.monotonic() < until:
            time.sleep(0.01)  # polling a condition with a deadline
        made_meanwhile.append(set(ctx._clients))

    ctx.session.events.register("before-call.sts.GetCallerIdentity", while_sts_answers)
    assert ctx.preflight() == "123456789012"
    assert len(made_meanwhile) == 1 and made_meanwhile[0] >= wanted
    made = {call.service for call in ctx.calls.calls}
    assert made == {"sts"}  # only the one call


def test_an_up_asks_aws_for_the_account_once(make_ctx: MakeContext) -> None:
    """Its steps, side by side, need the account at once: the first asks STS, the others wait
    for its answer."""
    ctx = make_ctx()
    assert Engine(ctx, build_steps(ctx.config)).up().ok
    assert [call.operation for call in ctx.calls.calls].count("GetCallerIdentity") == 1
