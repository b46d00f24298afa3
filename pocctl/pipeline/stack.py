"""The pipeline as a list of steps with their dependencies, and the outputs users script against."""

from __future__ import annotations

import json
from typing import Any

from pocctl.code.packaging import CodeSource
from pocctl.core.aws import aws_errors
from pocctl.core.config import Config, Names
from pocctl.core.context import Context
from pocctl.resources.alarms import (
    ALARMS_OFF,
    AlarmStep,
    Metric,
    api_errors,
    function_errors,
    iterator_age,
    queue_depth,
    topic_policy,
)
from pocctl.resources.api import ApiStep, find_api, invoke_url
from pocctl.resources.base import AnyStep
from pocctl.resources.functions import FunctionStep
from pocctl.resources.iam import BoundaryStep, RoleStep, policy_arn
from pocctl.resources.logs import LogGroupStep, last_error, log_group_arn
from pocctl.resources.mappings import QueueMappingStep, StreamMappingStep
from pocctl.resources.policies import render, statements
from pocctl.resources.queues import FOURTEEN_DAYS, QueueStep, queue_arn, queue_url
from pocctl.resources.table import TableStep
from pocctl.resources.topic import EmailSubscriptionStep, TopicStep, topic_arn

WRITER_HANDLER = "order_writer.handler"
NOTIFIER_HANDLER = "order_notifier.handler"


# How `status` draws the stack, as an order travels through it: each step under the one it
# comes after (roles and log groups under what uses them). A step not named here is drawn at
# the top.
DRAWN_UNDER: dict[str, str] = {
    "api-role": "api",
    "boundary": "api-role",
    "queue": "api",
    "dlq": "queue",
    "queue-mapping": "queue",
    "writer": "queue-mapping",
    "writer-role": "writer",
    "writer-logs": "writer",
    "table": "writer",
    "stream-mapping": "table",
    "failure-queue": "stream-mapping",
    "notifier": "stream-mapping",
    "notifier-role": "notifier",
    "notifier-logs": "notifier",
    "topic": "notifier",
    "subscription": "topic",
    "alarm-subscription": "alarm-topic",
    "dead-letters-alarm": "dlq",
    "stream-failures-alarm": "failure-queue",
    "writer-errors-alarm": "writer",
    "notifier-errors-alarm": "notifier",
    "iterator-age-alarm": "stream-mapping",
    "api-errors-alarm": "api",
}


# On the way down AWS enforces little order. A function goes once its mapping's deletion has
# started, so that no mapping outlives its function retrying; a log group once its function is
# gone, or a last invocation would have Lambda make it again, untagged; the topic once its
# subscription is removed, so that `down` reports it. A role's policies go before the role
# within its own step, the roles' permissions boundary after every role. Everything else is
# deleted at once.
TEARDOWN_AFTER: dict[str, tuple[str, ...]] = {
    "topic": ("subscription",),
    "alarm-topic": ("alarm-subscription",),
    "boundary": ("writer-role", "notifier-role", "api-role"),
    "writer": ("queue-mapping",),
    "notifier": ("stream-mapping",),
    "writer-logs": ("writer",),
    "notifier-logs": ("notifier",),
}


def build_steps(config: Config) -> list[AnyStep]:
    steps = _steps(config) + _alarm_steps(config)
    for step in steps:
        step.teardown_after = TEARDOWN_AFTER.get(step.key, ())
    return steps


def _steps(config: Config) -> list[AnyStep]:
    n = config.names
    tuning = config.tuning

    def table_arn(ctx: Context) -> str:
        return ctx.arn("dynamodb", f"table/{n.table}")

    def writer_policy(ctx: Context) -> dict[str, str]:
        return {
            "queue_arn": queue_arn(ctx, n.queue),
            "table_arn": table_arn(ctx),
            "log_group_arn": log_group_arn(ctx, Names.log_group(n.writer_function)),
        }

    def notifier_policy(ctx: Context) -> dict[str, str]:
        return {
            "table_arn": table_arn(ctx),
            "topic_arn": topic_arn(ctx, n.topic),
            "failure_queue_arn": queue_arn(ctx, n.stream_failure_queue),
            "log_group_arn": log_group_arn(ctx, Names.log_group(n.notifier_function)),
        }

    def api_policy(ctx: Context) -> dict[str, str]:
        return {"queue_arn": queue_arn(ctx, n.queue)}

    def dlq_attributes(ctx: Context) -> dict[str, str]:
        return {"MessageRetentionPeriod": FOURTEEN_DAYS, "SqsManagedSseEnabled": "true"}

    def queue_attributes(ctx: Context) -> dict[str, str]:
        redrive = {
            "deadLetterTargetArn": queue_arn(ctx, n.dead_letter_queue),
            "maxReceiveCount": tuning.queue_max_receive_count,
        }
        return {
            "VisibilityTimeout": str(tuning.queue_visibility_timeout),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps(redrive),
        }

    def writer_environment(ctx: Context) -> dict[str, str]:
        return {**config.environment, "TABLE_NAME": n.table}

    def notifier_environment(ctx: Context) -> dict[str, str]:
        return {**config.environment, "TOPIC_ARN": topic_arn(ctx, n.topic)}

    source = CodeSource(
        config.handlers,
        {n.writer_function: WRITER_HANDLER, n.notifier_function: NOTIFIER_HANDLER},
        {n.writer_function: writer_environment, n.notifier_function: notifier_environment},
    )
    return [
        BoundaryStep(
            key="boundary",
            policy_name=n.roles_boundary,
            document=lambda ctx: boundary_policy(ctx),
        ),
        RoleStep(
            key="writer-role",
            role_name=n.writer_role,
            trust_template="trust-lambda",
            policy_template="order-writer",
            variables=writer_policy,
            boundary_name=n.roles_boundary,
            depends_on=("boundary",),
        ),
        RoleStep(
            key="notifier-role",
            role_name=n.notifier_role,
            trust_template="trust-lambda",
            policy_template="order-notifier",
            variables=notifier_policy,
            boundary_name=n.roles_boundary,
            depends_on=("boundary",),
        ),
        RoleStep(
            key="api-role",
            role_name=n.api_role,
            trust_template="trust-apigateway",
            policy_template="api-to-queue",
            variables=api_policy,
            boundary_name=n.roles_boundary,
            depends_on=("boundary",),
        ),
        TableStep(key="table", table_name=n.table),
        QueueStep(
            key="dlq",
            queue_name=n.dead_letter_queue,
            attributes=dlq_attributes,
            purpose="dead letters",
            problem_if_not_empty=(
                "{count} order(s) in the dead-letter queue {name}: Lambda-1 failed on them "
                f"{tuning.queue_max_receive_count} times; once it is fixed, `pocctl redrive` "
                "sends them back"
            ),
            hint_if_not_empty=(
                "Fix the writer: `pocctl logs --function 1 -f` shows why it fails (`pocctl "
                "invoke 1` runs it once); deploy the fix with `pocctl up`, then `pocctl redrive` "
                "sends the dead-lettered orders back."
            ),
            explain=lambda ctx: last_error(ctx, n.writer_function),
        ),
        QueueStep(
            key="queue", queue_name=n.queue, attributes=queue_attributes, depends_on=("dlq",)
        ),
        QueueStep(
            key="failure-queue",
            queue_name=n.stream_failure_queue,
            attributes=dlq_attributes,
            purpose="failed notification batches",
            problem_if_not_empty=(
                "{count} failed notification batch(es) in {name} (see `pocctl logs --function 2`)"
            ),
            hint_if_not_empty=(
                "Fix the notifier: `pocctl logs --function 2` shows why it fails (`pocctl "
                "invoke 2` runs it once); deploy the fix with `pocctl up`."
            ),
        ),
        TopicStep(key="topic", topic_name=n.topic),
        EmailSubscriptionStep(
            key="subscription", topic_name=n.topic, email=config.email, depends_on=("topic",)
        ),
        LogGroupStep(key="writer-logs", group_name=Names.log_group(n.writer_function)),
        LogGroupStep(key="notifier-logs", group_name=Names.log_group(n.notifier_function)),
        FunctionStep(
            key="writer",
            function_name=n.writer_function,
            role_name=n.writer_role,
            handler=WRITER_HANDLER,
            timeout=tuning.writer_timeout,
            environment=writer_environment,
            source=source,
            depends_on=("writer-role", "writer-logs"),
            description="pocctl: stores each order from the queue in the table",
        ),
        FunctionStep(
            key="notifier",
            function_name=n.notifier_function,
            role_name=n.notifier_role,
            handler=NOTIFIER_HANDLER,
            timeout=tuning.notifier_timeout,
            environment=notifier_environment,
            source=source,
            depends_on=("notifier-role", "notifier-logs", "topic"),
            description="pocctl: publishes a notification for each new order",
        ),
        QueueMappingStep(
            key="queue-mapping",
            function_name=n.writer_function,
            queue_name=n.queue,
            # The table comes before the queue's mapping, not before the writer: nothing invokes
            # the writer until its mapping polls, and creating a function doesn't need its table.
            depends_on=("writer", "queue", "table"),
        ),
        StreamMappingStep(
            key="stream-mapping",
            function_name=n.notifier_function,
            table_name=n.table,
            failure_queue_name=n.stream_failure_queue,
            depends_on=("notifier", "table", "failure-queue"),
        ),
        ApiStep(
            key="api",
            api_name=n.api,
            queue_name=n.queue,
            role_name=n.api_role,
            depends_on=("queue", "api-role"),
        ),
    ]


def _alarm_steps(config: Config) -> list[AnyStep]:
    """The alarm topic, its email subscription and one alarm per thing that needs a person.
    With alarms off, each is still a step: `up` deletes what a previous `up` made."""
    n, a = config.names, config.alarms
    off = None if a.enabled else ALARMS_OFF

    def alarm(key: str, name: str, metric: Metric) -> AlarmStep:
        return AlarmStep(
            key=key,
            alarm_name=name,
            metric=metric,
            topic_name=n.alarm_topic,
            period=a.period,
            evaluation_periods=a.evaluation_periods,
            missing_data=a.missing_data,
            enabled=a.enabled,
            depends_on=("alarm-topic",),
        )

    return [
        TopicStep(
            key="alarm-topic",
            topic_name=n.alarm_topic,
            policy=lambda ctx: topic_policy(ctx, n.alarm_topic, n.alarm_prefix),
            unwanted=off,
        ),
        EmailSubscriptionStep(
            key="alarm-subscription",
            topic_name=n.alarm_topic,
            email=config.alarm_email if a.enabled else None,
            receives="alarm mails",
            flag="--alarm-email",
            none_warning=(
                "no alarm email: alarms notify nobody; add one with "
                "`pocctl up --alarm-email ADDRESS`"
            )
            if a.enabled
            else None,
            depends_on=("alarm-topic",),
        ),
        alarm(
            "dead-letters-alarm",
            n.dead_letters_alarm,
            queue_depth(n.dead_letter_queue, a.dead_letters, "orders Lambda-1 failed on"),
        ),
        alarm(
            "stream-failures-alarm",
            n.stream_failures_alarm,
            queue_depth(
                n.stream_failure_queue, a.dead_letters, "stream records Lambda-2 failed on"
            ),
        ),
        alarm(
            "writer-errors-alarm",
            n.writer_errors_alarm,
            function_errors(
                n.writer_function, a.function_errors, "stores orders", n.dead_letters_alarm
            ),
        ),
        alarm(
            "notifier-errors-alarm",
            n.notifier_errors_alarm,
            function_errors(
                n.notifier_function, a.function_errors, "announces orders", n.stream_failures_alarm
            ),
        ),
        alarm(
            "iterator-age-alarm",
            n.iterator_age_alarm,
            iterator_age(n.notifier_function, a.iterator_age_seconds),
        ),
        alarm(
            "api-errors-alarm",
            n.api_errors_alarm,
            api_errors(n.api, config.stage, a.api_5xx_rate),
        ),
    ]


def code_source(steps: list[AnyStep]) -> CodeSource:
    """Where the stack's functions get their code (every function shares it)."""
    return next(step.source for step in steps if isinstance(step, FunctionStep))


def read_outputs(ctx: Context) -> dict[str, Any]:
    """What scripts need from a deployed stack, read from AWS (no local state)."""
    n = ctx.config.names
    with aws_errors("outputs", "GetRestApis"):
        api = find_api(ctx, n.api)
        url = queue_url(ctx, n.queue)
    return {
        "stack": ctx.config.stack,
        "region": ctx.config.region,
        "order_url": invoke_url(ctx, api["id"]) if api else None,
        "api_id": api["id"] if api else None,
        "table": n.table,
        "queue_url": url,
        "dead_letter_queue": n.dead_letter_queue,
        "topic_arn": topic_arn(ctx, n.topic),
        "functions": [n.writer_function, n.notifier_function],
    }


def deployer_policy(ctx: Context) -> dict[str, Any]:
    """The least-privilege policy pocctl itself needs for this stack (policies/deployer.json)."""
    return render(
        "deployer",
        {
            "partition": ctx.partition,
            "region": ctx.config.region,
            "account": ctx.account_id,
            "stack": ctx.config.stack,
            "table": ctx.config.names.table,
            "boundary_arn": policy_arn(ctx, ctx.config.names.roles_boundary),
        },
    )


def boundary_policy(ctx: Context) -> dict[str, Any]:
    """The permissions boundary of every role of the stack: exactly what the roles' own policies
    grant, together, so that no role can be given more."""
    merged = []
    for step in _steps(ctx.config):
        if isinstance(step, RoleStep):
            for statement in statements(step.desired_policy(ctx)):
                sid = statement.get("Sid", "")
                merged.append({**statement, "Sid": f"{step.policy_template.title()}{sid}"})
    for statement in merged:
        statement["Sid"] = "".join(c for c in statement["Sid"] if c.isalnum())
    return {"Version": "2012-10-17", "Statement": merged}
