"""Deploy: the application service behind `pocctl up` (and `demo`). It builds the functions'
code, then brings the stack to what its settings say, and returns what happened; progress goes
through the context's reporter. The command renders the result."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pocctl.code.packaging import Package
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.errors import DeployError, Interrupted, ManagedByCloudFormation, PocctlError
from pocctl.core.reporting import Outcome
from pocctl.pipeline.engine import DEFAULT_WORKERS, Engine, RunReport
from pocctl.pipeline.stack import build_steps, code_source
from pocctl.resources.base import AnyStep, Managed
from pocctl.resources.topic import EmailSubscriptionStep


@dataclass(frozen=True)
class Deployed:
    """What `up` did, step by step, and why it stopped part way (None if it didn't)."""

    report: RunReport
    failure: PocctlError | None


def deploy_steps(config: Config, *, resend_confirmation: bool = False) -> list[AnyStep]:
    """The steps `up` runs; with `resend_confirmation`, a pending email subscription is asked
    for a new confirmation mail."""
    steps = build_steps(config)
    if not resend_confirmation:
        return steps
    return [
        replace(step, resend=True) if isinstance(step, EmailSubscriptionStep) else step
        for step in steps
    ]


def package_code(ctx: Context, steps: list[AnyStep]) -> Package:
    """The functions' code, built and checked before anything is uploaded."""
    return code_source(steps).package(ctx)


def deploy(
    ctx: Context, steps: list[AnyStep], *, dry_run: bool = False, serial: bool = False
) -> Deployed:
    report = Engine(ctx, steps, workers=1 if serial else DEFAULT_WORKERS).up(dry_run=dry_run)
    if report.managed:
        return Deployed(report, refusal(ctx, "up", report.managed))
    return Deployed(report, deploy_failure(report))


def held_by_cloudformation(ctx: Context, command: str) -> ManagedByCloudFormation | None:
    """Why `command` would write nothing, read before anything else stops it (a prompt, a
    check of the code): what the user must hear first is that CloudFormation holds the stack."""
    managed = Engine(ctx, build_steps(ctx.config)).managed_by_cloudformation()
    return refusal(ctx, command, managed) if managed else None


def refusal(ctx: Context, command: str, managed: list[Managed]) -> ManagedByCloudFormation:
    """Why `up` or `down` wrote nothing: CloudFormation manages the stack (some of it, at least:
    a resource pocctl added after CloudFormation's deploy is still the stack's, and changing the
    rest under CloudFormation would make its next update fail or undo it)."""
    owners: dict[str, list[str]] = {}
    for resource in managed:
        owners.setdefault(resource.cloudformation_stack, []).append(resource.title)
    return ManagedByCloudFormation(command, ctx.config.stack, ctx.config.region, owners)


def deploy_failure(report: RunReport) -> PocctlError | None:
    """Why `up` stopped part way, with what was done and what to run next; None if it didn't."""
    if report.conflicts:
        return DeployError(
            "Nothing was created: these names are taken by resources this stack did not make:\n"
            + "\n".join(f"  - {c.kind} {c.name}" for c in report.conflicts),
            "Remove or rename them, or deploy another copy with --stack NAME.",
        )
    if report.interrupted:
        done = report.titles(Outcome.CREATED, Outcome.UPDATED)
        where = ", ".join(report.titles(Outcome.INTERRUPTED))
        return Interrupted(
            f"Interrupted{' while working on ' + where if where else ' before any change'}.",
            (f"Made or changed so far: {', '.join(done)}.\n" if done else "Nothing was changed.\n")
            + "Nothing is lost: run `pocctl up` to finish, "
            "or `pocctl down` to remove what was made.",
        )
    if not report.ok:
        failed = next(r for r in report.results if r.outcome is Outcome.FAILED)
        hint = report.error.hint if isinstance(report.error, PocctlError) else None
        done = report.titles(Outcome.CREATED, Outcome.UPDATED)
        error = DeployError(
            f"up stopped at {failed.title}: {failed.error}",
            (f"Made or changed before that: {', '.join(done)}.\n" if done else "")
            + (hint + "\n" if hint else "")
            + "Run `pocctl up` again to finish, or `pocctl down` to remove what was made.",
        )
        error.__cause__ = report.error  # --debug shows where it came from
        return error
    return None
