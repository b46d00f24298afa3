"""`pocctl status`: every resource of the stack and how the pipeline is doing, read-only.

The resources come from the same `plan` pass `up` makes (present, missing, drifted and what
differs, or taken by a look-alike); the live state comes from a few extra reads made side by
side: mapping states, queue depths, email subscriptions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from pocctl.aws import is_not_found
from pocctl.context import Context
from pocctl.engine import Engine
from pocctl.reporting import Action
from pocctl.resources.base import AnyStep
from pocctl.resources.queues import queue_url
from pocctl.resources.topic import PENDING, subscriptions, topic_arn
from pocctl.stack import build_steps

PRESENT, MISSING, DRIFTED, FOREIGN = "present", "missing", "drifted", "not ours"


@dataclass
class Resource:
    kind: str
    name: str
    state: str
    changes: list[str] = field(default_factory=list)


@dataclass
class Depth:
    waiting: int
    in_flight: int


@dataclass
class Health:
    stack: str
    region: str
    resources: dict[str, Resource] = field(default_factory=dict)
    mappings: dict[str, list[str]] = field(default_factory=dict)
    queues: dict[str, Depth | None] = field(default_factory=dict)
    subscriptions: dict[str, str] = field(default_factory=dict)
    order_url: str | None = None
    throttle: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def deployed(self) -> bool:
        return any(r.state != MISSING for r in self.resources.values())

    def as_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["healthy"] = self.healthy
        document["deployed"] = self.deployed
        return document


def mapping_states(ctx: Context, function: str) -> list[str]:
    try:
        found = ctx.client("lambda").list_event_source_mappings(FunctionName=function)
    except ClientError as exc:
        if is_not_found(exc):
            return []
        raise
    return [m.get("State", "?") for m in found["EventSourceMappings"]]


def depth(ctx: Context, name: str) -> Depth | None:
    url = queue_url(ctx, name)
    if url is None:
        return None
    attributes = ctx.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return Depth(
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def email_subscriptions(ctx: Context) -> dict[str, str]:
    try:
        found = subscriptions(ctx, topic_arn(ctx, ctx.config.names.topic))
    except ClientError as exc:
        if is_not_found(exc):
            return {}
        raise
    return {
        s["Endpoint"]: "pending confirmation" if s["SubscriptionArn"] == PENDING else "confirmed"
        for s in found
        if s["Protocol"] == "email"
    }


def _resources(
    ctx: Context, steps: list[AnyStep]
) -> tuple[dict[str, Resource], dict[str, Any] | None]:
    """Each resource's state from `up`'s read-only plan pass, and the stage's throttle."""
    resources: dict[str, Resource] = {}
    throttle = None
    plans, conflicts = Engine(ctx, steps).plan_all()
    foreign = {(c.kind, c.name) for c in conflicts}
    for step in steps:
        if step.key == "subscription" and ctx.config.email is None:
            continue  # no address asked for: the live subscriptions are listed instead
        if (step.kind, step.name) in foreign:
            resources[step.key] = Resource(step.kind, step.name, FOREIGN)
            continue
        plan = plans[step.key]
        state = {Action.CREATE: MISSING, Action.UPDATE: DRIFTED}.get(plan.action, PRESENT)
        changes = plan.described() if state == DRIFTED else []
        resources[step.key] = Resource(step.kind, step.name, state, changes)
        if step.key == "api" and plan.current is not None and plan.current.stage:
            settings = (plan.current.stage.get("methodSettings") or {}).get("*/*", {})
            throttle = {
                "rate_limit": settings.get("throttlingRateLimit"),
                "burst_limit": settings.get("throttlingBurstLimit"),
            }
    return resources, throttle


def check(ctx: Context) -> Health:
    """Read everything about the stack at once and judge it. Writes nothing."""
    config = ctx.config
    n = config.names
    health = Health(config.stack, config.region)
    steps = build_steps(config)
    queues = (n.queue, n.dead_letter_queue, n.stream_failure_queue)
    results: list[Any] = ctx.together(
        lambda: _resources(ctx, steps),
        lambda: mapping_states(ctx, n.writer_function),
        lambda: mapping_states(ctx, n.notifier_function),
        lambda: email_subscriptions(ctx),
        *(partial(depth, ctx, name) for name in queues),
    )
    resources_and_throttle, writer_mappings, notifier_mappings, emails, *depths = results
    health.resources, health.throttle = resources_and_throttle
    health.subscriptions = emails
    health.mappings = {"queue-mapping": writer_mappings, "stream-mapping": notifier_mappings}
    health.queues = dict(zip(queues, depths, strict=True))
    health.order_url = ctx.outputs.order_url
    judge(ctx, health)
    return health


def judge(ctx: Context, health: Health) -> None:
    n = ctx.config.names
    if not health.deployed:
        health.problems.append(
            f"stack {health.stack} is not deployed in {health.region}: run `pocctl up`"
        )
        return
    for resource in health.resources.values():
        title = f"{resource.kind} {resource.name}"
        if resource.state == MISSING:
            health.problems.append(f"{title} is missing")
        elif resource.state == DRIFTED:
            health.problems.append(f"{title} has drifted ({'; '.join(resource.changes)})")
        elif resource.state == FOREIGN:
            health.problems.append(f"{title} exists but is not this stack's (no pocctl tag)")
    for key, states in health.mappings.items():
        inactive = [s for s in states if s not in ("Enabled", "Creating", "Enabling", "Updating")]
        if inactive:
            health.problems.append(f"{key} is {', '.join(inactive)}: nothing flows through it")
    dead = health.queues.get(n.dead_letter_queue)
    if dead and dead.waiting + dead.in_flight:
        health.problems.append(
            f"{dead.waiting + dead.in_flight} order(s) in the dead-letter queue "
            f"{n.dead_letter_queue}: Lambda-1 failed on them "
            f"{ctx.config.tuning.queue_max_receive_count} times (see `pocctl logs --function 1`)"
        )
    failed = health.queues.get(n.stream_failure_queue)
    if failed and failed.waiting + failed.in_flight:
        health.problems.append(
            f"{failed.waiting + failed.in_flight} failed notification batch(es) in "
            f"{n.stream_failure_queue} (see `pocctl logs --function 2`)"
        )
    for email, state in health.subscriptions.items():
        if state != "confirmed":
            health.warnings.append(
                f"{email} is {state}: click the link in the email from AWS Notifications"
            )
    if not health.subscriptions:
        health.warnings.append("no email subscription: add one with `pocctl up --email ADDRESS`")
