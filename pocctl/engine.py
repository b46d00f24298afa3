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

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and not self.conflicts
            and all(r.outcome not in (Outcome.FAILED, Outcome.NOT_RUN) for r in self.results)
        )

    @property
    def changed(self) -> bool:
        return any(r.outcome in (Outcome.CREATED, Outcome.UPDATED) for r in self.results)


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

    def up(self, *, dry_run: bool = False) -> RunReport:
        report = RunReport()
        plans, report.conflicts = self.plan_all()
        if report.conflicts:
            return report
        if dry_run:
            for step in self.steps:
                plan = plans[step.key]
                outcome = WOULD.get(plan.action, Outcome.UNCHANGED)
                result = StepResult(step.key, step.title, outcome, changes=plan.changes)
                report.results.append(result)
                self.ctx.reporter.step_finished(result)
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
            except Exception as exc:  # reported per step below; the CLI decides how to show it
                result = StepResult(
                    step.key,
                    step.title,
                    Outcome.FAILED,
                    self.ctx.clock() - started,
                    error=describe_error(exc),
                )
                report.results.append(result)
                self.ctx.reporter.step_finished(result)
                report.error = exc
                for later in self.steps[index + 1 :]:
                    report.results.append(StepResult(later.key, later.title, Outcome.NOT_RUN))
                return report
            outcome = APPLIED.get(plan.action, Outcome.UNCHANGED)
            result = StepResult(
                step.key, step.title, outcome, self.ctx.clock() - started, plan.changes
            )
            report.results.append(result)
            self.ctx.reporter.step_finished(result)
        return report

    def down(self) -> RunReport:
        """Destroy in reverse dependency order; not-found is done; keep going past failures."""
        report = RunReport()
        for step in reversed(self.steps):
            started = self.ctx.clock()
            self.ctx.reporter.step_started(step.key, step.title, "delete")
            try:
                outcome, error = step.destroy(self.ctx), None
            except Exception as exc:  # keep going: down must try every resource
                outcome, error = Outcome.FAILED, describe_error(exc)
            result = StepResult(
                step.key, step.title, outcome, self.ctx.clock() - started, error=error
            )
            report.results.append(result)
            self.ctx.reporter.step_finished(result)
        return report
