"""What more than one command shows: `up`'s and `down`'s runs with their JSON documents, and
an order proved hop by hop (`demo` shows all three as `up`, `down` and `test-order` do)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from pocctl.cli.document import Finished
from pocctl.cli.ui import Terminal
from pocctl.code.packaging import CodeSource, Package
from pocctl.core.config import TAG_KEY
from pocctl.core.context import Context
from pocctl.core.errors import ManagedByCloudFormation
from pocctl.core.reporting import Outcome
from pocctl.ops.deploy import deploy, deploy_steps
from pocctl.ops.smoke import Hop, SmokeResult, run_test_order
from pocctl.ops.teardown import teardown
from pocctl.pipeline.engine import RunReport
from pocctl.pipeline.stack import code_source


def summary(ctx: Context, report: RunReport, seconds: float) -> dict[str, Any]:
    """What a script needs to know about a run of `up` or `down`."""
    return {
        "stack": ctx.config.stack,
        "region": ctx.config.region,
        "seconds": round(seconds, 2),
        "counts": {
            o.value: n for o in Outcome if (n := sum(r.outcome is o for r in report.results))
        },
        "steps": [{**asdict(r), "seconds": round(r.seconds, 2)} for r in report.results],
    }


def managed_json(failure: Exception | None) -> dict[str, Any]:
    """For `--json`, when `up` or `down` stopped because CloudFormation manages the stack: each
    CloudFormation stack and the resources of it found."""
    if not isinstance(failure, ManagedByCloudFormation):
        return {}
    return {"managed_by_cloudformation": failure.owners}


def run_up(
    term: Terminal,
    ctx: Context,
    *,
    dry_run: bool = False,
    serial: bool = False,
    resend_confirmation: bool = False,
) -> Finished:
    """Run `up` on a context and render it. Its failure, when it stops part way, is a
    DeployError (or Interrupted)."""
    config = ctx.config
    term.heading(
        f"{'Planning' if dry_run else 'Deploying'} stack {config.stack} in {config.region}"
    )
    started = ctx.clock()
    steps = deploy_steps(config, resend_confirmation=resend_confirmation)
    package = packaged(term, ctx, code_source(steps))
    deployed = deploy(ctx, steps, dry_run=dry_run, serial=serial)
    report = deployed.report
    tuning = config.tuning
    document = {
        **summary(ctx, report, ctx.clock() - started),
        "dry_run": dry_run,
        "conflicts": [f"{c.kind} {c.name}" for c in report.conflicts],
        "order_url": ctx.outputs.order_url,
        "api": {
            "public": True,
            "rate_limit": tuning.throttle_rate,
            "burst_limit": tuning.throttle_burst,
        },
        "code": package.as_json(),
        "notes": term.notes,
        **managed_json(deployed.failure),
    }
    if deployed.failure is None:
        render_deployed(term, ctx, report, ctx.clock() - started, dry_run=dry_run)
    return Finished(document, deployed.failure)


def packaged(term: Terminal, ctx: Context, source: CodeSource) -> Package:
    """The functions' code, built and checked before anything is uploaded."""
    started = ctx.clock()
    where = "the built-in handlers" if source.directory is None else f"{source.directory}/"
    with term.busy(f"Packaging {where} ..."):
        package = source.package(ctx)
    term.info(f"Code: {package.describe()} ({ctx.clock() - started:.1f}s)")
    for note in package.notes:
        term.note(note)
    return package


def render_deployed(
    term: Terminal, ctx: Context, report: RunReport, seconds: float, *, dry_run: bool
) -> None:
    config, tuning, url = ctx.config, ctx.config.tuning, ctx.outputs.order_url
    counts = {o: sum(r.outcome is o for r in report.results) for o in Outcome}
    if dry_run:
        pending = counts[Outcome.WOULD_CREATE] + counts[Outcome.WOULD_UPDATE]
        term.success(
            f"Dry run: {counts[Outcome.WOULD_CREATE]} to create, "
            f"{counts[Outcome.WOULD_UPDATE]} to update, {counts[Outcome.UNCHANGED]} unchanged. "
            + ("Nothing was written." if pending else "Nothing to do.")
        )
        return
    term.success(
        f"Stack {config.stack} is up ({seconds:.1f}s): "
        f"{counts[Outcome.CREATED]} created, {counts[Outcome.UPDATED]} updated, "
        f"{counts[Outcome.UNCHANGED]} unchanged."
    )
    if url:
        stack_flag = "" if config.stack == "POC" else f" --stack {config.stack}"
        term.info(f"Order endpoint: {url}")
        term.info(
            f"The API is public: anyone with the URL can post orders, up to "
            f"{tuning.throttle_rate:g} requests/s (burst {tuning.throttle_burst}); change it "
            f"with --rate-limit or rate_limit in pocctl.toml. Try it: pocctl test-order{stack_flag}"
        )
    if config.email is None:  # `status` shows what the topic has; `up` says how to add one
        term.info("No email requested: add one with --email to be mailed each order.")


def run_down(term: Terminal, ctx: Context, *, serial: bool = False) -> Finished:
    """Run `down` and the sweep on a context and render them. Its failure names what is left."""
    config = ctx.config
    term.heading(f"Removing stack {config.stack} from {config.region}")
    started = ctx.clock()
    torn = teardown(ctx, serial=serial)
    report, swept = torn.report, torn.swept
    document = {
        **summary(ctx, report, ctx.clock() - started),
        "notes": term.notes,
        **managed_json(torn.failure),
    }
    if swept is None:
        return Finished(document, torn.failure)
    document["left"] = [vars(item) for item in swept.left]
    document["being_deleted"] = [vars(item) for item in swept.being_deleted]
    document["sweep"] = {"tagged_resources_checked": swept.checked}
    if swept.incomplete:
        document["sweep"]["incomplete"] = swept.incomplete
    if torn.failure is not None:
        return Finished(document, torn.failure)
    if swept.being_deleted:
        term.info(
            "Still being deleted by AWS (it finishes on its own and bills nothing meanwhile): "
            + ", ".join(f"{item.kind} {item.name}" for item in swept.being_deleted)
        )
    count = sum(r.outcome is Outcome.DELETED for r in report.results)
    term.success(f"Stack {config.stack} is down ({ctx.clock() - started:.1f}s): {count} deleted.")
    if swept.incomplete:
        term.warning(f"Not confirmed: {swept.incomplete}.")
    else:
        term.info(
            f"Swept {config.region}: nothing tagged {TAG_KEY}={config.stack} is left "
            "(tagging API, IAM roles, API Gateway, the table and the mappings checked), "
            "so nothing of it can bill you."
        )
    return Finished(document)


def prove(
    term: Terminal,
    ctx: Context,
    order: dict[str, Any],
    timeout: float,
    *,
    measure: bool = False,
) -> SmokeResult:
    """Each hop is shown as it passes; on Ctrl-C, TestOrderInterrupted (the inbox removed)."""
    term.heading(f"Testing stack {ctx.config.stack} with one order: {json.dumps(order)}")

    def show(hop: Hop) -> None:
        term.hop(hop.name, hop.ok, hop.seconds, hop.detail)

    with term.showing_waits():
        result = run_test_order(ctx, order, timeout=timeout, on_hop=show, measure=measure)
    for email, state in result.email_subscriptions.items():
        term.info(f"email subscription {email}: {state}")
    if not result.email_subscriptions:
        term.info("no email subscription (add one with `pocctl up --email you@example.com`)")
    return result
