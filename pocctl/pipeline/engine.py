"""Orders the steps by their dependencies, runs `up` (plan everything, then apply) and `down`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from graphlib import CycleError, TopologicalSorter
from typing import Any

from botocore.exceptions import ClientError

from pocctl.core.aws import error_code, error_message
from pocctl.core.context import Context
from pocctl.core.errors import ForeignResourceError
from pocctl.core.reporting import Action, Outcome, StepResult
from pocctl.resources.base import AnyStep, Managed, Plan, managed_by, read_whole

# Enough for every step of the stack at once: the work is waiting on AWS, not computing.
DEFAULT_WORKERS = 16
APPLIED = {Action.CREATE: Outcome.CREATED, Action.UPDATE: Outcome.UPDATED}
WOULD = {Action.CREATE: Outcome.WOULD_CREATE, Action.UPDATE: Outcome.WOULD_UPDATE}


class DependencyError(Exception):
    """The step graph itself is wrong (a programming error, not a user one)."""


def ordered(steps: Sequence[AnyStep]) -> list[AnyStep]:
    """Steps in an order where each comes after what it depends on (stable for equal rank)."""
    by_key = {s.key: s for s in steps}
    for step in steps:
        missing = [d for d in (*step.depends_on, *step.plan_after) if d not in by_key]
        if missing:
            raise DependencyError(f"{step.key} depends on unknown step(s) {missing}")
    sorter = TopologicalSorter({s.key: s.depends_on for s in steps})
    try:
        sorter.prepare()
    except CycleError as exc:
        raise DependencyError(f"dependency cycle among {exc.args[1]}") from exc
    done: list[AnyStep] = []
    while sorter.is_active():
        ready = sorter.get_ready()
        done += [s for s in steps if s.key in ready]  # declared order within a rank
        sorter.done(*ready)
    return done


def waits_for(steps: Sequence[AnyStep], step: AnyStep, phase: str) -> set[str]:
    """The steps that must be done first: planning needs only what a plan reads from another
    step's plan; `up` needs the dependencies; `down` removes dependents first, or what the step
    names in `teardown_after`."""
    if phase == "plan":
        return set(step.plan_after)
    if phase == "down":
        if step.teardown_after is not None:
            return set(step.teardown_after)
        return {d.key for d in steps if step.key in d.depends_on}
    return set(step.depends_on)


def describe_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{error_code(exc)}: {error_message(exc)}"
    return str(exc)


@dataclass
class RunReport:
    results: list[StepResult] = field(default_factory=list)
    conflicts: list[ForeignResourceError] = field(default_factory=list)
    # Resources a CloudFormation stack manages: `up` and `down` write nothing then.
    managed: list[Managed] = field(default_factory=list)
    # The exception that stopped `up`, kept so the CLI can show its traceback with --debug.
    error: Exception | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        stopped = (Outcome.FAILED, Outcome.NOT_RUN, Outcome.INTERRUPTED)
        return (
            self.error is None
            and not self.interrupted
            and not self.conflicts
            and not self.managed
            and all(r.outcome not in stopped for r in self.results)
        )

    def titles(self, *outcomes: Outcome) -> list[str]:
        return [r.title for r in self.results if r.outcome in outcomes]


class Engine:
    """Runs steps as soon as what they depend on is done (`workers=1` runs them one by one)."""

    def __init__(
        self, ctx: Context, steps: Sequence[AnyStep], *, workers: int = DEFAULT_WORKERS
    ) -> None:
        self.ctx = ctx
        self.steps = ordered(steps)
        self.workers = max(1, workers)
        self._lock = threading.Lock()

    def _schedule(
        self,
        run: Callable[[AnyStep], bool],
        waits_for: Callable[[AnyStep], set[str]],
        order: Sequence[AnyStep] | None = None,
        on_interrupt: Callable[[], None] = lambda: None,
    ) -> bool:
        """Run each step once everything it waits for has run; stop starting new steps as soon
        as `run` returns False. Steps are started in `order` (default `self.steps`) when several
        are ready. Returns False if it stopped early; KeyboardInterrupt is re-raised after
        in-flight steps."""
        order = self.steps if order is None else order
        done: set[str] = set()
        started: set[str] = set()
        stopping = False
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            running: dict[Future[bool], AnyStep] = {}
            try:
                while True:
                    if not stopping:
                        for step in order:
                            if step.key not in started and waits_for(step) <= done:
                                if len(running) >= self.workers:
                                    break
                                started.add(step.key)
                                running[pool.submit(run, step)] = step
                    if not running:
                        return not stopping
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        step = running.pop(future)
                        done.add(step.key)
                        if not future.result():
                            stopping = True
            except BaseException:
                for future in running:
                    future.cancel()
                on_interrupt()  # before the pool waits for the steps in flight
                raise

    def plan_all(self) -> tuple[dict[str, Plan[Any]], list[ForeignResourceError]]:
        """Read-only pass over every step; finds name conflicts before anything is created."""
        plans: dict[str, Plan[Any]] = {}
        conflicts: list[ForeignResourceError] = []

        def plan(step: AnyStep) -> bool:
            try:
                with self.ctx.working_on("plan", step.key):
                    plans[step.key] = self._plan(step)
            except ForeignResourceError as exc:
                conflicts.append(exc)
            return True

        self._schedule(plan, lambda step: waits_for(self.steps, step, "plan"))
        return plans, sorted(conflicts, key=lambda c: (c.kind, c.name))

    def managed_by_cloudformation(self) -> list[Managed]:
        """What of the stack a CloudFormation stack manages, read before `up` plans (a queue's
        plan confirms it with CreateQueue) and before `down` deletes. A question about the
        whole stack, not a step's work: its calls carry no step."""
        managed: dict[str, Managed | None] = {}

        def look(step: AnyStep) -> bool:
            managed[step.key] = managed_by(self.ctx, step)
            return True

        self._schedule(look, lambda step: set())
        return [m for s in self.steps if (m := managed.get(s.key)) is not None]

    def _plan(self, step: AnyStep) -> Plan[Any]:
        # A resource found, then gone at the plan's next call, is planned as gone.
        plan = read_whole(self.ctx, lambda: step.plan(self.ctx))
        self._pass_on(step, plan.current)
        return plan

    def _pass_on(self, step: AnyStep, state: Any) -> None:
        """Hand what a step found or made to the steps and commands after it."""
        if state is not None:
            self.ctx.outputs.take(step.outputs(self.ctx, state))

    def _finish(self, report: RunReport, result: StepResult) -> None:
        with self._lock:
            report.results.append(result)
        self.ctx.reporter.step_finished(result)

    def _not_run(self, report: RunReport) -> None:
        seen = {r.step for r in report.results}
        report.results += [
            StepResult(s.key, s.title, Outcome.NOT_RUN) for s in self.steps if s.key not in seen
        ]

    def _interrupted(self, report: RunReport, step: AnyStep) -> None:
        self._finish(report, StepResult(step.key, step.title, Outcome.INTERRUPTED))

    def up(self, *, dry_run: bool = False) -> RunReport:
        report = RunReport()
        try:
            # The plans read again much of what the check read: they take its answers.
            with self.ctx.shared_reads.passes() as reads:
                with reads.kept():
                    report.managed = self.managed_by_cloudformation()
                if report.managed:
                    return report
                with reads.handed_on():
                    plans, report.conflicts = self.plan_all()
        except KeyboardInterrupt:
            report.interrupted = True  # nothing was changed yet
            return report
        if report.conflicts:
            return report
        if dry_run:
            for step in self.steps:
                plan = plans[step.key]
                outcome = WOULD.get(plan.action, Outcome.UNCHANGED)
                result = StepResult(step.key, step.title, outcome, changes=plan.described())
                self._finish(report, result)
            return report

        changed: set[str] = set()

        def apply(step: AnyStep) -> bool:
            started = self.ctx.clock()
            try:
                with self.ctx.working_on("up", step.key):
                    plan = plans[step.key]
                    # What it depends on changed: look again, unless it was missing (only this
                    # run creates it, and its apply reads what it needs from its dependencies).
                    if plan.action is not Action.CREATE and changed & set(step.depends_on):
                        plan = self._plan(step)
                    if plan.action is not Action.NONE:
                        self.ctx.reporter.step_started(step.key, step.title, plan.action.value)
                        self._pass_on(step, step.apply(self.ctx, plan))
                        changed.add(step.key)
            except KeyboardInterrupt:
                self._interrupted(report, step)
                raise
            except Exception as exc:  # reported per step; the CLI decides how to show it
                report.error = report.error or exc
                seconds = self.ctx.clock() - started
                result = StepResult(
                    step.key, step.title, Outcome.FAILED, seconds, error=describe_error(exc)
                )
                self._finish(report, result)
                return False
            outcome = APPLIED.get(plan.action, Outcome.UNCHANGED)
            seconds = self.ctx.clock() - started
            self._finish(
                report, StepResult(step.key, step.title, outcome, seconds, plan.described())
            )
            return True

        try:
            self._schedule(apply, lambda step: waits_for(self.steps, step, "up"))
            if report.ok:  # the stack is not ready before its changes can be in effect
                for step in self.steps:
                    with self.ctx.working_on("up", step.key):
                        step.settle(self.ctx)
        except KeyboardInterrupt:  # steps in flight finished; the one interrupted says so
            report.interrupted = True
        self._not_run(report)
        return report

    def down(self) -> RunReport:
        """Destroy everything at once, except that a step's deletions wait for the steps it is
        deleted after (`waits_for`); what it reads first runs meanwhile. Not-found is done; keep
        going past failures."""
        report = RunReport()
        after = {s.key: waits_for(self.steps, s, "down") for s in self.steps}
        turns = Turns(after)
        # Those deleted first start first: with fewer workers than steps, a step waiting for its
        # turn never holds a worker that a step it waits for still needs.
        by_key = {s.key: s for s in self.steps}
        order = [by_key[key] for key in TopologicalSorter(after).static_order()]

        def destroy(step: AnyStep) -> bool:
            started = self.ctx.clock()
            self.ctx.reporter.step_started(step.key, step.title, "delete")
            try:
                with self.ctx.working_on("down", step.key):
                    outcome, error = step.destroy(self.ctx), None
            except KeyboardInterrupt:
                turns.cancel()  # those waiting for this step must not delete now
                self._interrupted(report, step)
                raise
            except Exception as exc:  # keep going: down must try every resource
                outcome, error = Outcome.FAILED, describe_error(exc)
            turns.done(step.key)
            seconds = self.ctx.clock() - started
            self._finish(report, StepResult(step.key, step.title, outcome, seconds, error=error))
            return True

        self.ctx.turns = {key: partial(turns.wait, key) for key in after}
        try:
            self._schedule(destroy, lambda step: set(), order, turns.cancel)
        except KeyboardInterrupt:  # steps in flight finished; the one interrupted says so
            report.interrupted = True
        finally:
            self.ctx.turns = {}
        self._not_run(report)
        return report


class Turns:
    """When each step of `down` may start deleting: once the steps it follows are done."""

    def __init__(self, after: dict[str, set[str]]) -> None:
        self._after = {key: set(keys) for key, keys in after.items()}
        self._ready = {key: threading.Event() for key in after}
        self._cancelled = False
        self._lock = threading.Lock()
        for key, keys in self._after.items():
            if not keys:
                self._ready[key].set()

    def done(self, finished: str) -> None:
        with self._lock:
            for key, keys in self._after.items():
                if finished in keys:
                    keys.discard(finished)
                    if not keys:
                        self._ready[key].set()

    def wait(self, key: str) -> None:
        self._ready[key].wait()
        if self._cancelled:
            raise KeyboardInterrupt

    def cancel(self) -> None:
        """Ctrl-C: steps still waiting give up instead of deleting out of order."""
        self._cancelled = True
        for ready in self._ready.values():
            ready.set()
