"""Least privilege offline: calls made with a role's or a user's keys are judged as IAM would.

Every call signed with a role's credentials (function code, the pollers acting for a function,
API Gateway's integration) or with an IAM user's access key (a deployer, say, created in the
emulator with a policy such as `policies/deployer.json`) is judged against that principal's
policies *as other services see them*: IAM is eventually consistent, so a new role or user, or a
changed policy, takes effect only after a delay (`Propagation`). Where the identity policies do
not allow a call, a same-account resource policy (an SQS queue's or SNS topic's `Policy`) may;
a permissions boundary, where the principal has one, must allow it too.
Calls made with any other key (the emulator's own, pocctl's by default) are not judged. A
denial reads like AWS's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pocctl.core.arns import Arn
from pocctl.local.calls import Call
from pocctl.local.policy import (
    ALWAYS_ALLOWED,
    BOUNDARY_OF_THE_ROLE,
    Request,
    as_list,
    evaluate,
    principal_covers,
    principal_matches,
    requests_for,
    statement_applies,
)
from pocctl.local.replies import Reply, error

Clock = Callable[[], float]


@dataclass(frozen=True)
class RoleSnapshot:
    """A role as IAM held it at one moment: whether it existed, its trust and permissions."""

    exists: bool
    trust: dict[str, Any] = field(default_factory=dict)
    statements: tuple[dict[str, Any], ...] = ()
    # Its permissions boundary (None: it has none), and that policy's statements.
    boundary_arn: str | None = None
    boundary: tuple[dict[str, Any], ...] = ()
    # The managed policies attached to it (a user's groups' too), by ARN.
    attached: frozenset[str] = frozenset()

    def uses(self, policy_arn: str) -> bool:
        return policy_arn in self.attached or policy_arn == self.boundary_arn

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


def read_principal(account: str, arn: str) -> RoleSnapshot:
    """A role or user as IAM holds it now, read in moto's memory: through the IAM API it took
    up to a dozen calls, after every change of a principal's policies (a fifth of the
    emulator's work while `up` makes the roles)."""
    principal = Arn.parse(arn)
    backend = iam_backend(account)
    # Another request may change the principal while it is read (`down` deletes a role's
    # policies, then the role): a dict changed meanwhile is read again.
    for _ in range(5):
        try:
            if principal.resource_type == "user":
                return _user(backend, principal.name)
            return _role(backend, principal.name)
        except RuntimeError as exc:
            if "during iteration" not in str(exc):  # changed size, keys changed
                raise
    return ABSENT


def iam_backend(account: str) -> Any:
    """moto's IAM of an account (IAM is global: one backend per account, not per region)."""
    from moto.iam.models import iam_backends

    return iam_backends[account]["global"]


def role_named(backend: Any, role_name: str) -> Any | None:
    """moto's role of that name (moto keeps roles by ID), or None."""
    return next((r for r in list(backend.roles.values()) if r.name == role_name), None)


def _role(backend: Any, role_name: str) -> RoleSnapshot:
    role = role_named(backend, role_name)
    if role is None:
        return ABSENT
    attached = list(role.managed_policies)
    documents = [*role.policies.values(), *_managed(backend, attached)]
    trust = role.assume_role_policy_document
    if isinstance(trust, str):
        trust = json.loads(trust)
    boundary_arn = role.permissions_boundary_arn
    boundary = documents_statements(_managed(backend, [boundary_arn] if boundary_arn else []))
    return RoleSnapshot(
        True, trust, documents_statements(documents), boundary_arn, boundary, frozenset(attached)
    )


def _user(backend: Any, user_name: str) -> RoleSnapshot:
    user = backend.users.get(user_name)
    if user is None:
        return ABSENT
    documents: list[Any] = list(user.policies.values())
    attached = list(user.managed_policies)
    for group in list(backend.groups.values()):
        if user in group.users:
            documents += list(group.policies.values())
            attached += list(group.managed_policies)
    documents += _managed(backend, attached)
    # A user's boundary is refused (iam_policy_use.refuse_user_boundaries): it has none.
    return RoleSnapshot(True, {}, documents_statements(documents), None, (), frozenset(attached))


def _managed(backend: Any, arns: list[str]) -> list[Any]:
    """The default version's document of each managed policy that still exists (a boundary
    that is gone allows nothing)."""
    documents = []
    for arn in arns:
        policy = backend.managed_policies.get(arn)
        if policy is None:
            continue
        default = next(
            (v for v in list(policy.versions) if v.version_id == policy.default_version_id), None
        )
        if default is not None:
            documents.append(default.document)
    return documents


# The services whose view of IAM is acted out one by one (any other sees a change last).
SEEN_BY = ("lambda", "sqs", "dynamodb", "sns", "logs", "apigateway", "sts")


@dataclass(frozen=True)
class Change:
    """A principal as IAM held it right after a change, and from when each service sees it."""

    snapshot: RoleSnapshot
    seen_from: dict[str, float]

    def seen(self, service: str, now: float) -> bool:
        moment = self.seen_from.get(service, max(self.seen_from.values(), default=now))
        return moment <= now


class Propagation:
    """Each principal's history of changes (by ARN); what each service sees is the latest change
    that has reached it.

    AWS: "IAM ... achieves high availability by replicating data across multiple servers ...
    changes ... can take some time to propagate" (IAM User Guide, troubleshooting). A new role
    usually reaches Lambda in 5-10 s (ansible-collections/community.aws#710, aws/aws-cli#7700).
    The same page: a change is replicated to IAM's endpoints and is visible from all of them
    only after a while, so a service reading a replica that has it sees the change while
    another does not yet. No source measures this per service: each change draws one delay per
    service, once, at the change (the same rule, so the fixed schedule shows all at once).
    """

    def __init__(
        self, read: Callable[[str], RoleSnapshot], delay: Callable[[str], float], clock: Clock
    ):
        self.read = read
        self.delay = delay
        self.clock = clock
        self._history: dict[str, list[Change]] = {}
        self._reading: dict[str, int] = {}  # principals whose change is being read, how many
        self._again: set[str] = set()  # of those, the ones to read again once recorded
        self._started = 0  # reads begun, numbered in order
        self._recorded: dict[str, int] = {}  # each principal's last recorded read, by number
        self._lock = threading.Lock()

    def changed(self, arn: str) -> None:
        """Record the principal as it is right after a change (once IAM has answered)."""
        with self._lock:
            self._reading[arn] = self._reading.get(arn, 0) + 1
            started = self._started = self._started + 1
        try:
            snapshot = self.read(arn)
            with self._lock:
                # Reads may end out of order: one that saw the role just before DeleteRole,
                # ending after DeleteRole's own read, would say a deleted role exists.
                if started > self._recorded.get(arn, 0):
                    self._recorded[arn] = started
                    now = self.clock()
                    seen_from = {s: now + self.delay(f"{arn}|{s}") for s in SEEN_BY}
                    self._history.setdefault(arn, [Change(ABSENT, {})]).append(
                        Change(snapshot, seen_from)
                    )
        finally:
            with self._lock:
                self._reading[arn] -= 1
                if not self._reading[arn]:
                    del self._reading[arn]
                # A policy changed while this read was under way: the last read to finish
                # reads again, so that the principal's latest record is after the change.
                again = arn in self._again and arn not in self._reading
                if again:
                    self._again.discard(arn)
        if again:
            self.changed(arn)

    def all_changed(self, policy_arn: str | None = None) -> None:
        """A group changed, or the managed policy `policy_arn`: every principal we know that
        may be affected is read again (for a managed policy, those it is attached to or bounds,
        as IAM held them last: attaching it is itself a change recorded here). A principal
        being read meanwhile (an attach racing the policy's new version) reads again once
        that read is recorded."""
        with self._lock:
            wanted = {
                arn
                for arn, history in self._history.items()
                if policy_arn is None or history[-1].snapshot.uses(policy_arn)
            }
            reading = set(self._reading)
            self._again |= reading
        for arn in sorted(wanted - reading):
            self.changed(arn)

    def effective(self, arn: str, seen_by: str = "lambda") -> RoleSnapshot:
        """The principal as `seen_by` (a service's name, as in its actions) sees it now."""
        with self._lock:
            history = list(self._history.get(arn, []))
        if not history:
            return self.read(arn)  # made before we watched: no change in flight
        now = self.clock()
        current = history[0].snapshot
        for change in history[1:]:
            if change.seen(seen_by, now):
                current = change.snapshot
        return current

    def reaches(self, arn: str, service: str) -> float:
        """When the principal's latest change reaches `service` (-inf: none recorded)."""
        with self._lock:
            history = list(self._history.get(arn, []))
        return max(
            (c.seen_from.get(service, float("-inf")) for c in history), default=float("-inf")
        )

    def settled_at(self) -> float:
        """The moment every change recorded so far has reached every service."""
        with self._lock:
            moments = [m for h in self._history.values() for c in h for m in c.seen_from.values()]
        return max(moments, default=float("-inf"))


MAPPING_BY_UUID = frozenset(
    {
        "lambda:GetEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
    }
)


class Authorizer:
    def __init__(
        self,
        account: str,
        propagation: Propagation,
        resource_policy: Callable[[str], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.account = account
        self.propagation = propagation
        self.resource_policy = resource_policy or (lambda arn: [])
        self.principals: dict[str, str] = {}  # access key id -> role or user ARN
        # Each principal's actions that were judged and allowed (what its policy is used for).
        self.used: dict[str, set[str]] = {}
        # (region, UUID) -> the function of that mapping (None if there is none): set by the
        # Lambda rules, which can read moto's mappings.
        self.mapping_function: Callable[[str, str], str | None] = lambda region, uuid: None
        self._lock = threading.Lock()

    def register(self, access_key: str, role_arn: str) -> None:
        with self._lock:
            self.principals[access_key] = role_arn

    def role_of(self, access_key: str) -> str | None:
        with self._lock:
            return self.principals.get(access_key)

    def allows(self, role_arn: str, request: Request, seen_by: str | None = None) -> bool:
        return self.refusal(role_arn, request, seen_by) is None

    def refusal(self, role_arn: str, request: Request, seen_by: str | None = None) -> str | None:
        """Why the principal may not, as `seen_by` sees it now (None: it may; by default the
        service of the action, which judges it): its identity
        policies or a same-account resource policy must allow, and its permissions boundary
        too ("an entity can only perform actions that are allowed by both its identity-based
        policies and its permissions boundaries": IAM User Guide, "Permissions boundaries for
        IAM entities"; the reason is worded as in "Troubleshooting access denied error
        messages")."""
        seen_by = seen_by or request.action.split(":", 1)[0]
        snapshot = self.propagation.effective(role_arn, seen_by)
        if not snapshot.exists:
            return f"because no identity-based policy allows the {request.action} action"
        if snapshot.boundary_arn is not None:
            bounded = evaluate(snapshot.boundary, request)
            if bounded.explicit_deny:
                return "with an explicit deny in a permissions boundary"
            if not bounded.allowed:
                return f"because no permissions boundary allows the {request.action} action"
        decision = evaluate(snapshot.statements, request)
        if decision.explicit_deny:
            return "with an explicit deny in an identity-based policy"
        # "An explicit deny in any of the policies overrides the allow" (IAM User Guide, "Policy
        # evaluation for requests within a single account"): the resource's own, too.
        statements = {r: self.resource_policy(r) for r in request.resources}
        if any(self._resource_denies(statements[r], role_arn, request, r) for r in statements):
            return "with an explicit deny in a resource-based policy"
        if decision.allowed:
            return None
        if all(
            self._resource_allows(statements[r], snapshot, role_arn, request, r) for r in statements
        ):
            return None
        return f"because no identity-based policy allows the {request.action} action"

    def _resource_denies(
        self, statements: list[dict[str, Any]], role_arn: str, request: Request, resource: str
    ) -> bool:
        return any(
            statement.get("Effect") == "Deny"
            and principal_covers(statement.get("Principal"), role_arn, self.account)
            and statement_applies(statement, _only(request, resource), resource)
            for statement in statements
        )

    def _resource_allows(
        self,
        statements: list[dict[str, Any]],
        snapshot: RoleSnapshot,
        role_arn: str,
        request: Request,
        resource: str,
    ) -> bool:
        """Whether this resource is allowed to the principal, by its identity policies or by a
        statement of the resource's policy naming the principal itself (an account principal
        grants nothing by itself: `principal_matches`). Its Denies are read before."""
        if evaluate(snapshot.statements, _only(request, resource)).allowed:
            return True
        return any(
            statement.get("Effect") == "Allow"
            and principal_matches(statement.get("Principal"), role_arn)
            and statement_applies(statement, _only(request, resource), resource)
            for statement in statements
        )

    def check(self, call: Call) -> Reply | None:
        role_arn = self.role_of(call.access_key)
        if role_arn is None:
            return None  # not a role: pocctl itself, or a user of the emulator
        for request in requests_for(call, self.account, role_arn):
            if request.action in ALWAYS_ALLOWED:
                continue
            if request.action in BOUNDARY_OF_THE_ROLE and "RoleName" in call.params:
                # IAM judges its own API on the role as it is, not as other services see it.
                target = str(Arn.iam(call.region, self.account, f"role/{call.params['RoleName']}"))
                boundary = self.propagation.read(target).boundary_arn
                if boundary is not None:
                    request.context["iam:PermissionsBoundary"] = boundary
            if request.action in MAPPING_BY_UUID and call.params.get("UUID"):
                # "Event source mappings are always associated with a function. You can also
                # use the lambda:FunctionArn condition to restrict actions by associated
                # function" (Lambda Developer Guide, "Fine-tuning the Resources and Conditions
                # sections of policies"): the mapping's function, whatever the request names.
                function = self.mapping_function(call.region, str(call.params["UUID"]))
                if function is not None:
                    request.context["lambda:FunctionArn"] = function
            reason = self.refusal(role_arn, request)
            if reason is not None:
                return denial(call, self._message(role_arn, request, reason))
            with self._lock:
                self.used.setdefault(role_arn, set()).add(request.action)
        return None

    def _message(self, principal: str, request: Request, reason: str) -> str:
        arn = Arn.parse(principal)
        who = (
            principal
            if arn.resource_type == "user"
            else str(replace(arn, service="sts", resource=f"assumed-role/{arn.name}/pocctl-local"))
        )
        return (
            f"User: {who} is not authorized to perform: {request.action} on resource: "
            f"{request.resource} {reason}"
        )


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
