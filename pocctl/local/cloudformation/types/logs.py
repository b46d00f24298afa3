"""AWS::Logs::LogGroup (CloudFormation Template Reference)."""

from __future__ import annotations

from typing import Any

from pocctl.local.cloudformation.providers import Made, Provider, Request, delete_quietly


class LogGroup:
    stack_tags = True

    def create(self, request: Request) -> Made:
        logs = request.client("logs")
        props = request.properties
        name = request.name("LogGroupName", 512)
        extra: dict[str, Any] = {"tags": request.tag_map()} if request.all_tags() else {}
        if "KmsKeyId" in props:
            extra["kmsKeyId"] = props["KmsKeyId"]
        if "LogGroupClass" in props:
            extra["logGroupClass"] = props["LogGroupClass"]
        logs.create_log_group(logGroupName=name, **extra)
        if "RetentionInDays" in props:
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(props["RetentionInDays"])
            )
        arn = f"arn:aws:logs:{request.region}:{request.account}:log-group:{name}:*"
        return Made(name, {"Arn": arn})

    def delete(self, request: Request, made: Made) -> None:
        logs = request.client("logs")
        delete_quietly(lambda: logs.delete_log_group(logGroupName=made.physical_id))


PROVIDERS: dict[str, Provider] = {"AWS::Logs::LogGroup": LogGroup()}
