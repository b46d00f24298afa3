"""Orders the steps by their dependencies, runs `up` (plan everything, then apply) and `down`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from pocctl.aws import error_code, error_message
from pocctl.context import Context
from pocctl.errors import ForeignResourceError
from pocctl.reporting import Action, Outcome, StepResult
from pocctl.resources.base import Plan, Step

APPLIED = {Action.CREATE: Outcome.CREATED, Action.UPDATE: Outcome.UPDATED}
WOULD = {Action.CREATE: Outcome.WOULD_CREATE, Action.UPDATE: Outcome.WOULD_UPDATE}


class DependencyError(Exception):
    """The step graph itself is wrong (a programming error, not a user one)."""


def ordered(steps: Sequence[Step]) -> list[Step]:
    """Steps in an order where each comes after what it depends on (stable for equal rank)."""
    by_key = {s.key: s for s in steps}
    for step in steps:
        missing = [d for d in step.depends_on if d not in by_key]
        if missing:
            raise DependencyError(f"{step.key} depends on unknown step(s) {missing}")
    done: list[Step] = []
    placed: set[str] = set()
    remaining = list(steps)
    while remaining:
        ready = [s for s in remaining if all(d in placed for d in s.depends_on)]
        if not ready:
            raise DependencyError(f"dependency cycle among {[s.key for s in remaining]}")
        for step in ready:
            done.append(step)
            placed.add(step.key)
        remaining = [s for s in remaining if s.key not in placed]
    return done


def describe_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{error_code(exc)}: {error_message(exc)}"
    return str(exc)


@dataclass
class RunReport:
    results: list[StepResult] = field(default_factory=list)
    conflicts: list[ForeignResourceError] = field(default_factory=list)
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
            and all(r.outcome not in stopped for r in self.results)
        )

    @property
    def changed(self) -> bool:
        return any(r.outcome in (Outcome.CREATED, Outcome.UPDATED) for r in self.results)

    def titles(self, *outcomes: Outcome) -> list[str]:
        return [r.title for r in self.results if r.outcome in outcomes]


class Engine:
    def __init__(self, ctx: Context, steps: Sequence[Step]) -> None:
        self.ctx = ctx
        self.steps = ordered(steps)

    def plan_all(self) -> tuple[dict[str, Plan], list[ForeignResourceError]]:
        """Read-only pass over every step; finds name conflicts before anything is created."""
        plans: dict[str, Plan] = {}
        conflicts: list[ForeignResourceError] = []
        for step in self.steps:
            try:
                plans[step.key] = step.plan(self.ctx)
            except ForeignResourceError as exc:
                conflicts.append(exc)
        return plans, conflicts

    def _finish(self, report: RunReport, result: StepResult) -> None:
        report.results.append(result)
        self.ctx.reporter.step_finished(result)

    def _stop(self, report: RunReport, order: list[Step], index: int, result: StepResult) -> None:
        """Record the step that stopped the run, and those that will not run after it."""
        self._finish(report, result)
        report.results += [StepResult(s.key, s.title, Outcome.NOT_RUN) for s in order[index + 1 :]]

    def up(self, *, dry_run: bool = False) -> RunReport:
        report = RunReport()
        try:
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
                self._finish(
                    report, StepResult(step.key, step.title, outcome, changes=plan.changes)
                )
            return report

        changed: set[str] = set()
        for index, step in enumerate(self.steps):
            started = self.ctx.clock()
            try:
                plan = plans[step.key]
                if any(d in changed for d in step.depends_on):
                    plan = step.plan(self.ctx)  # what it depends on changed: look again
                if plan.action is not Action.NONE:
                    self.ctx.reporter.step_started(step.key, step.title, plan.action.value)
                    step.apply(self.ctx, plan)
                    changed.add(step.key)
            except KeyboardInterrupt:
                report.interrupted = True
                stopped = StepResult(step.key, step.title, Outcome.INTERRUPTED, error="interrupted")
                self._stop(report, self.steps, index, stopped)
                return report
            except Exception as exc:  # reported per step; the CLI decides how to show it
                report.error = exc
                seconds = self.ctx.clock() - started
                failed = StepResult(
                    step.key, step.title, Outcome.FAILED, seconds, error=describe_error(exc)
                )
                self._stop(report, self.steps, index, failed)
                return report
            outcome = APPLIED.get(plan.action, Outcome.UNCHANGED)
            seconds = self.ctx.clock() - started
            self._finish(report, StepResult(step.key, step.title, outcome, seconds, plan.changes))
        return report

    def down(self) -> RunReport:
        """Destroy in reverse dependency order; not-found is done; keep going past failures."""
        report = RunReport()
        order = list(reversed(self.steps))
        for index, step in enumerate(order):
            started = self.ctx.clock()
            self.ctx.reporter.step_started(step.key, step.title, "delete")
            try:
                outcome, error = step.destroy(self.ctx), None
            except KeyboardInterrupt:
                report.interrupted = True
                stopped = StepResult(step.key, step.title, Outcome.INTERRUPTED, error="interrupted")
                self._stop(report, order, index, stopped)
                return report
            except Exception as exc:  # keep going: down must try every resource
                outcome, error = Outcome.FAILED, describe_error(exc)
            seconds = self.ctx.clock() - started
            self._finish(report, StepResult(step.key, step.title, outcome, seconds, error=error))
        return report
