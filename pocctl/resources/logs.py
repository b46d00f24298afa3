"""The functions' CloudWatch log groups, made by pocctl (Lambda's own have no retention or tags)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from pocctl.core.aws import aws_errors, delete
from pocctl.core.config import Names
from pocctl.core.context import Context
from pocctl.core.reporting import Outcome
from pocctl.resources.base import (
    Leftover,
    Plan,
    Step,
    arn_parts,
    destroy_ours,
    diff,
    is_ours,
    removal,
    require_ours,
)
from pocctl.resources.cloudformation import Resources, cfn_resource, logical_id, tag_entries


def log_group_arn(ctx: Context, group_name: str) -> str:
    return ctx.arn("logs", f"log-group:{group_name}")


def find_log_group(ctx: Context, name: str) -> dict[str, Any] | None:
    groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return next((dict(g) for g in groups if g["logGroupName"] == name), None)


@dataclass(eq=False, kw_only=True)
class LogGroupStep(Step[dict[str, Any]]):
    kind: ClassVar[str] = "log group"
    arns: ClassVar[tuple[str, str] | None] = ("logs", "log-group:")
    key: str
    group_name: str

    @property
    def name(self) -> str:
        return self.group_name

    def _find(self, ctx: Context) -> dict[str, Any] | None:
        return find_log_group(ctx, self.group_name)

    @classmethod
    def leftover_at(cls, ctx: Context, arn: str) -> Leftover | None:
        name = arn_parts(arn)[1].removeprefix("log-group:").removesuffix(":*")
        if find_log_group(ctx, name) is None:
            return None
        command = f"aws logs delete-log-group --log-group-name {name}"
        return Leftover(cls.kind, name, removal(ctx, command))

    def _tags(self, ctx: Context) -> dict[str, str]:
        arn = log_group_arn(ctx, self.group_name)
        tags: dict[str, str] = ctx.client("logs").list_tags_for_resource(resourceArn=arn)["tags"]
        return tags

    def plan(self, ctx: Context) -> Plan[dict[str, Any]]:
        with aws_errors(self.key, "DescribeLogGroups"):
            group = self._find(ctx)
            if group is None:
                return Plan.create()
            require_ours(ctx, self, self._tags(ctx))
        retention = ctx.config.tuning.log_retention_days
        current = group.get("retentionInDays")
        return Plan.from_changes(diff("retention in days", current, retention), group)

    def apply(self, ctx: Context, plan: Plan[dict[str, Any]]) -> None:
        logs = ctx.client("logs")
        if plan.current is None:
            with aws_errors(self.key, "CreateLogGroup"):
                logs.create_log_group(logGroupName=self.group_name, tags=ctx.config.tags)
        with aws_errors(self.key, "PutRetentionPolicy"):
            logs.put_retention_policy(
                logGroupName=self.group_name,
                retentionInDays=ctx.config.tuning.log_retention_days,
            )

    def template(self, ctx: Context) -> Resources:
        properties = {
            "LogGroupName": self.group_name,
            "RetentionInDays": ctx.config.tuning.log_retention_days,
            "Tags": tag_entries(ctx.config.tags),
        }
        return {logical_id(self.key): cfn_resource("AWS::Logs::LogGroup", properties)}

    def destroy(self, ctx: Context) -> Outcome:
        def remove(_: Any) -> Outcome:
            delete(
                ctx,
                self.key,
                "DeleteLogGroup",
                lambda: ctx.client("logs").delete_log_group(logGroupName=self.group_name),
            )
            return Outcome.DELETED

        return destroy_ours(
            ctx,
            self,
            "DescribeLogGroups",
            lambda: self._find(ctx),
            lambda _: is_ours(ctx, self._tags(ctx)),
            remove,
        )


ERROR_MARKERS = (
    "errorType",
    "order_failed",
    "order_too_large",
    "notify_failed",
    "order_unrenderable",
    "Task timed out",
    "Traceback",
)


def last_error(ctx: Context, function: str, since_ms: int | None = None) -> str | None:
    """The newest error line of the last hour (or since `since_ms`, if later)."""
    found = last_error_at(ctx, function, since_ms)
    return found[1] if found else None


def last_error_at(
    ctx: Context, function: str, since_ms: int | None = None
) -> tuple[int, str] | None:
    """(its time in ms, the line) of the newest error line of the last hour (or since
    `since_ms`, if later): every page is read (a page holds at most 10,000 events or 1 MB, and a
    busy function fills more), then the newest one wins."""
    pages = ctx.client("logs").get_paginator("filter_log_events")
    errors: list[tuple[int, str]] = []
    start_ms = max(int((time.time() - 3600) * 1000), since_ms or 0)
    try:
        for page in pages.paginate(logGroupName=Names.log_group(function), startTime=start_ms):
            errors += [
                (e["timestamp"], e["message"])
                for e in page["events"]
                if any(m in e["message"] for m in ERROR_MARKERS)
            ]
    except ClientError:
        return None
    if not errors:
        return None
    at, line = max(errors)
    return at, line.strip()
