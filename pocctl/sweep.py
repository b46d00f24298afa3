"""After `down`: look for anything of the stack still there, so nothing keeps billing.

Three sources: the Resource Groups Tagging API (every resource tagged pocctl:stack=<stack>, each
hit confirmed by a describe, since the tagging API can list a resource for a while after it is
gone), IAM roles (the tagging API doesn't cover IAM) and the REST API by name and tag (some
emulators' tagging APIs don't cover API Gateway).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from pocctl.aws import error_code, is_not_found, none_if_absent, tag_dict
from pocctl.config import TAG_KEY
from pocctl.context import Context
from pocctl.resources.api import apis_named
from pocctl.resources.base import is_ours
from pocctl.resources.mappings import tagged_ours


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str
    remove: str  # a command that removes it
    # AWS is still deleting it (a DELETING table, a Deleting mapping, a queue deleted moments ago
    # that still answers): it stops billing on its own, nothing to do.
    being_deleted: bool = False


@dataclass
class SweepResult:
    left: list[Leftover] = field(default_factory=list)
    being_deleted: list[Leftover] = field(default_factory=list)
    checked: int = 0
    # Set when the sweep itself could not run (no permission for the tagging API, ...).
    incomplete: str | None = None


def _still_there(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ClientError as exc:
        if is_not_found(exc):
            return False
        raise
    return True


def _confirm(ctx: Context, arn: str) -> Leftover | None:
    """The hit as a Leftover if it still exists (or can't be checked), else None."""
    region = f" --region {ctx.config.region}"
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5]
    if service == "sqs":
        sqs = ctx.client("sqs")
        if not _still_there(lambda: sqs.get_queue_url(QueueName=resource)):
            return None
        url = sqs.get_queue_url(QueueName=resource)["QueueUrl"]
        if not _still_there(lambda: sqs.list_queue_tags(QueueUrl=url)):
            return None  # deleted moments ago: only its URL still answers
        return Leftover("SQS queue", resource, f"aws sqs delete-queue --queue-url {url}{region}")
    if service == "dynamodb" and resource.startswith("table/"):
        return _table(ctx, resource.removeprefix("table/"))
    if service == "lambda" and resource.startswith("function:"):
        name = resource.removeprefix("function:")
        lam = ctx.client("lambda")
        if not _still_there(lambda: lam.get_function(FunctionName=name)):
            return None
        return Leftover(
            "Lambda function", name, f"aws lambda delete-function --function-name {name}{region}"
        )
    if service == "logs" and resource.startswith("log-group:"):
        name = resource.removeprefix("log-group:").removesuffix(":*")
        groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        if not any(g["logGroupName"] == name for g in groups):
            return None
        return Leftover(
            "log group", name, f"aws logs delete-log-group --log-group-name {name}{region}"
        )
    if service == "sns" and ":" not in resource:
        sns = ctx.client("sns")
        if not _still_there(lambda: sns.get_topic_attributes(TopicArn=arn)):
            return None
        return Leftover("SNS topic", resource, f"aws sns delete-topic --topic-arn {arn}{region}")
    if service == "apigateway" and resource.startswith("/restapis/"):
        api_id = resource.split("/")[2]
        ag = ctx.client("apigateway")
        if not _still_there(lambda: ag.get_rest_api(restApiId=api_id)):
            return None
        return api_leftover(ctx, api_id)
    return Leftover(service, arn, f"remove it in the AWS console (search for {arn})")


def _table(ctx: Context, name: str) -> Leftover | None:
    try:
        table = ctx.client("dynamodb").describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    tags = none_if_absent(
        lambda: ctx.client("dynamodb").list_tags_of_resource(ResourceArn=table["TableArn"])
    )
    if tags is None:
        return None  # gone meanwhile
    if not is_ours(ctx, tag_dict(tags["Tags"])):
        return None  # a look-alike, not the stack's
    remove = f"aws dynamodb delete-table --table-name {name} --region {ctx.config.region}"
    return Leftover("DynamoDB table", name, remove, table.get("TableStatus") == "DELETING")


def _mappings(ctx: Context) -> list[Leftover]:
    """The stack's functions' mappings: tagged, but the tagging API may not list them."""
    n = ctx.config.names
    found = ctx.together(
        lambda: _mappings_of(ctx, n.writer_function), lambda: _mappings_of(ctx, n.notifier_function)
    )
    return [leftover for of_function in found for leftover in of_function]


def _mappings_of(ctx: Context, function: str) -> list[Leftover]:
    lam = ctx.client("lambda")
    pages = lam.get_paginator("list_event_source_mappings")
    try:
        mappings = [
            m for page in pages.paginate(FunctionName=function) for m in page["EventSourceMappings"]
        ]
    except ClientError as exc:
        if is_not_found(exc):
            return []
        raise
    found = []
    for mapping in mappings:
        if not tagged_ours(ctx, mapping):  # gone between the two calls: nothing left
            continue
        remove = (
            f"aws lambda delete-event-source-mapping --uuid {mapping['UUID']} "
            f"--region {ctx.config.region}"
        )
        found.append(
            Leftover(
                "event source mapping",
                f"{mapping['UUID']} ({function})",
                remove,
                mapping.get("State") == "Deleting",
            )
        )
    return found


def api_leftover(ctx: Context, api_id: str) -> Leftover:
    return Leftover(
        "REST API",
        api_id,
        f"aws apigateway delete-rest-api --rest-api-id {api_id} --region {ctx.config.region}",
    )


def _tagged(ctx: Context) -> list[str]:
    tagging = ctx.client("resourcegroupstaggingapi")
    arns: list[str] = []
    pages = tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": TAG_KEY, "Values": [ctx.config.stack]}]
    )
    for page in pages:
        arns += [r["ResourceARN"] for r in page["ResourceTagMappingList"]]
    return arns


def _roles(ctx: Context) -> list[Leftover]:
    """Roles named like the stack's that carry its tag (ListRoles doesn't return tags)."""
    iam = ctx.client("iam")
    prefix = f"{ctx.config.stack}-"
    found = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            if not name.startswith(prefix):
                continue
            tags = iam.list_role_tags(RoleName=name)["Tags"]
            if is_ours(ctx, {t["Key"]: t["Value"] for t in tags}):
                found.append(
                    Leftover(
                        "IAM role",
                        name,
                        f"pocctl down again, or remove its policies, then "
                        f"aws iam delete-role --role-name {name}",
                    )
                )
    return found


def _confirmed_tagged(ctx: Context) -> tuple[int, list[Leftover]]:
    """How many resources the tagging API lists for the stack, and those still there."""
    hits = _tagged(ctx)
    return len(hits), [leftover for arn in hits if (leftover := _confirm(ctx, arn)) is not None]


def sweep(ctx: Context, deleted: frozenset[str] = frozenset()) -> SweepResult:
    """What of the stack is still there. `deleted` names ("SQS queue POC-Queue") what this run
    just deleted: such a queue may still answer for up to 60 s (SQS API reference,
    DeleteQueue), and is being deleted, not left."""
    result = SweepResult()
    try:
        # Independent looks, side by side: the sweep is part of every `down`.
        looks: list[Any] = ctx.together(
            lambda: _confirmed_tagged(ctx),
            lambda: [
                a
                for a in apis_named(ctx, ctx.config.names.api)
                if is_ours(ctx, a.get("tags") or {})
            ],
            lambda: _table(ctx, ctx.config.names.table),
            lambda: _mappings(ctx),
            lambda: _roles(ctx),
        )
        (hits, found), apis, table, mappings, roles = looks
        result.checked = hits
        names = {item.name for item in found}
        found += [api_leftover(ctx, a["id"]) for a in apis if a["id"] not in names]
        found += [table] if table is not None and table.name not in names else []
        found += mappings + roles
    except ClientError as exc:
        result.incomplete = (
            f"could not sweep for leftovers ({error_code(exc)}): check the console, or grant "
            "tag:GetResources, iam:ListRoles, iam:ListRoleTags, dynamodb:DescribeTable and "
            "lambda:ListEventSourceMappings"
        )
        return result
    for item in found:
        if item.being_deleted or f"{item.kind} {item.name}" in deleted:
            result.being_deleted.append(item)
        else:
            result.left.append(item)
    return result
