"""Least privilege, offline: calls made as a role are checked against that role's policies.

moto evaluates resource ARNs for few services, so a policy missing `sns:Publish` would go unnoticed
until real AWS. Here every call made with a role's credentials (function code, the pollers acting
for a function, API Gateway's integration) is matched to its IAM action and resource ARN and
evaluated against the role's inline and attached policies: an explicit Deny wins, otherwise some
Allow must match. Calls this module cannot classify are denied rather than waved through.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

CACHE_SECONDS = 0.5
AUTH = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/")

# Batch operations authorize as their single-item action.
ACTION_ALIASES = {
    "sns:PublishBatch": "sns:Publish",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
IAM_PREFIX = {"dynamodbstreams": "dynamodb", "streams.dynamodb": "dynamodb"}

ClientFor = Callable[[str, str], Any]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str


@dataclass(frozen=True)
class Denial:
    status: int
    content_type: str
    body: str


def classify(service: str, region: str, account: str, target: str, body: bytes) -> Request | None:
    """The IAM action and resource ARN of one API request, or None when we can't tell."""
    prefix = IAM_PREFIX.get(service, service)
    params: dict[str, Any]
    if target:
        operation = target.rsplit(".", 1)[-1]
        try:
            params = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return None
    else:
        form = parse_qs(body.decode("utf-8", "replace"))
        operation = (form.get("Action") or [""])[0]
        params = {k: v[0] for k, v in form.items()}
    if not operation:
        return None
    action = f"{prefix}:{operation}"
    action = ACTION_ALIASES.get(action, action)
    arn = f"arn:aws:{prefix}:{region}:{account}"
    resource: str | None = None
    if prefix == "sqs":
        if "QueueUrl" in params:
            path = urlparse(params["QueueUrl"]).path.strip("/").split("/")
            resource = f"arn:aws:sqs:{region}:{path[0]}:{path[-1]}"
        elif "QueueName" in params:
            resource = f"{arn}:{params['QueueName']}"
    elif prefix == "dynamodb":
        if "StreamArn" in params:
            resource = params["StreamArn"]
        elif "ShardIterator" in params:
            resource = str(params["ShardIterator"]).split("|", 1)[0]
        elif operation == "ListStreams" and "TableName" in params:
            resource = f"{arn}:table/{params['TableName']}/stream/*"
        elif "TableName" in params:
            resource = f"{arn}:table/{params['TableName']}"
    elif prefix == "sns":
        resource = params.get("TopicArn")
    elif prefix == "logs" and "logGroupName" in params:
        group = f"{arn}:log-group:{params['logGroupName']}"
        stream = params.get("logStreamName")
        resource = f"{group}:log-stream:{stream}" if stream else f"{group}:log-stream:"
    return Request(action, resource) if resource else None


def _matches(patterns: str | list[str], value: str, *, case: bool) -> bool:
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        escaped = pattern.replace("[", "[[]")
        if case and fnmatch.fnmatchcase(value, escaped):
            return True
        if not case and fnmatch.fnmatchcase(value.lower(), escaped.lower()):
            return True
    return False


def evaluate(statements: list[dict[str, Any]], request: Request) -> bool:
    allowed = False
    for statement in statements:
        if "Condition" in statement:
            continue  # conditions are not evaluated offline: such a statement grants nothing
        if "Action" in statement and not _matches(statement["Action"], request.action, case=False):
            continue
        if "NotAction" in statement and _matches(
            statement["NotAction"], request.action, case=False
        ):
            continue
        if "Resource" in statement and not _matches(
            statement["Resource"], request.resource, case=True
        ):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


class Authorizer:
    def __init__(self, client: ClientFor, account: str) -> None:
        self.client = client
        self.account = account
        self.principals: dict[str, str] = {}  # access key id -> role ARN
        self._policies: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def register(self, access_key: str, role_arn: str) -> None:
        with self._lock:
            self.principals[access_key] = role_arn

    def statements(self, role_arn: str) -> list[dict[str, Any]]:
        with self._lock:
            cached = self._policies.get(role_arn)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        iam = self.client("iam", "us-east-1")
        role = role_arn.rsplit("/", 1)[1]
        documents = [
            iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        ]
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = iam.get_policy_version(
                PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
            )
            documents.append(version["PolicyVersion"]["Document"])
        found: list[dict[str, Any]] = []
        for document in documents:
            if isinstance(document, str):
                document = json.loads(document)
            statement = document.get("Statement", [])
            found += [statement] if isinstance(statement, dict) else statement
        with self._lock:
            self._policies[role_arn] = (time.monotonic() + CACHE_SECONDS, found)
        return found

    def check(self, headers: dict[str, str], body: bytes) -> Denial | None:
        auth = AUTH.search(headers.get("authorization", ""))
        if auth is None:
            return None
        role_arn = self.principals.get(auth["key"])
        if role_arn is None:
            return None  # not a role: pocctl itself, or a user of the emulator
        target = headers.get("x-amz-target", "")
        request = classify(auth["service"], auth["region"], self.account, target, body)
        role_name = role_arn.rsplit("/", 1)[1]
        who = f"arn:aws:sts::{self.account}:assumed-role/{role_name}/pocctl-local"
        if request is None:
            message = f"User: {who} made a call pocctl local cannot authorize offline"
            return denial(auth["service"], target, message)
        try:
            allowed = evaluate(self.statements(role_arn), request)
        except Exception as exc:  # the role is gone, or IAM can't be read: deny
            return denial(auth["service"], target, f"User: {who} is not authorized ({exc})")
        if allowed:
            return None
        message = (
            f"User: {who} is not authorized to perform: {request.action} on resource: "
            f"{request.resource} because no identity-based policy allows the "
            f"{request.action} action"
        )
        return denial(auth["service"], target, message)


def denial(service: str, target: str, message: str) -> Denial:
    if target:  # JSON protocols (DynamoDB, Streams, Logs, SQS)
        # SQS says AccessDenied with 403; DynamoDB and CloudWatch Logs AccessDeniedException, 400.
        code, status = ("AccessDenied", 403) if service == "sqs" else ("AccessDeniedException", 400)
        return Denial(
            status, "application/x-amz-json-1.0", json.dumps({"__type": code, "message": message})
        )
    code = "AuthorizationError" if service == "sns" else "AccessDenied"
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{escape_xml(message)}</Message>"
        "</Error><RequestId>pocctl-local</RequestId></ErrorResponse>"
    )
    return Denial(403, "text/xml", xml)


def escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
