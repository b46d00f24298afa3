"""`pocctl up`: build the pipeline, or bring it back to what it should be."""

from __future__ import annotations

from typing import Any

import click

from pocctl.cli.main import cli
from pocctl.cli.options import aws_options, collect, make_context
from pocctl.config import DEFAULT_STAGE
from pocctl.engine import Engine
from pocctl.errors import DeployError, PocctlError
from pocctl.reporting import Outcome
from pocctl.stack import build_steps
from pocctl.ui import Terminal


@cli.command()
@aws_options
@click.option("--email", help="Send order notifications to this address (SNS email subscription).")
@click.option("--stage", default=DEFAULT_STAGE, show_default=True, help="API Gateway stage name.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
def up(email: str | None, stage: str, dry_run: bool, **kwargs: Any) -> None:
    """Create the pipeline, or repair it: run it again and it changes only what drifted.

    \b
    Examples:
      pocctl up --email ops@example.com
      pocctl up --stack dev --region eu-west-1
      pocctl up --dry-run
    """
    term = Terminal()
    ctx = make_context(collect(kwargs), term, email=email, stage=stage)
    config = ctx.config
    verb = "Planning" if dry_run else "Deploying"
    term.heading(f"{verb} stack {config.stack} in {config.region}")
    started = ctx.clock()
    report = Engine(ctx, build_steps(config)).up(dry_run=dry_run)
    if report.conflicts:
        raise DeployError(
            "Nothing was created: these names are taken by resources this stack did not make:\n"
            + "\n".join(f"  - {c.kind} {c.name}" for c in report.conflicts),
            "Remove or rename them, or deploy another copy with --stack NAME.",
        )
    if not report.ok:
        failed = next(r for r in report.results if r.outcome is Outcome.FAILED)
        hint = report.error.hint if isinstance(report.error, PocctlError) else None
        done = [r.title for r in report.results if r.outcome in (Outcome.CREATED, Outcome.UPDATED)]
        raise DeployError(
            f"up stopped at {failed.title}: {failed.error}",
            (f"Made or changed before that: {', '.join(done)}.\n" if done else "")
            + (hint + "\n" if hint else "")
            + "Run `pocctl up` again to finish, or `pocctl down` to remove what was made.",
        ) from report.error
    counts = {o: sum(r.outcome is o for r in report.results) for o in Outcome}
    elapsed = ctx.clock() - started
    if dry_run:
        pending = counts[Outcome.WOULD_CREATE] + counts[Outcome.WOULD_UPDATE]
        term.info(
            f"Dry run: {counts[Outcome.WOULD_CREATE]} to create, "
            f"{counts[Outcome.WOULD_UPDATE]} to update, {counts[Outcome.UNCHANGED]} unchanged. "
            + ("Nothing was written." if pending else "Nothing to do.")
        )
        return
    term.success(
        f"Stack {config.stack} is up ({elapsed:.1f}s): {counts[Outcome.CREATED]} created, "
        f"{counts[Outcome.UPDATED]} updated, {counts[Outcome.UNCHANGED]} unchanged."
    )
    url = ctx.facts.get("invoke_url")
    if url:
        term.info(f"Order endpoint: {url}")
        term.info(
            f"The API is public, throttled to {config.tuning.throttle_rate:g} requests/s "
            f"(burst {config.tuning.throttle_burst}). Try it: pocctl test-order"
            + ("" if config.stack == "POC" else f" --stack {config.stack}")
        )
