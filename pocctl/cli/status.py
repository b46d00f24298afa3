"""`pocctl status`: the whole pipeline's health at a glance, drawn as the order flows."""

from __future__ import annotations

from typing import Any

import click

from pocctl.cli.main import cli
from pocctl.cli.options import aws_options, collect, json_document, make_context, terminal
from pocctl.config import Names
from pocctl.errors import PocctlError
from pocctl.health import DRIFTED, FOREIGN, MISSING, Depth, Health, check
from pocctl.reporting import RecordingReporter
from pocctl.ui import Node

MARK = {MISSING: "missing", DRIFTED: "drifted", FOREIGN: "problem"}


def resource(health: Health, key: str, extra: str = "", children: list[Node] | None = None) -> Node:
    found = health.resources[key]
    state = "" if found.state == "present" else f" [{found.state}]"
    return Node(
        f"{found.kind} {found.name}{extra}{state}",
        MARK.get(found.state, "ok"),
        list(found.changes),
        children or [],
    )


def queue_note(depth: Depth | None, what: str) -> str:
    if depth is None:
        return ""
    return f": {depth.waiting} {what}, {depth.in_flight} in flight"


def mapping(health: Health, key: str, children: list[Node]) -> Node:
    node = resource(health, key, children=children)
    states = health.mappings.get(key) or []
    if states:
        node.label += f": {', '.join(states)}"
        if any(s not in ("Enabled", "Creating", "Enabling", "Updating") for s in states):
            node.mark = "problem"
    return node


def pipeline(health: Health, names: Names) -> list[Node]:
    """The stack as the order travels through it; roles and log groups under what uses them."""
    q = health.queues
    email = [
        Node(f"email {address}: {state}", "ok" if state == "confirmed" else "warn")
        for address, state in health.subscriptions.items()
    ]
    wanted = health.resources.get("subscription")
    if wanted is not None and wanted.state == MISSING:
        email.append(Node(f"email {wanted.name} [missing]", "missing"))
    if not email:
        email = [Node("no email subscription (add one: pocctl up --email ADDRESS)", "warn")]
    notifier = resource(
        health,
        "notifier",
        children=[
            resource(health, "notifier-role"),
            resource(health, "notifier-logs"),
            resource(health, "topic", children=email),
        ],
    )
    failures = resource(
        health,
        "failure-queue",
        " (failed notification batches)" + queue_note(q.get(names.stream_failure_queue), "waiting"),
    )
    table = resource(
        health, "table", children=[mapping(health, "stream-mapping", [failures, notifier])]
    )
    writer = resource(
        health,
        "writer",
        children=[resource(health, "writer-role"), resource(health, "writer-logs"), table],
    )
    dead = resource(
        health, "dlq", " (dead letters)" + queue_note(q.get(names.dead_letter_queue), "waiting")
    )
    queue = resource(
        health,
        "queue",
        queue_note(q.get(names.queue), "waiting"),
        [dead, mapping(health, "queue-mapping", [writer])],
    )
    throttle = ""
    if health.throttle:
        throttle = (
            f" (public, {health.throttle['rate_limit']:g} requests/s, "
            f"burst {health.throttle['burst_limit']})"
        )
    api = resource(health, "api", throttle, [resource(health, "api-role"), queue])
    return [api]


@cli.command()
@aws_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def status(as_json: bool, **kwargs: Any) -> None:
    """Show every resource of the stack and how the pipeline is doing. Changes nothing.

    Each resource is present, missing, drifted (with what differs) or taken by a look-alike;
    also both mappings' states, the queues' depths, the email subscription and the order URL.
    Exit status 0 when healthy; 1, naming each problem, otherwise.

    \b
    Examples:
      pocctl status
      pocctl status --stack dev --json | jq .problems
    """
    flags = collect(kwargs)
    document = json_document(command="status") if as_json else None
    term = terminal(flags, as_json=as_json)
    ctx = make_context(flags, term, reporter=RecordingReporter())
    with term.busy(f"Reading stack {ctx.config.stack} in {ctx.config.region} ..."):
        health = check(ctx)
    if document is not None:
        document.update(health.as_json())
    verdict = "healthy" if health.healthy else f"{len(health.problems)} problem(s)"
    if health.deployed:
        term.tree(
            f"Stack {health.stack} in {health.region}: {verdict}",
            pipeline(health, ctx.config.names),
        )
        if health.order_url:
            term.info(f"Order endpoint: POST {health.order_url}")
    for warning in health.warnings:
        term.warning(f"warning: {warning}")
    if not health.deployed:
        raise PocctlError(
            f"Stack {health.stack} is not deployed in {health.region}: none of its resources "
            "exist.",
            "Run `pocctl up`, or check --stack and --region (see `pocctl config`).",
        )
    if not health.healthy:
        raise PocctlError(
            f"Stack {health.stack} is not healthy:\n"
            + "\n".join(f"  - {problem}" for problem in health.problems),
            "Run `pocctl up` to repair what is missing or drifted.",
        )
    term.success(f"Stack {health.stack} is healthy.")
