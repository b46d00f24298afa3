"""`pocctl up`: build the pipeline, or bring it back to what it should be."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.failures import as_click_error, stopped_by_user
from pocctl.cli.options import (
    Stack,
    aws_options,
    collect,
    env_option,
    handlers_option,
    open_stack,
    stack_options,
    terminal,
)
from pocctl.cli.remember import remember
from pocctl.cli.render import managed_json, run_up
from pocctl.cli.ui import Terminal
from pocctl.core.context import Context
from pocctl.core.errors import ManagedByCloudFormation, PocctlError
from pocctl.ops.cost import idle_month, idle_summary, shape_of, table_bytes
from pocctl.ops.deploy import held_by_cloudformation
from pocctl.ops.watch import Update, outside, watch
from pocctl.pipeline.stack import build_steps
from pocctl.resources.functions import FunctionStep


@click.command()
@aws_options
@stack_options
@click.option(
    "--resend-confirmation",
    is_flag=True,
    help="While the email subscription is pending, ask SNS for a new confirmation mail (SNS "
    "deletes a subscription left unconfirmed for 48 hours).",
)
@click.option(
    "--alarm-email",
    help="Send alarm mails (ALARM and OK) to this address instead of --email's. "
    "[env: POCCTL_ALARM_EMAIL; default: the --email address]",
)
@click.option(
    "--alarms/--no-alarms",
    default=None,
    help="CloudWatch alarms that mail when an order is dead-lettered, a function errs, the "
    "stream falls behind or the API answers 5xx; --no-alarms removes them. "
    "[env: POCCTL_ALARMS; default: on]",
)
@handlers_option
@env_option
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--serial", is_flag=True, help="One step at a time (for comparison and debugging).")
@click.option(
    "--watch",
    is_flag=True,
    help="After up, keep watching your handlers directory (and its requirements.txt) and upload "
    "each saved change to the functions it changes. Ctrl-C stops.",
)
@json_flag()
def up(
    email: str | None,
    stage: str | None,
    rate_limit: float | None,
    burst_limit: int | None,
    resend_confirmation: bool,
    alarm_email: str | None,
    alarms: bool | None,
    handlers: str | None,
    env: dict[str, str] | None,
    dry_run: bool,
    serial: bool,
    watch: bool,
    as_json: bool,
    **kwargs: Any,
) -> Finished:
    """Create the pipeline, or repair it: run it again and it changes only what drifted.

    Steps run in parallel as soon as what they depend on exists (roles, table, queues and topic
    together; functions once their role exists; mappings and the API last). Settings not given
    as flags come from the environment, then pocctl.toml, then what the stack was last deployed
    with, then defaults (see `pocctl config`). A flag that changes a key set in pocctl.toml
    updates that key there.

    It first packages and checks the functions' code (built-in, or your --handlers directory:
    see "Changing the code" in the README) and says which, with its hash and size. It prints
    each step (created / updated / unchanged, with timings), the order URL, and that the API is
    public with its throttle. A second run makes no change and no write call (SQS's CreateQueue
    of each existing queue, which changes nothing, is how it tells a queue from one deleted in
    the last minute that still answers).

    \b
    Examples:
      pocctl up --email ops@example.com
      pocctl up --email ops@example.com --alarm-email oncall@example.com
      pocctl up --no-alarms      (removes the stack's CloudWatch alarms)
      pocctl up --stack dev --region eu-west-1
      pocctl up --dry-run
      pocctl up --resend-confirmation   (the confirmation mail got lost)
      pocctl up --json | jq -r .order_url
      pocctl up --env LOG_LEVEL=DEBUG --env FEATURE_X=on
      pocctl up --watch          (with handlers = "handlers" in pocctl.toml)
    """
    flags = collect(
        kwargs,
        email=email,
        stage=stage,
        rate_limit=rate_limit,
        burst_limit=burst_limit,
        handlers=handlers,
        environment=env,
        alarm_email=alarm_email,
        alarms=alarms,
    )
    if alarm_email is not None and alarms is False:
        raise click.UsageError(
            "--alarm-email subscribes an address to the alarms' topic, which --no-alarms "
            "removes: drop one of them."
        )
    if watch and dry_run:
        raise click.UsageError("--watch uploads changes; it can't be used with --dry-run.")
    term = terminal(flags, as_json=as_json)
    stack = open_stack(flags, term)
    ctx = stack.ctx
    try:
        refuse_to_replace_code(stack)
    except ManagedByCloudFormation as refused:
        return Finished(managed_json(refused), refused)
    refuse_to_drop_environment(stack)
    if resend_confirmation and ctx.config.email is None:
        raise click.UsageError(
            "--resend-confirmation mails the stack's email address, and none is set: "
            "pass --email (or set POCCTL_EMAIL, or email in pocctl.toml)."
        )
    if watch and ctx.config.handlers is None:
        raise PocctlError(
            "--watch watches your own handlers, and this stack deploys pocctl's built-in ones; "
            "nothing was changed.",
            "Copy them with `pocctl init --handlers`, then run `pocctl up --watch`.",
        )
    finished = run_up(
        term,
        ctx,
        dry_run=dry_run,
        serial=serial,
        resend_confirmation=resend_confirmation,
    )
    if not dry_run and finished.failure is None:
        finished = with_idle_cost(term, ctx, finished)
        for line in remember(stack.given):
            term.info(line)
    if not watch or finished.failure is not None:
        return finished
    updates = watch_handlers(term, ctx)  # until Ctrl-C: exit 130, as any interrupted command
    document = {**finished.document, "watch": [u.as_json() for u in updates]}
    return Finished(document, stopped_by_user())


def with_idle_cost(term: Terminal, ctx: Context, finished: Finished) -> Finished:
    """`up`'s line on what the stack costs a month with no order coming (`pocctl cost`)."""
    idle = idle_month(ctx.config.region, shape_of(ctx.config), stored_bytes=table_bytes(ctx))
    if idle is None:
        return finished
    term.info(idle_summary(idle))
    document = {
        **finished.document,
        "idle_monthly_cost": {
            "usd": round(idle.idle_total, 4),
            "usd_after_free_tier": round(idle.idle_after_free_tier, 4),
            "lines": [line.as_json() for line in idle.idle_lines],
        },
    }
    return Finished(document, finished.failure)


def refuse_to_replace_code(stack: Stack) -> None:
    """`up` never replaces code deployed from a directory this machine doesn't have with other
    code the user didn't ask for."""
    config, record = stack.ctx.config, stack.record
    if stack.given.sources["handlers"] != "default":
        return
    if record.code_unrecorded:
        where = "a directory whose path was too long to record (a tag holds 256 characters)"
    elif config.handlers is not None and not Path(config.handlers).is_dir():
        where = f"{config.handlers}/, which is not on this machine"
    else:
        return
    refused = held_by_cloudformation(stack.ctx, "up")
    if refused is not None:  # what the user must change is CloudFormation's stack, not --handlers
        raise refused
    raise PocctlError(
        f"Stack {config.stack}'s code was deployed from {where}; `up` would replace it, so "
        "nothing was changed.",
        "Run `pocctl up` where that directory is, or say which code to deploy: --handlers DIR "
        "(or handlers in pocctl.toml).",
    )


def refuse_to_drop_environment(stack: Stack) -> None:
    """`up` never deploys variables the user didn't give over ones it can't read back (both
    functions edited by hand since the deploy; their values are not recorded)."""
    record = stack.record
    if not record.environment_lost or stack.given.sources["environment"] != "default":
        return
    keys = ", ".join(record.environment_keys) or "none"
    raise PocctlError(
        f"Stack {stack.ctx.config.stack}'s environment variables were changed by hand on both "
        f"functions since the last deploy (deployed keys: {keys}), and their values are not "
        "recorded; `up` would replace them with none, so nothing was changed.",
        "Set them again with --env KEY=VALUE (repeat it) or [environment] in pocctl.toml; "
        '--env "" deploys none.',
    )


def watch_handlers(term: Terminal, ctx: Context) -> list[Update]:
    """`up --watch`, after up: until Ctrl-C. Each save is one line (or its error)."""
    functions = [s for s in build_steps(ctx.config) if isinstance(s, FunctionStep)]
    updates: list[Update] = []

    def report(update: Update) -> None:
        updates.append(update)
        files = ", ".join(update.changed)
        if update.failure is not None:
            message = as_click_error(update.failure).format_message()
            term.warning(f"{files}: {message}\nWatching on: the next save tries again.")
        elif update.updated:
            term.success(
                f"{files}: updated {', '.join(update.updated)} "
                f"({update.seconds:.2f}s from save to updated)"
            )
        else:
            term.info(f"{files}: no function's code changed; nothing uploaded")
        for note in update.notes:  # as `up` shows them: each build may differ
            term.note(note)

    directory = functions[0].source.directory
    beyond = outside(directory) if directory is not None else []
    also = f" (and {', '.join(beyond)}, which requirements.txt names)" if beyond else ""
    term.info(f"Watching {directory}/{also} for changes (Ctrl-C to stop) ...")
    try:
        watch(ctx, functions, report)
    except KeyboardInterrupt:
        term.info(f"Stopped watching ({len(updates)} change(s) seen).")
    return updates
