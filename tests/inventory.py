"""Lists what exists in the (mocked) account, independently of pocctl's own lookups."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import boto3

from pocctl.core.session import inputs, settings_now

# Clients made for sessions made the same way (pocctl.core.session.inputs), for the next call:
# a test lists the account more than once, often with a session of another context made alike,
# and a client costs some 3 ms of CPU to make. Only the newest few are kept.
_clients: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
KEPT = 32


def _client(session: boto3.Session, service: str) -> Any:
    made_as = inputs(session)
    if made_as is None:  # a session whose handlers someone changed, or made otherwise
        return session.client(service)
    # A client reads the environment as it is made (AWS_ENDPOINT_URL, say), the session's
    # inputs as it was made.
    key = (made_as, settings_now(), service)
    if key not in _clients:
        _clients[key] = session.client(service)
        while len(_clients) > KEPT:
            _, dropped = _clients.popitem(last=False)
            dropped.close()  # its connections, to an emulator stopped since, maybe
    _clients.move_to_end(key)
    return _clients[key]


def everything(session: boto3.Session) -> dict[str, list[str]]:
    iam = _client(session, "iam")
    ddb = _client(session, "dynamodb")
    sqs = _client(session, "sqs")
    sns = _client(session, "sns")
    lam = _client(session, "lambda")
    logs = _client(session, "logs")
    apigw = _client(session, "apigateway")
    cloudwatch = _client(session, "cloudwatch")
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
