"""Lists what exists in the (mocked) account, independently of pocctl's own lookups."""

from __future__ import annotations

from typing import Any

import boto3


def everything(session: boto3.Session) -> dict[str, list[str]]:
    iam = session.client("iam")
    ddb = session.client("dynamodb")
    sqs = session.client("sqs")
    sns = session.client("sns")
    lam = session.client("lambda")
    logs = session.client("logs")
    apigw = session.client("apigateway")
    cloudwatch = session.client("cloudwatch")
    return {
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "tables": sorted(ddb.list_tables()["TableNames"]),
        "queues": sorted(u.rsplit("/", 1)[1] for u in sqs.list_queues().get("QueueUrls", [])),
        "topics": sorted(t["TopicArn"].rsplit(":", 1)[1] for t in sns.list_topics()["Topics"]),
        "subscriptions": sorted(s["Endpoint"] for s in sns.list_subscriptions()["Subscriptions"]),
        "functions": sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]),
        "mappings": sorted(
            m["FunctionArn"].rsplit(":", 1)[1] + " <- " + m["EventSourceArn"].rsplit(":", 1)[1]
            for m in lam.list_event_source_mappings()["EventSourceMappings"]
        ),
        "log_groups": sorted(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]),
        "apis": sorted(a["name"] for a in apigw.get_rest_apis()["items"]),
        "alarms": sorted(a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]),
    }


def of_stack(inventory: dict[str, list[str]], stack: str, table: str) -> dict[str, list[str]]:
    def mine(name: str) -> bool:
        return name.startswith(f"{stack}-") or name == table or f"/{stack}-" in name

    return {kind: [n for n in names if mine(n)] for kind, names in inventory.items()}


def flatten(inventory: dict[str, Any]) -> list[str]:
    return [f"{kind}:{name}" for kind, names in inventory.items() for name in names]
