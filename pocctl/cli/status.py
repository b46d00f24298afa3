"""`pocctl status`: the whole pipeline's health at a glance, drawn as the order flows."""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.options import (
    Stack,
    aws_options,
    collect,
    env_option,
    handlers_option,
    open_stack,
    terminal,
)
from pocctl.cli.ui import Node
from pocctl.core.errors import PocctlError
from pocctl.core.reporting import RecordingReporter
from pocctl.ops.health import DRIFTED, FOREIGN, MISSING, PRESENT, REPAIR, Health, Resource, check
from pocctl.pipeline.stack import DRAWN_UNDER, build_steps
from pocctl.resources.functions import FunctionStep
from pocctl.resources.recorded import environment_digest
from pocctl.settings.resolve import BY_KEY, Pending, pending, shown, with_record

MARK = {MISSING: "missing", DRIFTED: "drifted", FOREIGN: "problem"}


def node(found: Resource) -> Node:
    live = found.live
    state = "" if found.state == PRESENT else f" [{found.state}]"
    mark = MARK.get(found.state) or (
        "problem" if live.problems else "warn" if live.warnings else "ok"
    )
    lines = [Node(text, "ok" if ok else "warn") for text, ok in live.lines]
    return Node(f"{found.title}{live.detail}{state}", mark, list(found.changes), lines)


def pipeline(health: Health) -> list[Node]:
    """The stack as the order travels through it (`DRAWN_UNDER`)."""
    nodes = {key: node(found) for key, found in health.resources.items()}
    roots: list[Node] = []
    for key, drawn in nodes.items():
        parent = nodes.get(DRAWN_UNDER.get(key, ""))
        (parent.children if parent is not None else roots).append(drawn)
    for drawn in nodes.values():  # what stands alone (a role, a log group) before what leads on
        drawn.children.sort(key=lambda child: bool(child.children))
    return roots


def environment_lost(stack: Stack) -> bool:
    """Neither function runs the deployed variables (checked against the recorded digest), and
    the user gave no set that is the deployed one: their values are not known."""
    record, given = stack.record, stack.given
    if not record.environment_lost:
        return False
    return not (
        given.sources["environment"] != "default"
        and environment_digest(stack.ctx.config.stack, given.values["environment"])
        == record.environment_digest
    )


def report_lost_environment(health: Health, keys: tuple[str, ...]) -> None:
    functions = [
        r for r in health.resources.values() if r.kind == FunctionStep.kind and r.state != MISSING
    ]
    if not functions:
        return
    names = " and ".join(r.name for r in functions)
    deployed = f"the deployed keys: {', '.join(keys)}" if keys else "none were deployed"
    functions[0].live.problems.append(
        f"environment variables of {names} differ from the last deploy ({deployed}); their "
        "values are not recorded, so pocctl can't say which differ"
    )
    functions[0].live.hints.append(
        "Set the variables again with --env KEY=VALUE (or [environment] in pocctl.toml), then "
        "run `pocctl up`."
    )


@click.command()
@aws_options
@handlers_option
@env_option
@json_flag()
def status(
    as_json: bool, handlers: str | None, env: dict[str, str] | None, **kwargs: Any
) -> Finished:
    """Show every resource of the stack and how the pipeline is doing. Changes nothing.

    Drawn as the pipeline, each resource is present, missing, drifted by hand (with what
    differs) or taken by a look-alike; also both mappings' states, the queues' depths (orders in
    the dead-letter queue with the writer's last error), which code each function runs (built-in
    or your --handlers directory, with its hash, compared with the code it was deployed from
    when that is on this machine), the email subscription and the order URL.
    Exit status 0 when healthy; 1, naming each problem, each with the fix that fits it.

    The stack is checked against what its last `up` applied (recorded on its resources), so a
    hand edit is drift and a deploy with other flags is not. A setting given here (a flag such
    as --handlers DIR), in the environment or in pocctl.toml that differs from the deploy is
    listed as `pending`: a change `up` would make, not a problem.

    \b
    Examples:
      pocctl status
      pocctl status --stack dev --json | jq .problems
    """
    flags = collect(kwargs, handlers=handlers, environment=env)
    term = terminal(flags, as_json=as_json)
    stack = open_stack(flags, term, reporter=RecordingReporter())
    ctx, recorded = stack.ctx, stack.record.values
    ctx.config = with_record(stack.given, recorded, over="all").config()
    lost = environment_lost(stack)
    if lost:
        ctx.config = replace(ctx.config, environment_known=False)
    waiting = pending(stack.given, recorded)
    changes = [str(change) for change in waiting]
    with term.busy(f"Reading stack {ctx.config.stack} in {ctx.config.region} ..."):
        health = check(ctx, build_steps(ctx.config))
    if lost:
        report_lost_environment(health, stack.record.environment_keys)
    verdict = "healthy" if health.healthy else f"{len(health.problems)} problem(s)"
    if health.deployed:
        term.tree(
            f"Stack {health.stack} in {health.region}: {verdict}",
            pipeline(health),
        )
        if health.order_url:
            term.info(f"Order endpoint: POST {health.order_url}")
        for owner in health.cloudformation:
            term.info(
                f"Managed by CloudFormation stack {owner}: `pocctl up` and `down` leave it "
                f"alone; change it with `aws cloudformation deploy --stack-name {owner} "
                f"--region {health.region} ...`"
            )
    for change in changes:
        term.info(f"pending: {change}")
    for warning in health.warnings:
        term.warning(f"warning: {warning}")
    document = {**health.as_json(), "pending": changes}
    if not health.deployed:
        return Finished(
            document,
            PocctlError(
                f"Stack {health.stack} is not deployed in {health.region}: none of its resources "
                "exist.",
                "Run `pocctl up`, or check --stack and --region (see `pocctl config`).",
            ),
        )
    if not health.healthy:
        return Finished(
            document,
            PocctlError(
                f"Stack {health.stack} is not healthy:\n"
                + "\n".join(f"  - {problem}" for problem in health.problems),
                "\n".join(
                    [
                        keeping(waiting) if waiting and hint == REPAIR else hint
                        for hint in health.hints
                    ]
                ),
            ),
        )
    term.success(f"Stack {health.stack} is healthy.")
    return Finished(document)


def keeping(changes: list[Pending]) -> str:
    """The repair that keeps the last deploy: a bare `pocctl up` would also make the pending
    changes (move the stage, say), undoing it."""
    flags, elsewhere = [], []
    for change in changes:
        flag = BY_KEY[change.key].flag
        if flag in ("--stage", "--rate-limit", "--burst-limit") or (
            flag == "--handlers" and change.deployed is not None
        ):
            flags.append(f"{flag} {shlex.quote(str(change.deployed))}")
        else:
            value = shown(change.key, change.deployed)
            elsewhere.append(f"{change.key} to {value} in {change.source}")
    command = " ".join(["pocctl up", *flags])
    return (
        f"Run `{command}` to repair what is missing or drifted and keep the deploy"
        + (f" (after setting {', '.join(elsewhere)} back)" if elsewhere else "")
        + ": a bare `pocctl up` would also make the pending changes above."
    )
