"""Least privilege offline: calls made with a role's credentials are judged as IAM would judge them.

Every call signed with a role's credentials (function code, the pollers acting for a function,
API Gateway's integration) is judged against the role's policies *as Lambda sees them*: IAM is
eventually consistent, so a new role, or a changed policy, reaches other services only after a
delay (`Propagation`). Where the identity policies do not allow a call, a same-account resource
policy (an SQS queue's or SNS topic's `Policy`) may. A denial reads like AWS's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pocctl.local.calls import Call
from pocctl.local.policy import (
    ALWAYS_ALLOWED,
    Request,
    as_list,
    evaluate,
    principal_matches,
    request_for,
    statement_applies,
)
from pocctl.local.replies import Reply, error

ClientFor = Callable[[str, str], Any]
Clock = Callable[[], float]


@dataclass(frozen=True)
class RoleSnapshot:
    """A role as IAM held it at one moment: whether it existed, its trust and permissions."""

    exists: bool
    trust: dict[str, Any] = field(default_factory=dict)
    statements: tuple[dict[str, Any], ...] = ()

    def trusts(self, service: str) -> bool:
        for statement in as_list(self.trust.get("Statement", [])):
            principal = statement.get("Principal") or {}
            services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
            if (
                statement.get("Effect") == "Allow"
                and service in services
                and "sts:AssumeRole" in as_list(statement.get("Action", []))
            ):
                return True
        return False


ABSENT = RoleSnapshot(exists=False)


def documents_statements(documents: list[Any]) -> tuple[dict[str, Any], ...]:
    found: list[dict[str, Any]] = []
    for document in documents:
        if isinstance(document, str):
            document = json.loads(document)
        statement = document.get("Statement", [])
        found += [statement] if isinstance(statement, dict) else statement
    return tuple(found)


def read_role(client: ClientFor, role_name: str) -> RoleSnapshot:
    """The role as IAM holds it now (read through the IAM API)."""
    iam = client("iam", "us-east-1")
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return ABSENT
    documents = [
        iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    ]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )
        documents.append(version["PolicyVersion"]["Document"])
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    return RoleSnapshot(True, trust, documents_statements(documents))


class Propagation:
    """Each role's history of changes; what other services see is the state `delay` ago.

    AWS: "IAM ... achieves high availability by replicating data across multiple servers ...
    changes ... can take some time to propagate" (IAM User Guide, troubleshooting). A new role
    usually reaches Lambda in 5-10 s (ansible-collections/community.aws#710, aws/aws-cli#7700).
    """

    def __init__(
        self, read: Callable[[str], RoleSnapshot], delay: Callable[[], float], clock: Clock
    ):
        self.read = read
        self.delay = delay
        self.clock = clock
        self._history: dict[str, list[tuple[float, RoleSnapshot]]] = {}
        self._lock = threading.Lock()

    def changed(self, role_name: str) -> None:
        """Record the role as it is right after a change (called once IAM has answered)."""
        snapshot = self.read(role_name)
        with self._lock:
            history = self._history.setdefault(role_name, [(float("-inf"), ABSENT)])
            history.append((self.clock(), snapshot))

    def all_changed(self) -> None:
        """A managed policy changed: every role we know may have it attached."""
        with self._lock:
            names = list(self._history)
        for name in names:
            self.changed(name)

    def effective(self, role_arn: str) -> RoleSnapshot:
        name = role_arn.rsplit("/", 1)[-1]
        with self._lock:
            history = list(self._history.get(name, []))
        if not history:
            return self.read(name)  # made before we watched: no change in flight
        seen_before = self.clock() - self.delay()
        current = history[0][1]
        for moment, snapshot in history:
            if moment <= seen_before:
                current = snapshot
        return current


class Authorizer:
    def __init__(
        self,
        client: ClientFor,
        account: str,
        propagation: Propagation,
        resource_policy: Callable[[str], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.client = client
        self.account = account
        self.propagation = propagation
        self.resource_policy = resource_policy or (lambda arn: [])
        self.principals: dict[str, str] = {}  # access key id -> role ARN
        self._lock = threading.Lock()

    def register(self, access_key: str, role_arn: str) -> None:
        with self._lock:
            self.principals[access_key] = role_arn

    def role_of(self, access_key: str) -> str | None:
        with self._lock:
            return self.principals.get(access_key)

    def allows(self, role_arn: str, request: Request) -> bool:
        """As Lambda sees it now: identity policies, then same-account resource policies."""
        snapshot = self.propagation.effective(role_arn)
        if not snapshot.exists:
            return False
        decision = evaluate(snapshot.statements, request)
        if decision.allowed:
            return True
        if decision.explicit_deny:
            return False
        return all(self._resource_allows(role_arn, request, r) for r in request.resources)

    def _resource_allows(self, role_arn: str, request: Request, resource: str) -> bool:
        identity = evaluate(
            self.propagation.effective(role_arn).statements, _only(request, resource)
        )
        if identity.allowed:
            return True
        allowed = False
        for statement in self.resource_policy(resource):
            if not principal_matches(statement.get("Principal"), role_arn, self.account):
                continue
            if statement_applies(statement, _only(request, resource), resource):
                if statement.get("Effect") == "Deny":
                    return False
                allowed = True
        return allowed

    def check(self, call: Call) -> Reply | None:
        role_arn = self.role_of(call.access_key)
        if role_arn is None:
            return None  # not a role: pocctl itself, or a user of the emulator
        request = request_for(call, self.account, role_arn)
        if request.action in ALWAYS_ALLOWED or self.allows(role_arn, request):
            return None
        role_name = role_arn.rsplit("/", 1)[1]
        who = f"arn:aws:sts::{self.account}:assumed-role/{role_name}/pocctl-local"
        message = (
            f"User: {who} is not authorized to perform: {request.action} on resource: "
            f"{request.resource} because no identity-based policy allows the "
            f"{request.action} action"
        )
        return denial(call, message)


def _only(request: Request, resource: str) -> Request:
    return Request(request.action, (resource,), request.context)


def denial(call: Call, message: str) -> Reply:
    """AccessDenied as each service spells it (SNS: AuthorizationError; DynamoDB, Logs: 400)."""
    if call.service == "sns":
        return error(call, 403, "AuthorizationError", message)
    if call.protocol == "json" and call.service != "sqs":
        return error(call, 400, "AccessDeniedException", message)
    if call.protocol == "rest-json":
        return error(call, 403, "AccessDeniedException", message)
    return error(call, 403, "AccessDenied", message)
