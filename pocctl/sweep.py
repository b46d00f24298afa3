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

from pocctl.aws import error_code, is_not_found
from pocctl.config import TAG_KEY
from pocctl.context import Context
from pocctl.resources.api import apis_named
from pocctl.resources.base import is_ours


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str
    remove: str  # a command that removes it


@dataclass
class SweepResult:
    left: list[Leftover] = field(default_factory=list)
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
        return Leftover("SQS queue", resource, f"aws sqs delete-queue --queue-url {url}{region}")
    if service == "dynamodb" and resource.startswith("table/"):
        name = resource.removeprefix("table/")
        client = ctx.client("dynamodb")
        if not _still_there(lambda: client.describe_table(TableName=name)):
            return None
        return Leftover(
            "DynamoDB table", name, f"aws dynamodb delete-table --table-name {name}{region}"
        )
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


def sweep(ctx: Context) -> SweepResult:
    result = SweepResult()
    try:
        hits = _tagged(ctx)
        result.checked = len(hits)
        left = [leftover for arn in hits if (leftover := _confirm(ctx, arn)) is not None]
        names = {item.name for item in left}
        for api in apis_named(ctx, ctx.config.names.api):
            if is_ours(ctx, api.get("tags") or {}) and api["id"] not in names:
                left.append(api_leftover(ctx, api["id"]))
        left += _roles(ctx)
    except ClientError as exc:
        result.incomplete = (
            f"could not sweep for leftovers ({error_code(exc)}): check the console, or grant "
            "tag:GetResources, iam:ListRoles and iam:ListRoleTags"
        )
        return result
    result.left = left
    return result
